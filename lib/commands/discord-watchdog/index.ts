import { defineCommand } from 'citty';
import { type CommandContext, discordApi } from '../_context.ts';
import { daemonState, formatDaemonState } from '../../daemons.ts';
import { CrsError } from '../../errors.ts';
import { createLogger } from '../../log.ts';
import { programArgv } from '../../self.ts';
import { acquirePidFile, keepAliveDuty, startInTmux, stopDaemon } from '../../watchdog/daemon.ts';
import { cleanupDuty, discoverDuty, respawnDuty } from '../../watchdog/duties.ts';
import { Scheduler } from '../../watchdog/scheduler.ts';

export const WATCHDOG_TMUX = 'dc-watchdog';
export const SLASH_DAEMON_TMUX = 'dc-slash-daemon';

/** discord-watchdog: the supervision loop (foreground), or `--daemon` / `--stop` / `--status`. */
export function createDiscordWatchdogCommand(ctx: CommandContext) {
  return defineCommand({
    meta: { name: 'discord-watchdog', description: 'Keeps Discord sessions alive: respawns, discovers, cleans up, suspends idle ones' },
    args: {
      daemon: { type: 'boolean', description: `Run the loop in tmux session ${WATCHDOG_TMUX}` },
      stop: { type: 'boolean', description: 'Stop the watchdog and the slash-command daemon' },
      status: { type: 'boolean', description: 'Print RUNNING/STOPPED for the watchdog and the slash-command daemon' },
      foreground: { type: 'boolean', description: 'Run the loop here (the default)' },
      'log-file': { type: 'string', description: 'Also append log lines to this file' },
    },
    subCommands: {
      'install-service': () => import('./install-service.ts').then((m) => m.default(ctx, true)),
      'uninstall-service': () => import('./install-service.ts').then((m) => m.default(ctx, false)),
    },
    async run({ args, rawArgs }) {
      if (rawArgs[0] === 'install-service' || rawArgs[0] === 'uninstall-service') return;
      const { tmux, paths, io } = ctx;
      if (args.status) {
        const live = await tmux.listSessions();
        io.out(`Watchdog: ${formatDaemonState(daemonState(live, WATCHDOG_TMUX, paths.watchdogPidFile))}`);
        io.out(`Slash daemon: ${formatDaemonState(daemonState(live, SLASH_DAEMON_TMUX))}`);
        return;
      }
      if (args.stop) {
        io.out((await stopDaemon(tmux, WATCHDOG_TMUX, paths.watchdogPidFile)) ? 'Watchdog stopped' : 'Watchdog not running');
        if (await stopDaemon(tmux, SLASH_DAEMON_TMUX)) io.out('Slash daemon stopped');
        return;
      }
      if (args.daemon) {
        ctx.manager.requireReady();
        const state = daemonState(await tmux.listSessions(), WATCHDOG_TMUX, paths.watchdogPidFile);
        if (state.running) return io.out(`Watchdog already running (${state.how})`);
        const argv = programArgv('discord-watchdog', ['--foreground', '--log-file', paths.watchdogLog]);
        if (!argv) throw new CrsError('Cannot find the discord-watchdog program to start.', { hint: 'Reinstall, or run it in the foreground.' });
        await startInTmux(tmux, WATCHDOG_TMUX, argv, ctx.env, paths.home);
        io.out(`Watchdog started in tmux session '${WATCHDOG_TMUX}' (log: ${paths.watchdogLog})`);
        io.out(`  Attach: tmux attach -t ${WATCHDOG_TMUX}`);
        return;
      }
      await runLoop(ctx, args['log-file']);
    },
  });
}

/** The foreground loop: fatal start-up problems exit non-zero (so launchd/systemd notice), the rest is retried. */
async function runLoop(ctx: CommandContext, logFile: string | undefined): Promise<void> {
  const { manager, paths } = ctx;
  const log = logFile ? createLogger({ timestamps: true, file: logFile }) : ctx.io.log;
  const config = manager.requireReady();
  const api = () => discordApi(ctx);
  try {
    await api().getGuild(config.guildId!);
  } catch (error) {
    if (error instanceof CrsError && / HTTP 401:/.test(error.message)) throw error;
    log.warn(`Discord is not reachable yet, will retry: ${error instanceof Error ? error.message : error}`);
  }
  const release = acquirePidFile(paths.watchdogPidFile, 'The Discord watchdog');
  const deps = { manager, log, now: () => ctx.clock.now() };
  const scheduler = new Scheduler(
    [
      respawnDuty(deps),
      discoverDuty(deps, api),
      cleanupDuty(deps, api),
      keepAliveDuty({
        name: 'slash daemon',
        tmux: ctx.tmux,
        tmuxName: SLASH_DAEMON_TMUX,
        argv: () => (manager.config().raw.DISCORD_SLASH_DAEMON === 'off' ? null : programArgv('discord-slash-daemon')),
        env: ctx.env,
        cwd: paths.home,
        everyMs: () => manager.config().watchdogIntervalS * 1000,
        onStart: (message) => log.info(message),
      }),
    ],
    { clock: ctx.clock, log },
  );
  const c = manager.config();
  log.info(`Watchdog started (liveness every 0.5 s, discover=${c.discoverIntervalS}s, cleanup=${c.cleanupIntervalS}s, pid=${process.pid})`);
  try {
    await scheduler.run(ctx.signal ?? new AbortController().signal);
  } finally {
    release();
    log.info('Watchdog stopped');
  }
}
