import type { Env } from '../config/paths.ts';

export interface TmuxResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one tmux invocation from an argv array (never a shell string). */
export type TmuxRunner = (args: string[]) => Promise<TmuxResult>;

export interface TmuxRunnerOptions {
  /** `CRS_TMUX_SOCKET`: a private server at this path (`tmux -S`). */
  socket?: string;
  bin?: string;
  env?: Env;
}

/** What one `list-sessions` call says about a session. */
export interface TmuxSessionInfo {
  name: string;
  /** The active pane's process has exited (kept by `remain-on-exit`). */
  dead: boolean;
  /** Last output or input, seconds since the epoch. */
  activity: number;
  created: number;
  panePid: number;
  /** Exit status of a dead pane's process, when tmux knows it. */
  deadStatus: number | null;
  /** When the pane died, seconds since the epoch (tmux ≥ 3.3), else null. */
  deadTime: number | null;
}

export interface NewSessionOptions {
  name: string;
  cwd: string;
  argv: string[];
  env: Record<string, string>;
  /** Keep the pane after its process exits so its last output can be read. */
  remainOnExit?: boolean;
}

const LIST_FORMAT = ['#{session_name}', '#{pane_dead}', '#{session_activity}', '#{window_activity}', '#{session_created}', '#{pane_pid}', '#{pane_dead_status}', '#{pane_dead_time}'].join('\t');

/**
 * tmux reads an argument that ends in `;` as the end of a command, even inside an argv array
 * (`tmux new-session -- claude --name 'x;' kill-server` would run kill-server). A `\;` ending is
 * passed on as a literal `;`, so every argument we hand tmux goes through this.
 */
export function escapeTmuxArg(arg: string): string {
  return arg.endsWith(';') ? `${arg.slice(0, -1)}\\;` : arg;
}

/** Creates the runner: `CRS_TMUX_SOCKET` selects a private server, and `$TMUX` is then dropped. */
export function createTmuxRunner(options: TmuxRunnerOptions = {}): TmuxRunner {
  const bin = options.bin ?? 'tmux';
  const env = { ...(options.env ?? process.env) };
  const prefix = options.socket ? ['-S', options.socket] : [];
  if (options.socket) delete env.TMUX;
  return async (args) => {
    const proc = Bun.spawn([bin, ...prefix, ...args], {
      env: env as Record<string, string>,
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
    });
    const [stdout, stderr, code] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    return { code, stdout, stderr };
  };
}

/** The argv that attaches a terminal to a session (run with inherited stdio by the CLI). */
export function attachArgv(options: TmuxRunnerOptions, name: string, insideTmux: boolean): string[] {
  const prefix = options.socket ? ['-S', options.socket] : [];
  return [options.bin ?? 'tmux', ...prefix, insideTmux ? 'switch-client' : 'attach-session', '-t', `=${name}`];
}

/** `tmux` says this when no server runs: not an error for a listing. */
function isNoServer(stderr: string): boolean {
  return /no server running|error connecting to|No such file or directory|server exited/i.test(stderr);
}

/** Typed tmux operations over a runner. Names are exact (`=name`), arguments escaped. */
export class Tmux {
  constructor(readonly run: TmuxRunner) {}

  private async exec(args: string[]): Promise<TmuxResult> {
    return this.run(args.map(escapeTmuxArg));
  }

  private async must(args: string[], what: string): Promise<TmuxResult> {
    const result = await this.exec(args);
    if (result.code !== 0) throw new Error(`tmux ${what} failed: ${result.stderr.trim() || `exit ${result.code}`}`);
    return result;
  }

  /** Every session of the server from ONE `list-sessions` call; empty when no server runs. */
  async listSessions(): Promise<Map<string, TmuxSessionInfo>> {
    const result = await this.exec(['list-sessions', '-F', LIST_FORMAT]);
    const sessions = new Map<string, TmuxSessionInfo>();
    if (result.code !== 0) {
      if (isNoServer(result.stderr)) return sessions;
      throw new Error(`tmux list-sessions failed: ${result.stderr.trim()}`);
    }
    for (const line of result.stdout.split('\n')) {
      if (!line) continue;
      const [name = '', dead, sActivity, wActivity, created, pid, deadStatus, deadTime] = line.split('\t');
      sessions.set(name, {
        name,
        dead: dead === '1',
        activity: Math.max(Number(sActivity) || 0, Number(wActivity) || 0),
        created: Number(created) || 0,
        panePid: Number(pid) || 0,
        deadStatus: deadStatus ? Number(deadStatus) : null,
        deadTime: deadTime ? Number(deadTime) : null,
      });
    }
    return sessions;
  }

  async hasSession(name: string): Promise<boolean> {
    return (await this.exec(['has-session', '-t', `=${name}`])).code === 0;
  }

  /**
   * Starts a detached session running `argv` directly (tmux execs it; with two or more arguments no
   * shell is involved). `remain-on-exit` is set in the same tmux call, before the server can reap the pane.
   */
  async newSession(options: NewSessionOptions): Promise<void> {
    if (options.argv.length < 2) throw new Error('newSession needs an argv of at least two elements (one would go through sh -c)');
    const envFlags = Object.entries(options.env).flatMap(([key, value]) => ['-e', `${key}=${value}`]);
    // tmux expands formats in -c (`#{...}`, `#(...)`): `##` is a literal `#`.
    const cwd = options.cwd.replace(/#/g, '##');
    const create = ['new-session', '-d', '-s', options.name, '-c', cwd, '-x', '200', '-y', '50', ...envFlags, '--', ...options.argv];
    const keep = options.remainOnExit ? ['set-option', '-w', '-t', `=${options.name}:`, 'remain-on-exit', 'on'] : [];
    // The bare ";" between the two commands is the only argument that is not escaped.
    const args = [...create.map(escapeTmuxArg), ...(keep.length ? [';', ...keep.map(escapeTmuxArg)] : [])];
    const result = await this.run(args);
    if (result.code !== 0) throw new Error(`tmux new-session ${options.name} failed: ${result.stderr.trim() || `exit ${result.code}`}`);
  }

  /** Kills a session; true if it existed. */
  async killSession(name: string): Promise<boolean> {
    return (await this.exec(['kill-session', '-t', `=${name}`])).code === 0;
  }

  /** The pane's text: the visible screen, or the last `lines` of scrollback too. */
  async capturePane(name: string, lines?: number): Promise<string> {
    const range = lines === undefined ? [] : ['-S', String(-Math.abs(lines))];
    return (await this.must(['capture-pane', '-p', '-J', ...range, '-t', `=${name}:`], `capture-pane ${name}`)).stdout;
  }

  /** Types text literally (`-l`), or sends key names (`Enter`, `C-c`) when `literal` is false. */
  async sendKeys(name: string, keys: string[], literal = false): Promise<void> {
    await this.must(['send-keys', '-t', `=${name}:`, ...(literal ? ['-l'] : []), '--', ...keys], `send-keys ${name}`);
  }

  async killServer(): Promise<void> {
    await this.exec(['kill-server']);
  }
}
