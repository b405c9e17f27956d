import { defineCommand } from 'citty';
import type { CommandContext } from '../_context.ts';
import { type DaemonSpec, daemonArgs, handleDaemonFlags } from '../_daemon.ts';
import { createLogger } from '../../core/util/log.ts';
import { TelegramRouter } from '../../platforms/telegram/router.ts';
import { runDaemon } from '../../daemons/daemon.ts';
import { telegramApiUrl } from './index.ts';

export const ROUTER_TMUX = 'tg-router';

export function routerSpec(ctx: CommandContext): DaemonSpec {
  return {
    label: 'Router',
    tmuxName: ROUTER_TMUX,
    pidFile: ctx.paths.routerPidFile,
    program: 'telegram-session-manager',
    foregroundArgs: ['serve'],
    logFile: ctx.paths.routerLog,
  };
}

/** `serve`: the single update poller that routes each chat to its session. */
export default (ctx: CommandContext) =>
  defineCommand({
    meta: { name: 'serve', description: 'Poll the bot (the only poller) and route each chat to its session; --daemon runs it in tmux tg-router' },
    args: { ...daemonArgs },
    async run({ args }) {
      const spec = routerSpec(ctx);
      if (await handleDaemonFlags(ctx, spec, args)) return;
      const log = args['log-file'] ? createLogger({ timestamps: true, file: args['log-file'] }) : ctx.io.log;
      ctx.manager.requireReady();
      const daemon = { name: 'router', what: 'The Telegram router', pidFile: spec.pidFile, sessionsDir: ctx.paths.sessionsDir, log, clock: ctx.clock, manager: ctx.manager } as const;
      await runDaemon(daemon, async () => {
        const router = new TelegramRouter({
          manager: ctx.manager,
          clock: ctx.clock,
          log,
          token: ctx.manager.botToken(),
          apiRoot: telegramApiUrl(ctx),
          signal: ctx.signal ?? new AbortController().signal,
        });
        await router.run();
      }).finally(() => log.info('Router stopped'));
    },
  });
