import type { Condition } from '../core/store/condition.ts';
import { formatConditionNotice } from '../core/sessions/format.ts';
import { discordApiUrl, sharedDiscordApi } from './discord/api.ts';
import type { SessionManager } from '../core/sessions/manager.ts';

/** Posts one message into a session's own chat (Discord channel or thread, Telegram chat). */
export type ChatPoster = (id: string, text: string) => Promise<void>;

/** Tells a session's owner about a new condition (one message in the session's chat). */
export type ConditionNotify = (session: { id: string; name: string; tmux: string }, condition: Condition) => Promise<void>;

/** The Bot API root of `TELEGRAM_API_URL` (default https://api.telegram.org), without a trailing slash. */
export function telegramApiRoot(env: Record<string, string | undefined>): string {
  return (env.TELEGRAM_API_URL || 'https://api.telegram.org').replace(/\/+$/, '');
}

/**
 * A poster for the manager's platform: Discord through the REST client (`DISCORD_API_URL`), Telegram
 * through grammY's `Api` (`TELEGRAM_API_URL`). The token is read on each call, so a new token applies.
 */
export function createChatPoster(manager: SessionManager): ChatPoster {
  const env = manager.deps.env;
  if (manager.platform.key === 'discord') {
    return async (id, text) => {
      await sharedDiscordApi(manager.botToken(), discordApiUrl(env)).sendMessage(id, text);
    };
  }
  return async (id, text) => {
    const { Api } = await import('grammy');
    await new Api(manager.botToken(), { apiRoot: telegramApiRoot(env) }).sendMessage(id, text.slice(0, 4096));
  };
}

/** The watchdog's way of telling: the condition notice, posted in the session's chat. */
export function createConditionNotify(manager: SessionManager): ConditionNotify {
  const post = createChatPoster(manager);
  return (session, condition) => post(session.id, formatConditionNotice(session.name, condition));
}
