import type { ArgsDef } from 'citty';
import type { CommandContext } from './_context.ts';
import { daemonState, formatDaemonState } from '../daemons/state.ts';
import { CrsError } from '../core/util/errors.ts';
import { programArgv } from '../core/util/self.ts';
import { startInTmux, stopDaemon } from '../daemons/daemon.ts';

/** `--daemon`, `--stop`, `--status` (and the default: run here) shared by the daemons. */
export const daemonArgs = {
  daemon: { type: 'boolean', description: 'Run in a detached tmux session' },
  stop: { type: 'boolean', description: 'Stop it' },
  status: { type: 'boolean', description: 'Print RUNNING or STOPPED' },
  foreground: { type: 'boolean', description: 'Run here (the default)' },
  'log-file': { type: 'string', description: 'Also append log lines to this file' },
} as const satisfies ArgsDef;

export interface DaemonSpec {
  label: string;
  tmuxName: string;
  pidFile: string;
  /** Our program and the arguments that run this daemon in the foreground. */
  program: string;
  foregroundArgs: string[];
  logFile: string;
  /** Other daemons `--stop` / `--status` also cover. */
  companions?: Array<{ label: string; tmuxName: string; pidFile?: string }>;
}

/** Handles `--status`, `--stop` and `--daemon`; returns false when the daemon should run in the foreground. */
export async function handleDaemonFlags(ctx: CommandContext, spec: DaemonSpec, args: { daemon?: boolean; stop?: boolean; status?: boolean }): Promise<boolean> {
  const { tmux, io } = ctx;
  if (args.status) {
    const live = await tmux.listSessions();
    io.out(`${spec.label}: ${formatDaemonState(daemonState(live, spec.tmuxName, spec.pidFile))}`);
    for (const c of spec.companions ?? []) io.out(`${c.label}: ${formatDaemonState(daemonState(live, c.tmuxName, c.pidFile))}`);
    return true;
  }
  if (args.stop) {
    io.out((await stopDaemon(tmux, spec.tmuxName, spec.pidFile)) ? `${spec.label} stopped` : `${spec.label} not running`);
    for (const c of spec.companions ?? []) if (await stopDaemon(tmux, c.tmuxName, c.pidFile)) io.out(`${c.label} stopped`);
    return true;
  }
  if (args.daemon) {
    ctx.manager.requireReady();
    const state = daemonState(await tmux.listSessions(), spec.tmuxName, spec.pidFile);
    if (state.running) {
      io.out(`${spec.label} already running (${state.how})`);
      return true;
    }
    const argv = programArgv(spec.program, [...spec.foregroundArgs, '--foreground', '--log-file', spec.logFile]);
    if (!argv) throw new CrsError(`Cannot find the ${spec.program} program to start.`, { hint: 'Reinstall, or run it in the foreground.' });
    await startInTmux(tmux, spec.tmuxName, argv, ctx.env, ctx.paths.home);
    io.out(`${spec.label} started in tmux session '${spec.tmuxName}' (log: ${spec.logFile})`);
    io.out(`  Attach: tmux attach -t ${spec.tmuxName}`);
    return true;
  }
  return false;
}
