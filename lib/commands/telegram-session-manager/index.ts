import { defineCommand } from 'citty';
import type { CommandContext } from '../_context.ts';

/** telegram-session-manager: the session verbs for Telegram chats, the router (`serve`), the bridge and the watchdog. */
export function createTelegramSessionManagerCommand(ctx: CommandContext) {
  return defineCommand({
    meta: { name: 'telegram-session-manager', description: 'Per-chat Claude Code sessions for Telegram, with one router polling the bot' },
    subCommands: {
      init: () => import('../sessions/init.ts').then((m) => m.default(ctx)),
      spawn: () => import('../sessions/spawn.ts').then((m) => m.default(ctx)),
      list: () => import('../sessions/list.ts').then((m) => m.default(ctx)),
      status: () => import('../sessions/status.ts').then((m) => m.default(ctx)),
      attach: () => import('../sessions/attach.ts').then((m) => m.default(ctx)),
      kill: () => import('../sessions/kill.ts').then((m) => m.default(ctx)),
      'kill-all': () => import('../sessions/kill-all.ts').then((m) => m.default(ctx)),
      'respawn-dead': () => import('../sessions/respawn-dead.ts').then((m) => m.default(ctx)),
      'suspend-idle': () => import('../sessions/suspend-idle.ts').then((m) => m.default(ctx)),
      wake: () => import('../sessions/wake.ts').then((m) => m.default(ctx)),
      'wake-all': () => import('../sessions/wake-all.ts').then((m) => m.default(ctx)),
      pin: () => import('../sessions/pin.ts').then((m) => m.default(ctx, true)),
      unpin: () => import('../sessions/pin.ts').then((m) => m.default(ctx, false)),
      motd: () => import('../sessions/motd.ts').then((m) => m.default(ctx)),
      doctor: () =>
        import('../sessions/doctor.ts').then((m) =>
          m.default(ctx, (c) => [
            [
              'Telegram bot',
              async () => {
                const { Api } = await import('grammy');
                const me = await new Api(c.manager.botToken(), { apiRoot: telegramApiUrl(c) }).getMe();
                return `@${me.username} reachable with this token`;
              },
            ],
          ]),
        ),
      serve: () => import('./serve.ts').then((m) => m.default(ctx)),
      bridge: () => import('./bridge.ts').then((m) => m.default(ctx)),
      watchdog: () => import('./watchdog.ts').then((m) => m.default(ctx)),
    },
  });
}

/** `TELEGRAM_API_URL` (default https://api.telegram.org), without a trailing slash. */
export function telegramApiUrl(ctx: { env: CommandContext['env'] }): string {
  return (ctx.env.TELEGRAM_API_URL || 'https://api.telegram.org').replace(/\/+$/, '');
}
