import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readOptionalFile } from '../core/config/config.ts';
import type { Paths } from '../core/config/paths.ts';
import type { Platform } from '../core/config/platform.ts';
import { formatAgo, formatDuration } from '../core/sessions/format.ts';
import { isHolderAlive, isProcessAlive, parseHolder } from '../core/store/lock.ts';
import type { TmuxSessionInfo } from '../core/host/tmux.ts';

export type DaemonState = { running: true; how: string } | { running: false };

/** The daemons of a platform besides the sessions: the watchdog, and the router (Discord: the slash daemon). */
export type DaemonName = 'watchdog' | 'router';

/** Where a daemon is found: its tmux session, pid file and log. */
export interface DaemonRef {
  name: DaemonName;
  label: string;
  tmuxName: string;
  pidFile: string;
  /** What `logs` calls it: `watchdog`, `slash-daemon` (Discord's router) or `router`. */
  logName: string;
  logFile: string;
}

/** What a daemon records about itself in `<sessions dir>/<name>.status.json`. */
export interface DaemonStatus {
  pid: number;
  /** ISO time. */
  startedAt: string;
  /** The last error it logged or stopped on (kept across restarts), or null. */
  lastError: { at: string; text: string } | null;
}

/** A daemon as `status` shows it. */
export interface DaemonView {
  name: DaemonName;
  label: string;
  running: boolean;
  how: string | null;
  /** The pid, start and uptime of the recorded run while its process is alive; else null. */
  pid: number | null;
  startedAt: string | null;
  uptimeSeconds: number | null;
  lastError: DaemonStatus['lastError'];
}

/** The programs a daemon runs as: a pid file naming a process of none of them is left over. */
const OUR_PROGRAMS = ['discord-watchdog', 'discord-slash-daemon', 'telegram-session-manager', 'discord-session-manager'];

/**
 * The pid a daemon's pid file names while that very process runs: the start time recorded beside the
 * pid matches, or (a file without one, from an older version) its command line names one of our
 * programs. A pid reused by an unrelated process is not it.
 */
export function daemonPid(pidFile: string | undefined): number | undefined {
  const holder = parseHolder(pidFile ? readOptionalFile(pidFile) : undefined);
  const alive = isHolderAlive(holder);
  if (alive === false || (alive === undefined && !isOurProgram(holder!.pid))) return undefined;
  return holder!.pid;
}

function isOurProgram(pid: number): boolean {
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return true; // No /proc here: the pid is all there is to go by.
  }
  return OUR_PROGRAMS.some((program) => cmdline.includes(program));
}

/** A daemon runs if its tmux session has a live pane, or the process of its pid file runs. */
export function daemonState(live: Map<string, TmuxSessionInfo>, tmuxName: string, pidFile?: string): DaemonState {
  const info = live.get(tmuxName);
  if (info && !info.dead) return { running: true, how: `tmux: ${tmuxName}` };
  const pid = daemonPid(pidFile);
  if (pid !== undefined) return { running: true, how: `pid: ${pid}` };
  return { running: false };
}

export function formatDaemonState(state: DaemonState): string {
  return state.running ? `RUNNING (${state.how})` : 'STOPPED';
}

/** `<sessions dir>/<name>.status.json`. */
export function daemonStatusFile(sessionsDir: string, name: DaemonName): string {
  return join(sessionsDir, `${name}.status.json`);
}

/** A daemon's status file, or undefined when absent or unreadable. */
export function loadDaemonStatus(file: string): DaemonStatus | undefined {
  try {
    const data = JSON.parse(readOptionalFile(file) ?? 'null') as Partial<DaemonStatus> | null;
    if (!data || typeof data.pid !== 'number' || typeof data.startedAt !== 'string') return undefined;
    const error = data.lastError;
    const lastError = error && typeof error.at === 'string' && typeof error.text === 'string' ? { at: error.at, text: error.text } : null;
    return { pid: data.pid, startedAt: data.startedAt, lastError };
  } catch {
    return undefined;
  }
}

/** The watchdog and the router of a platform (Discord's router is the slash-command daemon). */
export function platformDaemons(platform: Platform, paths: Paths): DaemonRef[] {
  const router: DaemonRef =
    platform.key === 'discord'
      ? { name: 'router', label: 'Slash daemon', tmuxName: 'dc-slash-daemon', pidFile: paths.routerPidFile, logName: 'slash-daemon', logFile: paths.routerLog }
      : { name: 'router', label: 'Router', tmuxName: 'tg-router', pidFile: paths.routerPidFile, logName: 'router', logFile: paths.routerLog };
  const watchdog: DaemonRef = { name: 'watchdog', label: 'Watchdog', tmuxName: `${platform.prefix}-watchdog`, pidFile: paths.watchdogPidFile, logName: 'watchdog', logFile: paths.watchdogLog };
  return [watchdog, router];
}

/** Whether a daemon runs, since when (while the process of its recorded run lives) and its last error. */
export function describeDaemon(live: Map<string, TmuxSessionInfo>, ref: DaemonRef, sessionsDir: string, now: number): DaemonView {
  const state = daemonState(live, ref.tmuxName, ref.pidFile);
  const status = loadDaemonStatus(daemonStatusFile(sessionsDir, ref.name));
  const started = status ? Date.parse(status.startedAt) : NaN;
  const alive = Boolean(status && state.running && isProcessAlive(status.pid) && !Number.isNaN(started));
  return {
    name: ref.name,
    label: ref.label,
    running: state.running,
    how: state.running ? state.how : null,
    pid: alive ? status!.pid : null,
    startedAt: alive ? status!.startedAt : null,
    uptimeSeconds: alive ? Math.max(0, Math.floor((now - started) / 1000)) : null,
    lastError: status?.lastError ?? null,
  };
}

/** `Watchdog: RUNNING (tmux: dc-watchdog)  up 3h  last error 12m ago: polling failed: …` */
export function formatDaemon(view: DaemonView, now: number): string {
  const state = view.running ? `RUNNING (${view.how})` : 'STOPPED';
  const uptime = view.uptimeSeconds === null ? '' : `  up ${formatDuration(view.uptimeSeconds * 1000)}`;
  const error = view.lastError ? `  last error ${formatAgo(view.lastError.at, now)}: ${view.lastError.text.split('\n', 1)[0]!.slice(0, 160)}` : '';
  return `${view.label}: ${state}${uptime}${error}`;
}
