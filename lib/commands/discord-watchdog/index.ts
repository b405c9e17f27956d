import { defineCommand } from 'citty';
import { type CommandContext, discordApi } from '../_context.ts';
import { daemonArgs, handleDaemonFlags } from '../_daemon.ts';
import { CrsError } from '../../core/util/errors.ts';
import { createLogger } from '../../core/util/log.ts';
import { programArgv } from '../../core/util/self.ts';
import { keepAliveDuty, runDaemon } from '../../daemons/daemon.ts';
import { createConditionNotify } from '../../platforms/notify.ts';
import { cleanupDuty, discoverDuty, paneDuty, respawnDuty, suspendDuty } from '../../daemons/duties.ts';
import { Scheduler } from '../../daemons/scheduler.ts';

export const WATCHDOG_TMUX = 'dc-watchdog';
export const SLASH_DAEMON_TMUX = 'dc-slash-daemon';

/** discord-watchdog: the supervision loop (foreground), or `--daemon` / `--stop` / `--status`. */
export function createDiscordWatchdogCommand(ctx: CommandContext) {
  return defineCommand({
    meta: { name: 'discord-watchdog', description: 'Keeps Discord sessions alive: respawns, discovers, cleans up, suspends idle ones' },
    args: { ...daemonArgs },
    subCommands: {
      'install-service': () => import('../_service.ts').then((m) => m.default(ctx, true)),
      'uninstall-service': () => import('../_service.ts').then((m) => m.default(ctx, false)),
    },
    async run({ args, rawArgs }) {
      if (rawArgs[0] === 'install-service' || rawArgs[0] === 'uninstall-service') return;
      const spec = {
        label: 'Watchdog',
        tmuxName: WATCHDOG_TMUX,
        pidFile: ctx.paths.watchdogPidFile,
        program: 'discord-watchdog',
        foregroundArgs: [],
        logFile: ctx.paths.watchdogLog,
        companions: [{ label: 'Slash daemon', tmuxName: SLASH_DAEMON_TMUX, pidFile: ctx.paths.routerPidFile }],
      };
      if (await handleDaemonFlags(ctx, spec, args)) return;
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
  const deps = { manager, log, now: () => ctx.clock.now() };
  const scheduler = new Scheduler(
    [
      respawnDuty(deps),
      paneDuty(deps, createConditionNotify(manager)),
      discoverDuty(deps, api),
      cleanupDuty(deps, api),
      suspendDuty(deps),
      keepAliveDuty({
        name: 'slash daemon',
        tmux: ctx.tmux,
        tmuxName: SLASH_DAEMON_TMUX,
        pidFile: paths.routerPidFile,
        argv: () => (manager.config().raw.DISCORD_SLASH_DAEMON === 'off' ? null : programArgv('discord-slash-daemon', ['--log-file', paths.routerLog])),
        env: ctx.env,
        cwd: paths.home,
        everyMs: () => manager.config().watchdogIntervalS * 1000,
        onStart: (message) => log.info(message),
      }),
    ],
    { clock: ctx.clock, log },
  );
  const daemon = { name: 'watchdog', what: 'The Discord watchdog', pidFile: paths.watchdogPidFile, sessionsDir: paths.sessionsDir, log, clock: ctx.clock, manager } as const;
  await runDaemon(daemon, async () => {
    const c = manager.config();
    log.info(`Watchdog started (liveness every 0.5 s, discover=${c.discoverIntervalS}s, cleanup=${c.cleanupIntervalS}s, pid=${process.pid})`);
    await scheduler.run(ctx.signal ?? new AbortController().signal);
  }).finally(() => log.info('Watchdog stopped'));
}
