/**
 * The real Claude Code CLI for end-to-end tests (TESTING.md, "The real Claude Code, offline").
 *
 * The pinned `@anthropic-ai/claude-code` is installed once into a cache folder outside the project
 * (`$CRS_CLAUDE_CODE_CACHE`, default `~/.cache/claude-remote-sessions/claude-code-<version>`), so the
 * newcomer's `bun install` never downloads its ~235 MB; `.ci/run` installs it before the tests, and
 * a test that finds it missing installs it the same way (`bun scripts/claude-code.ts`).
 *
 * `prepareClaudeConfig` writes a throwaway config dir that starts straight into a session: onboarding
 * done, the fake key approved, the given folders trusted, the bypass warning accepted, the channel
 * feature flags cached (the CLI reads that cache offline), and `settings.json` pointing the CLI at the
 * loopback Messages API. Sessions started by our programs inherit all of it through
 * `CLAUDE_CONFIG_DIR`, so nothing test-only reaches the launch code.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { CLAUDE_CODE_VERSION, claudeCodeBinary, installClaudeCode } from '../../scripts/claude-code.ts';
import { TELEGRAM } from '../../lib/core/config/platform.ts';
import { FakeAnthropic, type FakeAnthropicOptions } from '../fakes/anthropic.ts';
import { FakeTelegram } from '../fakes/telegram.ts';
import { Sandbox, waitFor } from '../helpers.ts';

export { CLAUDE_CODE_VERSION };

/** A fake key in the CLI's format; never a credential. */
export const FAKE_API_KEY = 'sk-ant-api03-loopback-test-key-0000000000000000000000000000';

/** The real `claude` binary, installed into the cache on first use. */
export async function realClaude(): Promise<string> {
  const bin = claudeCodeBinary();
  if (existsSync(bin)) return bin;
  return installClaudeCode();
}

export interface ClaudeConfigOptions {
  /** The loopback Messages API (`FakeAnthropic.url`). */
  apiUrl: string;
  /** Folders whose trust dialog is already answered (subfolders are covered too). */
  trusted?: string[];
  /** Whether the bypass-permissions warning was accepted before (default true). */
  bypassAccepted?: boolean;
  /** Server-side feature flags as the CLI cached them (default: channels and permission relay on). */
  features?: Record<string, unknown>;
  /** Extra `settings.json` keys (hooks, permissions, ...). */
  settings?: Record<string, unknown>;
  /** Extra env for every session of this config dir (through settings.json). */
  env?: Record<string, string>;
  /** Log in as a subscription account (a fake long-lived OAuth token) instead of with an API key. */
  oauth?: boolean;
}

/** A fake long-lived OAuth token in the CLI's format; never a credential. */
export const FAKE_OAUTH_TOKEN = 'sk-ant-oat01-loopback-test-token-00000000000000000000000000000';

/** Writes `<dir>/.claude.json` and `<dir>/settings.json` for a config dir the real CLI starts from without a screen. */
export function prepareClaudeConfig(dir: string, options: ClaudeConfigOptions): void {
  mkdirSync(dir, { recursive: true });
  const projects: Record<string, unknown> = {};
  for (const folder of options.trusted ?? []) projects[folder] = { hasTrustDialogAccepted: true, allowedTools: [] };
  const state = {
    hasCompletedOnboarding: true,
    lastOnboardingVersion: CLAUDE_CODE_VERSION,
    customApiKeyResponses: { approved: [FAKE_API_KEY.slice(-20)], rejected: [] },
    projects,
    cachedGrowthBookFeatures: options.features ?? { tengu_harbor: true, tengu_harbor_permissions: true },
  };
  writeFileSync(join(dir, '.claude.json'), `${JSON.stringify(state, null, 2)}\n`);
  const settings = {
    ...(options.bypassAccepted === false ? {} : { skipDangerousModePermissionPrompt: true }),
    ...options.settings,
    env: { ANTHROPIC_BASE_URL: options.apiUrl, ...(options.oauth ? { CLAUDE_CODE_OAUTH_TOKEN: FAKE_OAUTH_TOKEN } : { ANTHROPIC_API_KEY: FAKE_API_KEY }), DISABLE_AUTOUPDATER: '1', ...options.env },
  };
  writeFileSync(join(dir, 'settings.json'), `${JSON.stringify(settings, null, 2)}\n`);
}

/** Marks one more folder trusted in a prepared config dir. */
export function trustFolder(dir: string, folder: string): void {
  const file = join(dir, '.claude.json');
  const state = JSON.parse(readFileSync(file, 'utf8'));
  state.projects[folder] = { hasTrustDialogAccepted: true, allowedTools: [] };
  writeFileSync(file, `${JSON.stringify(state, null, 2)}\n`);
}

/** Whether this process runs as root (the real CLI then needs IS_SANDBOX=1 for bypass modes). */
export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

const ROOT = join(import.meta.dir, '..', '..');

/** Newest modification time of the sources a build is made from. */
function newestSource(): number {
  let newest = 0;
  for (const folder of ['bin', 'lib', 'launchd']) {
    for (const entry of readdirSync(join(ROOT, folder), { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
    }
  }
  return newest;
}

/**
 * The compiled program `dist/<program>`, built first when dist/ is missing or older than a source
 * file (CI builds before testing; a developer's dist/ may be stale).
 */
export async function distProgram(program: string): Promise<string> {
  const binary = join(ROOT, 'dist', 'claude-remote-sessions');
  const built = statSync(binary, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  if (built < newestSource()) {
    const build = Bun.spawn(['bun', join(ROOT, 'scripts/build.ts')], { cwd: ROOT, stdout: 'ignore', stderr: 'pipe' });
    const [code, err] = await Promise.all([build.exited, new Response(build.stderr).text()]);
    if (code !== 0) throw new Error(`bun scripts/build.ts failed: ${err.trim()}`);
  }
  return join(ROOT, 'dist', program);
}

/**
 * The config.env lines a real-CLI test needs on this machine: as root, the sandbox opt-in (the CLI
 * refuses bypass permissions as root without it), exactly as a user of a container host would set it.
 */
export function rootConfigLines(): string {
  return isRoot() ? 'IS_SANDBOX=1\n' : '';
}

/** Environment for a Sandbox running the real CLI: the real uid for our root check. */
export async function realClaudeEnv(): Promise<Record<string, string>> {
  return { CLAUDE_BIN: await realClaude(), CRS_UID: String(process.getuid?.() ?? 1000) };
}

/** What to look at when a real-CLI test fails: the pane, its last exit, the queue and the program's log. */
export async function diagnose(sb: { tmux: { capturePane(name: string, lines?: number): Promise<string> }; sessionsDir: string }, tmuxName: string, id: string, log: string[]): Promise<string> {
  const pane = await sb.tmux.capturePane(tmuxName, 60).catch((error: Error) => `(no pane: ${error.message})`);
  const read = (file: string) => {
    try {
      return readFileSync(join(sb.sessionsDir, id, file), 'utf8');
    } catch {
      return '(none)';
    }
  };
  const inbox = (() => {
    try {
      return readdirSync(join(sb.sessionsDir, id, 'inbox')).join(', ') || '(empty)';
    } catch {
      return '(none)';
    }
  })();
  return [
    `--- pane ${tmuxName}`,
    pane.split('\n').filter((l) => l.trim()).join('\n'),
    `--- last-exit\n${read('last-exit')}`,
    `--- inbox: ${inbox}`,
    `--- conditions: ${read('.condition-bridge.json')} ${read('.condition-pane.json')}`,
    `--- log\n${log.slice(-30).join('\n')}`,
  ].join('\n');
}

/** A compiled program running in the background, its stderr kept line by line. */
export interface RunningProgram {
  proc: Subprocess<'ignore', 'pipe', 'pipe'>;
  log: string[];
  stop(): Promise<void>;
}

/** Starts `dist/<program> ...args` with a sandbox's environment (built first when stale). */
export async function startProgram(program: string, args: string[], env: Record<string, string | undefined>): Promise<RunningProgram> {
  const proc = Bun.spawn([await distProgram(program), ...args], { env: env as Record<string, string>, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
  const log: string[] = [];
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) log.push(...decoder.decode(chunk).split('\n').filter(Boolean));
  })();
  return {
    proc,
    log,
    async stop() {
      proc.kill('SIGTERM');
      await proc.exited;
    },
  };
}

export interface TelegramWorldOptions {
  owner: number;
  /** More config.env lines (the owner, `$HOME/work` as workdir and the root opt-in are always there). */
  config?: string[];
  anthropic?: FakeAnthropicOptions;
  /** More options for the Claude config dir (`$HOME/work` is always trusted). */
  claude?: Partial<ClaudeConfigOptions>;
  /** Runs before the router starts: more folders, profiles, config dirs. */
  prepare?(world: Pick<TelegramWorld, 'api' | 'sb'>): void;
}

/** The Telegram stack with the real Claude Code: the loopback API, a Bot API fake, a sandbox and the compiled router. */
export interface TelegramWorld {
  api: FakeAnthropic;
  tg: FakeTelegram;
  sb: Sandbox;
  serve: RunningProgram;
  /** Starts one more compiled program in the world (a watchdog); stopped with it. */
  start(program: string, args: string[]): Promise<RunningProgram>;
  stop(): Promise<void>;
}

export async function startTelegramWorld(options: TelegramWorldOptions): Promise<TelegramWorld> {
  const api = await FakeAnthropic.start(options.anthropic);
  const tg = new FakeTelegram().start();
  const sb = new Sandbox({
    platform: TELEGRAM,
    token: tg.token,
    env: { TELEGRAM_API_URL: tg.url, ...(await realClaudeEnv()) },
    config: [`TELEGRAM_ALLOWED_USER_ID="${options.owner}"`, 'TELEGRAM_SESSION_WORKDIR="$HOME/work"', ...(options.config ?? []), rootConfigLines()].join('\n'),
  });
  const programs: RunningProgram[] = [];
  const stop = async () => {
    for (const program of programs.reverse()) await program.stop();
    await sb.cleanup();
    api.stop();
    await tg.stop();
  };
  try {
    prepareClaudeConfig(sb.root, { ...options.claude, apiUrl: api.url, trusted: [join(sb.home, 'work'), ...(options.claude?.trusted ?? [])] });
    options.prepare?.({ api, sb });
    const start = async (program: string, args: string[]) => {
      const running = await startProgram(program, args, sb.env);
      programs.push(running);
      return running;
    };
    const serve = await start('telegram-session-manager', ['serve']);
    await waitFor(() => tg.polling, 30_000, 'the router polling');
    return { api, tg, sb, serve, start, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
