import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createConsola } from 'consola';
import type { CliIO } from '../lib/commands/cli.ts';
import type { CommandContext } from '../lib/commands/_context.ts';
import { createDiscordSessionManagerCommand } from '../lib/commands/discord-session-manager/index.ts';
import { createTelegramSessionManagerCommand } from '../lib/commands/telegram-session-manager/index.ts';
import { createAppContext } from '../lib/app.ts';
import type { Env } from '../lib/core/config/paths.ts';
import { DISCORD, type Platform } from '../lib/core/config/platform.ts';
import { runCli } from '../lib/commands/program.ts';
import { Tmux, createTmuxRunner } from '../lib/core/host/tmux.ts';
import { pollUntil } from '../lib/core/util/poll.ts';

export const ROOT = resolve(import.meta.dir, '..');
export const FAKE_CLAUDE = join(ROOT, 'test/fakes/claude');
export const OWNER_ID = '1000000000000000001';

/** One run of the stand-in claude, as it recorded itself. */
export interface ClaudeRun {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  file: string;
}

export interface RunResult {
  code: number;
  out: string;
  err: string;
}

export interface SandboxOptions {
  platform?: Platform;
  /** Lines of config.env; default: owner, guild, workdir. */
  config?: string;
  token?: string | null;
  guildId?: string;
  env?: Env;
}

/**
 * A private world for one test file: temp HOME and CLAUDE_CONFIG_DIR, a private tmux socket, the
 * stand-in claude. `cleanup()` kills the tmux server and removes everything.
 */
export class Sandbox {
  readonly dir: string;
  readonly env: Env;
  readonly platform: Platform;
  readonly tmux: Tmux;

  constructor(options: SandboxOptions = {}) {
    this.platform = options.platform ?? DISCORD;
    this.dir = mkdtempSync(join(tmpdir(), 'crs-'));
    const home = join(this.dir, 'home');
    mkdirSync(join(home, 'work'), { recursive: true });
    this.env = {
      PATH: process.env.PATH,
      LANG: 'C.UTF-8',
      HOME: home,
      CLAUDE_CONFIG_DIR: join(this.dir, 'claude'),
      CRS_TMUX_SOCKET: join(this.dir, 'tmux.sock'),
      CLAUDE_BIN: FAKE_CLAUDE,
      TMUX_TMPDIR: this.dir,
      // Tests see a normal user whoever runs them (CI runs as root); a root test sets CRS_UID=0.
      CRS_UID: '1000',
      ...options.env,
    };
    this.tmux = new Tmux(createTmuxRunner({ socket: this.env.CRS_TMUX_SOCKET, env: this.env }));
    const P = this.platform.configPrefix;
    const guild = options.guildId ?? '1100000000000000001';
    const config =
      options.config ??
      [`${P}_ALLOWED_USER_ID="${OWNER_ID}"`, this.platform.key === 'discord' ? `DISCORD_GUILD_ID="${guild}"` : '', `${P}_SESSION_WORKDIR="$HOME/work"`].join('\n');
    this.write(`${this.platform.sessionsDirName}/config.env`, `${config}\n`);
    if (options.token !== null) this.write(`channels/${this.platform.key}/.env`, `${this.platform.tokenVar}=${options.token ?? 'fake-bot-token-0123456789abcdef'}\n`, 0o600);
  }

  get home(): string {
    return this.env.HOME!;
  }

  get root(): string {
    return this.env.CLAUDE_CONFIG_DIR!;
  }

  get sessionsDir(): string {
    return join(this.root, this.platform.sessionsDirName);
  }

  /** Writes a file under CLAUDE_CONFIG_DIR. */
  write(relative: string, content: string, mode = 0o644): string {
    const path = join(this.root, relative);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content, { mode });
    return path;
  }

  read(relative: string): string {
    return readFileSync(join(this.root, relative), 'utf8');
  }

  registry(): Record<string, Record<string, unknown>> {
    return JSON.parse(this.read(`${this.platform.sessionsDirName}/sessions.json`));
  }

  /** A command context on this sandbox whose output is captured. */
  context(): { ctx: CommandContext; out: string[]; err: string[] } {
    const out: string[] = [];
    const err: string[] = [];
    const log = createConsola({
      level: 4,
      reporters: [{ log: (entry) => err.push(`[${entry.type}] ${entry.args.map(String).join(' ')}`) }],
    });
    const io: CliIO = { out: (text) => out.push(text), log };
    const ctx: CommandContext = {
      ...createAppContext(this.platform, this.env),
      io,
      interactive: false,
      prompt: async () => null,
      readStdin: async () => null,
      runInteractive: async () => 0,
      // A host whose login service would work: tests of doctor and install-service do not depend on the machine's systemd.
      serviceHost: { kind: 'systemd', uid: 1000, user: 'tester', userBus: 'unix:path=/run/user/1000/bus', linger: true },
    };
    return { ctx, out, err };
  }

  /** Runs the platform's session manager (discord- or telegram-session-manager) in-process with raw args. */
  async run(...args: string[]): Promise<RunResult> {
    const { ctx, out, err } = this.context();
    const command = this.platform.key === 'telegram' ? createTelegramSessionManagerCommand(ctx) : createDiscordSessionManagerCommand(ctx);
    const code = await runCli(command, args, ctx.io);
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  /** Runs a program from bin/ as a separate process. */
  async runBin(program: string, args: string[], extraEnv: Env = {}): Promise<RunResult> {
    const proc = Bun.spawn(['bun', join(ROOT, 'bin', `${program}.ts`), ...args], {
      env: { ...this.env, ...extraEnv } as Record<string, string>,
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
    });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { code, out, err };
  }

  /** Every start of the stand-in claude so far, oldest first. */
  claudeRuns(): ClaudeRun[] {
    const dir = join(this.root, 'fake-claude');
    let files: string[];
    try {
      files = readdirSync(dir).filter((f) => f.endsWith('.argv')).sort();
    } catch {
      return [];
    }
    return files.map((f) => {
      const base = join(dir, f.slice(0, -'.argv'.length));
      const split = (file: string) => readFileSync(file, 'utf8').split('\0').filter(Boolean);
      let env: Record<string, string> = {};
      try {
        env = Object.fromEntries(split(`${base}.env`).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
      } catch {}
      let cwd = '';
      try {
        cwd = readFileSync(`${base}.cwd`, 'utf8').trim();
      } catch {}
      return { argv: split(`${base}.argv`), cwd, env, file: base };
    });
  }

  /**
   * Waits until `count` runs of the stand-in have fully recorded themselves (argv, env, then cwd) and
   * returns the complete ones. A run killed before it finished recording is left out.
   */
  async waitForRuns(count: number, timeoutMs = 10_000): Promise<ClaudeRun[]> {
    const complete = () => this.claudeRuns().filter((r) => r.cwd !== '');
    await waitFor(() => complete().length >= count, timeoutMs, `${count} claude run(s)`);
    return complete();
  }

  /** Polls capture-pane until `pattern` shows (TESTING.md). */
  async waitForPane(name: string, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    let text = '';
    await waitFor(async () => {
      const result = await this.tmux.run(['capture-pane', '-p', '-J', '-S', '-', '-t', `=${name}:`]);
      text = result.stdout;
      return pattern.test(text);
    }, timeoutMs, `${pattern} in ${name}`);
    return text;
  }

  async cleanup(): Promise<void> {
    await this.tmux.killServer();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Polls `check` (every 25 ms unless told) until it is true; throws once the deadline passes. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition', intervalMs = 25): Promise<void> {
  if (!(await pollUntil(check, { timeoutMs, intervalMs }))) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** The value after `flag` in an argv. */
export function flagValue(argv: string[], flag: string): string | undefined {
  const index = argv.indexOf(flag);
  return index >= 0 ? argv[index + 1] : undefined;
}

/**
 * The conversation id a start resumes: `--resume` takes the transcript's absolute path (so a changed
 * workdir still finds it); anything else (a bare id) is returned as is, so a test expecting an id fails.
 */
export function resumedId(argv: string[]): string | undefined {
  const value = flagValue(argv, '--resume');
  const match = value === undefined ? null : /^\/.+\/projects\/[^/]+\/([0-9a-f-]{36})\.jsonl$/.exec(value);
  return match ? match[1] : value;
}
