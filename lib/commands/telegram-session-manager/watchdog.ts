import { defineCommand } from 'citty';
import type { CommandContext } from '../_context.ts';
import { daemonArgs, handleDaemonFlags } from '../_daemon.ts';
import { createLogger } from '../../core/util/log.ts';
import { programArgv } from '../../core/util/self.ts';
import { keepAliveDuty, runDaemon } from '../../daemons/daemon.ts';
import { createConditionNotify } from '../../platforms/notify.ts';
import { paneDuty, respawnDuty, suspendDuty } from '../../daemons/duties.ts';
import { Scheduler } from '../../daemons/scheduler.ts';
import { ROUTER_TMUX, routerSpec } from './serve.ts';

/** `watchdog`: respawns dead chat sessions, suspends idle ones and keeps the router alive. */
export default (ctx: CommandContext) =>
  defineCommand({
    meta: { name: 'watchdog', description: 'Keep Telegram sessions and the router alive; --daemon runs it in tmux tg-watchdog' },
    args: { ...daemonArgs },
    async run({ args }) {
      const { manager, paths } = ctx;
      const router = routerSpec(ctx);
      const spec = {
        label: 'Watchdog',
        tmuxName: 'tg-watchdog',
        pidFile: paths.watchdogPidFile,
        program: 'telegram-session-manager',
        foregroundArgs: ['watchdog'],
        logFile: paths.watchdogLog,
        companions: [{ label: router.label, tmuxName: ROUTER_TMUX, pidFile: router.pidFile }],
      };
      if (await handleDaemonFlags(ctx, spec, args)) return;
      const log = args['log-file'] ? createLogger({ timestamps: true, file: args['log-file'] }) : ctx.io.log;
      manager.requireReady();
      const deps = { manager, log, now: () => ctx.clock.now() };
      const scheduler = new Scheduler(
        [
          respawnDuty(deps),
          paneDuty(deps, createConditionNotify(manager)),
          suspendDuty(deps),
          keepAliveDuty({
            name: 'router',
            tmux: ctx.tmux,
            tmuxName: ROUTER_TMUX,
            pidFile: router.pidFile,
            argv: () => (manager.config().raw.TELEGRAM_ROUTER === 'off' ? null : programArgv('telegram-session-manager', ['serve', '--foreground', '--log-file', router.logFile])),
            env: ctx.env,
            cwd: paths.home,
            everyMs: () => Math.min(5000, manager.config().watchdogIntervalS * 1000),
            onStart: (message) => log.info(message),
          }),
        ],
        { clock: ctx.clock, log },
      );
      const daemon = { name: 'watchdog', what: 'The Telegram watchdog', pidFile: spec.pidFile, sessionsDir: paths.sessionsDir, log, clock: ctx.clock, manager } as const;
      await runDaemon(daemon, async () => {
        log.info(`Telegram watchdog started (pid ${process.pid})`);
        await scheduler.run(ctx.signal ?? new AbortController().signal);
      }).finally(() => log.info('Telegram watchdog stopped'));
    },
  });
