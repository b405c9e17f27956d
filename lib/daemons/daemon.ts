import { rmSync } from 'node:fs';
import type { ConsolaInstance, ConsolaReporter } from 'consola';
import { readOptionalFile } from '../core/config/config.ts';
import { CrsError, formatError } from '../core/util/errors.ts';
import { ensurePrivateDir, writeFileAtomic } from '../core/store/fs-atomic.ts';
import { formatHolder, isProcessAlive, parseHolder } from '../core/store/lock.ts';
import { formatLogLine } from '../core/util/log.ts';
import type { Clock } from '../core/util/clock.ts';
import { pollUntil } from '../core/util/poll.ts';
import type { Env } from '../core/config/paths.ts';
import { NETWORK_ENV } from '../core/host/launch.ts';
import type { Tmux } from '../core/host/tmux.ts';
import type { SessionManager } from '../core/sessions/manager.ts';
import type { Duty } from './scheduler.ts';
import { type DaemonName, type DaemonStatus, daemonPid, daemonStatusFile, loadDaemonStatus } from './state.ts';

/** The most of an error's text a status file keeps. */
const STATUS_ERROR_CHARS = 2000;

/** Variables a daemon started in tmux is given explicitly (a tmux session has the server's env, not ours). */
export const DAEMON_ENV = ['PATH', 'HOME', 'USER', 'LANG', 'LC_ALL', 'CLAUDE_CONFIG_DIR', 'CLAUDE_BIN', 'CRS_TMUX_SOCKET', 'DISCORD_API_URL', 'TELEGRAM_API_URL', 'CRS_DEBUG', 'CRS_UID', ...NETWORK_ENV] as const;

export function daemonEnv(env: Env): Record<string, string> {
  const result: Record<string, string> = {};
  for (const key of DAEMON_ENV) if (env[key]) result[key] = env[key]!;
  return result;
}

/**
 * Claims the pid file for this process (its pid and start time); refuses when the daemon it names
 * still runs. A file left by a dead daemon, or naming a pid now reused by another process, is taken
 * over. Returns the release.
 */
export function acquirePidFile(file: string, what: string): () => void {
  const holder = daemonPid(file);
  if (holder !== undefined && holder !== process.pid) {
    throw new CrsError(`${what} is already running (pid ${holder}).`, { hint: 'Stop it first, or use --status.' });
  }
  writeFileAtomic(file, formatHolder());
  return () => {
    if (parseHolder(readOptionalFile(file))?.pid === process.pid) rmSync(file, { force: true });
  };
}

export interface DaemonRunOptions {
  name: DaemonName;
  /** Named when another process holds the pid file: "The Telegram router". */
  what: string;
  pidFile: string;
  sessionsDir: string;
  /** The daemon's logger: its error lines are recorded. */
  log: ConsolaInstance;
  clock: Pick<Clock, 'now'>;
  /** Its config.env problems are logged, one line each (the settings in use stay). */
  manager?: Pick<SessionManager, 'onConfigProblem' | 'paths'>;
}

/**
 * Runs a daemon's loop as the holder of its pid file, and keeps `<sessions dir>/<name>.status.json`
 * (`status` shows it): its pid and start, and the last error it logged or stopped on, kept across
 * restarts. Every daemon runs through here; a status file that cannot be written is not an error.
 */
export async function runDaemon(options: DaemonRunOptions, loop: () => Promise<void>): Promise<void> {
  // Its log, status and pid files live there: an older install's folder is made owner-only too.
  ensurePrivateDir(options.sessionsDir);
  const release = acquirePidFile(options.pidFile, options.what);
  const file = daemonStatusFile(options.sessionsDir, options.name);
  const iso = () => new Date(options.clock.now()).toISOString();
  const status: DaemonStatus = { pid: process.pid, startedAt: iso(), lastError: loadDaemonStatus(file)?.lastError ?? null };
  const save = () => {
    try {
      writeFileAtomic(file, `${JSON.stringify(status)}\n`);
    } catch {}
  };
  const recordError = (text: string) => {
    status.lastError = { at: iso(), text: text.slice(0, STATUS_ERROR_CHARS) };
    save();
  };
  const recorder: ConsolaReporter = {
    log(entry) {
      if (entry.type === 'error' || entry.type === 'fatal') recordError(formatLogLine({ ...entry, type: 'log' }, false));
    },
  };
  save();
  options.log.addReporter(recorder);
  const manager = options.manager;
  if (manager) {
    manager.onConfigProblem = (error) => {
      if (error === undefined) options.log.info(`${manager.paths.configFile} loaded again: its new settings are in use`);
      else options.log.error(`${manager.paths.configFile} changed but does not load, so the previous settings stay in use: ${formatError(error)}`);
    };
  }
  try {
    await loop();
  } catch (error) {
    recordError(formatError(error));
    throw error;
  } finally {
    if (manager) manager.onConfigProblem = undefined;
    options.log.removeReporter(recorder);
    release();
  }
}

/** Starts `argv` in a detached tmux session unless it already runs there; false if it was running. */
export async function startInTmux(tmux: Tmux, name: string, argv: string[], env: Env, cwd: string): Promise<boolean> {
  const live = await tmux.listSessions();
  const info = live.get(name);
  if (info && !info.dead) return false;
  if (info) await tmux.killSession(name);
  await tmux.newSession({ name, cwd, argv, env: daemonEnv(env), remainOnExit: true });
  return true;
}

/**
 * Stops a daemon: its tmux session and the pid in its pid file (SIGTERM), then waits up to 5 s for
 * that process to exit, so a following `--status` is accurate. True if something was stopped.
 */
export async function stopDaemon(tmux: Tmux, name: string, pidFile?: string): Promise<boolean> {
  // Only the daemon itself is signalled, never a process that took over its pid.
  const pid = daemonPid(pidFile) ?? NaN;
  let stopped = await tmux.killSession(name);
  if (isProcessAlive(pid)) {
    try {
      process.kill(pid, 'SIGTERM');
      stopped = true;
    } catch {}
    await pollUntil(() => !isProcessAlive(pid), { timeoutMs: 5000, intervalMs: 50 });
  }
  return stopped;
}

/**
 * Keeps a helper daemon (the slash-command daemon, the Telegram router) alive in its tmux session,
 * unless the holder of its pid file runs elsewhere (in the foreground, under systemd).
 */
export function keepAliveDuty(options: {
  name: string;
  tmux: Tmux;
  tmuxName: string;
  pidFile: string;
  argv: () => string[] | null;
  env: Env;
  cwd: string;
  everyMs: () => number;
  onStart: (message: string) => void;
}): Duty {
  return {
    name: options.name,
    everyMs: options.everyMs,
    async run() {
      const argv = options.argv();
      if (!argv || daemonPid(options.pidFile) !== undefined) return;
      if (await startInTmux(options.tmux, options.tmuxName, argv, options.env, options.cwd)) {
        options.onStart(`${options.name} was not running: started in tmux session ${options.tmuxName}`);
      }
    },
  };
}
