import type { ArgsDef } from 'citty';
import type { CommandContext } from './_context.ts';
import { daemonState, formatDaemonState } from '../daemons/state.ts';
import { readOptionalFile } from '../core/config/config.ts';
import { isProcessAlive } from '../core/store/lock.ts';
import { CrsError } from '../core/util/errors.ts';
import { programArgv } from '../core/util/self.ts';
import { startInTmux, stopDaemon } from '../daemons/daemon.ts';

/** How long `--daemon` waits for the daemon to hold its pid file (a first Discord call may take 15 s). */
const START_WAIT_MS = 20_000;
/** How long it must then stay up to count as started (a bad token fails right after the pid file). */
const START_SETTLE_MS = 1000;
const START_POLL_MS = 100;
/** Lines of a daemon's output shown when it exited at once. */
const EXIT_LINES = 10;

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
    const earlierPid = readOptionalFile(spec.pidFile)?.trim();
    await startInTmux(tmux, spec.tmuxName, argv, ctx.env, ctx.paths.home);
    const outcome = await waitForStart(ctx, spec, earlierPid);
    if (outcome === 'exited') {
      const text = await tmux.capturePane(spec.tmuxName, 200).catch(() => '');
      const lines = text.split('\n').filter((line) => line.trim() && !/^Pane is dead/.test(line)).slice(-EXIT_LINES);
      for (const line of lines) io.log.log(`  ${line}`);
      throw new CrsError(`${spec.label} exited right after it started${lines.length ? ' (its last lines are above)' : ''}.`, {
        hint: `Fix what it says, then start it again; its log is ${spec.logFile}.`,
      });
    }
    io.out(`${spec.label} started in tmux session '${spec.tmuxName}' (log: ${spec.logFile})`);
    if (outcome === 'unconfirmed') io.log.warn(`${spec.label} runs but has not written ${spec.pidFile} after ${START_WAIT_MS / 1000} s: see its log.`);
    io.out(`  Attach: tmux attach -t ${spec.tmuxName}`);
    return true;
  }
  return false;
}

/**
 * Waits until a daemon just started in tmux holds its pid file and is still up a moment later
 * (`running`), or its pane died (`exited`); `unconfirmed` when it runs without a pid file past the wait.
 */
async function waitForStart(ctx: CommandContext, spec: DaemonSpec, earlierPid: string | undefined): Promise<'running' | 'exited' | 'unconfirmed'> {
  const start = ctx.clock.now();
  let heldSince: number | undefined;
  for (;;) {
    const pane = (await ctx.tmux.listSessions()).get(spec.tmuxName);
    if (!pane || pane.dead) return 'exited';
    const pid = readOptionalFile(spec.pidFile)?.trim();
    if (heldSince === undefined && pid && pid !== earlierPid && isProcessAlive(Number(pid))) heldSince = ctx.clock.now();
    if (heldSince !== undefined && ctx.clock.now() - heldSince >= START_SETTLE_MS) return 'running';
    if (heldSince === undefined && ctx.clock.now() - start >= START_WAIT_MS) return 'unconfirmed';
    await ctx.clock.sleep(START_POLL_MS);
  }
}
