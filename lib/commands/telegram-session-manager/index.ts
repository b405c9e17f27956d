import { defineCommand } from 'citty';
import type { CommandContext } from '../_context.ts';
import { sessionVerbs } from '../sessions/index.ts';

/** telegram-session-manager: the session verbs for Telegram chats, the router (`serve`), the bridge and the watchdog. */
export function createTelegramSessionManagerCommand(ctx: CommandContext) {
  return defineCommand({
    meta: { name: 'telegram-session-manager', description: 'Per-chat Claude Code sessions for Telegram, with one router polling the bot' },
    subCommands: {
      ...sessionVerbs(ctx, async (id) => {
        const { BotApi } = await import('../../platforms/telegram/bot-api.ts');
        const chat = await new BotApi({ token: ctx.manager.botToken(), apiRoot: telegramApiUrl(ctx) }).call<{ title?: string; username?: string; first_name?: string }>('getChat', { chat_id: id });
        return chat.title ?? chat.username ?? chat.first_name ?? id;
      }),
      doctor: () =>
        import('../sessions/doctor.ts').then((m) =>
          m.default(ctx, (c) => [
            [
              'Telegram bot',
              async () => {
                const { BotApi } = await import('../../platforms/telegram/bot-api.ts');
                const me = await new BotApi({ token: c.manager.botToken(), apiRoot: telegramApiUrl(c) }).call<{ username?: string }>('getMe', {});
                return `@${me.username} reachable with this token`;
              },
            ],
          ]),
        ),
      'install-service': () => import('../_service.ts').then((m) => m.default(ctx, true)),
      'uninstall-service': () => import('../_service.ts').then((m) => m.default(ctx, false)),
      serve: () => import('./serve.ts').then((m) => m.default(ctx)),
      bridge: () =>
        Promise.all([import('../sessions/bridge.ts'), import('../../platforms/telegram/tools.ts')]).then(([m, t]) =>
          m.default(ctx, (id) =>
            t.createTelegramTools({
              chatId: id,
              stateDir: ctx.manager.stateDir(id),
              token: ctx.manager.botToken(),
              apiRoot: telegramApiUrl(ctx),
              configDirs: ctx.manager.claudeConfigDirs({}).all,
              home: ctx.paths.home,
            }),
          ),
        ),
      watchdog: () => import('./watchdog.ts').then((m) => m.default(ctx)),
    },
  });
}

/** `TELEGRAM_API_URL` (default https://api.telegram.org), without a trailing slash. */
export function telegramApiUrl(ctx: { env: CommandContext['env'] }): string {
  return (ctx.env.TELEGRAM_API_URL || 'https://api.telegram.org').replace(/\/+$/, '');
}
