import { readOptionalFile } from '../core/config/config.ts';
import { isProcessAlive } from '../core/store/lock.ts';
import type { TmuxSessionInfo } from '../core/host/tmux.ts';

export type DaemonState = { running: true; how: string } | { running: false };

/** A daemon runs if its tmux session has a live pane, or the pid in its pid file is alive. */
export function daemonState(live: Map<string, TmuxSessionInfo>, tmuxName: string, pidFile?: string): DaemonState {
  const info = live.get(tmuxName);
  if (info && !info.dead) return { running: true, how: `tmux: ${tmuxName}` };
  const pid = Number(pidFile ? readOptionalFile(pidFile)?.trim() : NaN);
  if (isProcessAlive(pid)) return { running: true, how: `pid: ${pid}` };
  return { running: false };
}

export function formatDaemonState(state: DaemonState): string {
  return state.running ? `RUNNING (${state.how})` : 'STOPPED';
}
