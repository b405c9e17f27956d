import type { ConsolaInstance } from 'consola';
import { Bot, BotError, type Context, GrammyError } from 'grammy';
import type { Message, Update } from 'grammy/types';
import { type Authorize, createAuthorizer } from '../../core/control/authorize.ts';
import { CHAT_COMMANDS, isChatCommand, runChatCommand } from '../../core/control/commands.ts';
import type { SessionManager } from '../../core/sessions/manager.ts';
import type { Clock } from '../../core/util/clock.ts';
import { CrsError, formatError } from '../../core/util/errors.ts';
import { Router } from '../../router/router.ts';

const POLL_TIMEOUT_S = 30;
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 60_000;
/** Telegram's message length limit. */
const TEXT_LIMIT = 4096;

export interface TelegramRouterOptions {
  manager: SessionManager;
  clock: Clock;
  log: ConsolaInstance;
  token: string;
  apiRoot: string;
  signal: AbortSignal;
}

/** An update that could not be queued (a full disk, a config that does not parse): it must not be confirmed. */
export class NotQueuedError extends CrsError {}

/** The notification a message becomes: its text (or caption) and the official plugin's meta fields. */
export function toChannelMessage(message: Message): { content: string; meta: Record<string, string> } {
  const from = message.from;
  const meta: Record<string, string> = {
    chat_id: String(message.chat.id),
    message_id: String(message.message_id),
    user: from?.username ?? [from?.first_name, from?.last_name].filter(Boolean).join(' ') ?? 'unknown',
    user_id: String(from?.id ?? ''),
    ts: new Date(message.date * 1000).toISOString(),
  };
  const document = message.document;
  const photo = message.photo?.at(-1);
  const voice = message.voice ?? message.audio;
  if (document) Object.assign(meta, { attachment_kind: 'document', attachment_file_id: document.file_id, attachment_name: document.file_name ?? 'file' });
  else if (photo) Object.assign(meta, { attachment_kind: 'photo', attachment_file_id: photo.file_id });
  else if (voice) Object.assign(meta, { attachment_kind: 'audio', attachment_file_id: voice.file_id });
  if (message.reply_to_message) meta.reply_to = String(message.reply_to_message.message_id);
  return { content: message.text ?? message.caption ?? (meta.attachment_kind ? `(${meta.attachment_kind})` : ''), meta };
}

/**
 * Telegram on the core router: the single update consumer of the bot. An owner's message is queued in
 * its chat's inbox, and only then is its update confirmed to Telegram: updates are fetched with our own
 * loop, and the offset moves past an update only once it was handled, so an update that could not be
 * queued is fetched again, and one queued just before a crash is refused as a duplicate when it comes
 * back. Owner commands are the core's chat commands; everyone else reaches nothing and is logged.
 */
export class TelegramRouter {
  readonly bot: Bot;
  readonly router: Router;
  private readonly authorize: Authorize;

  constructor(private readonly options: TelegramRouterOptions) {
    const { manager, log } = options;
    this.bot = new Bot(options.token, { client: { apiRoot: options.apiRoot } });
    this.authorize = createAuthorizer(manager, log);
    this.router = new Router({
      manager,
      clock: options.clock,
      log,
      signal: options.signal,
      adapter: {
        notify: async (chat, text) => void (await this.bot.api.sendMessage(chat, text.slice(0, TEXT_LIMIT))),
        typing: async (chat) => void (await this.bot.api.sendChatAction(chat, 'typing')),
        spawn: (chat) => manager.spawn(chat, { name: this.titles.get(chat), type: 'chat' }),
      },
    });
    this.bot.command(
      CHAT_COMMANDS.map((c) => c.name),
      (ctx) => this.onCommand(ctx),
    );
    this.bot.on('message', (ctx) => this.onMessage(ctx));
  }

  /** Chat titles seen in messages, for naming a new chat's session. */
  private readonly titles = new Map<string, string>();

  /** Serves until the signal aborts: the bridge socket, then long polling (retried with backoff). */
  async run(): Promise<void> {
    const { log, signal } = this.options;
    try {
      await this.bot.init();
    } catch (error) {
      if (error instanceof GrammyError && error.error_code === 401) {
        throw new CrsError(`Telegram rejected the bot token: ${error.description}.`, { hint: 'Check TELEGRAM_BOT_TOKEN in ~/.claude/channels/telegram/.env.' });
      }
      throw error;
    }
    this.router.start();
    try {
      await this.bot.api
        .setMyCommands(CHAT_COMMANDS.map((c) => ({ command: c.name, description: c.description })))
        .catch((error) => log.warn(`setMyCommands failed: ${formatError(error)}`));
      log.info(`Router polling as @${this.bot.botInfo.username} (pid ${process.pid})`);
      await this.poll(signal);
    } finally {
      this.router.close();
    }
  }

  /**
   * getUpdates in a loop. The offset sent confirms every update below it, so it only moves past an
   * update once that update was handled; a stop (or a crash) confirms nothing more.
   */
  private async poll(signal: AbortSignal): Promise<void> {
    const { log, clock } = this.options;
    let offset: number | undefined;
    let delay = RETRY_MIN_MS;
    while (!signal.aborted) {
      let updates: Update[];
      try {
        updates = await this.bot.api.getUpdates({ offset, timeout: POLL_TIMEOUT_S, allowed_updates: ['message'] }, signal as never);
        delay = RETRY_MIN_MS;
      } catch (error) {
        if (signal.aborted) break;
        if (error instanceof GrammyError && error.error_code === 401) throw new CrsError(`Telegram rejected the bot token: ${error.description}.`, { hint: 'Check TELEGRAM_BOT_TOKEN in ~/.claude/channels/telegram/.env.' });
        const conflict = error instanceof GrammyError && error.error_code === 409;
        log.error(`polling failed: ${formatError(error)}${conflict ? ' (another program polls this bot token: stop it, only the router may)' : ''}; retrying in ${delay / 1000} s`);
        await clock.sleep(delay, signal);
        delay = Math.min(delay * 2, RETRY_MAX_MS);
        continue;
      }
      for (const update of updates) {
        if (signal.aborted) break;
        try {
          await this.bot.handleUpdate(update);
        } catch (error) {
          const cause = error instanceof BotError ? error.error : error;
          if (cause instanceof NotQueuedError) {
            log.error(`update ${update.update_id} not confirmed, fetched again in ${delay / 1000} s: ${formatError(cause)}`);
            await clock.sleep(delay, signal);
            delay = Math.min(delay * 2, RETRY_MAX_MS);
            break;
          }
          log.error(`update ${update.update_id} failed: ${formatError(cause)}`);
        }
        offset = update.update_id + 1;
      }
    }
  }

  /** Queues an owner's message for its chat's session; throws NotQueuedError when it cannot. */
  private onMessage(ctx: Context): void {
    const message = ctx.message!;
    const chat = String(message.chat.id);
    const from = message.from;
    if (!this.allowed({ id: String(from?.id ?? ''), name: from?.username ?? from?.first_name }, `message ${message.message_id}`, `chat ${chat}`)) return;
    if (!this.options.manager.platform.idPattern.test(chat)) return;
    const title = message.chat.type === 'private' ? (message.chat.username ?? message.chat.first_name) : 'title' in message.chat ? message.chat.title : undefined;
    if (title) this.titles.set(chat, title);
    try {
      this.router.accept({ session: chat, id: String(message.message_id), ...toChannelMessage(message) });
    } catch (error) {
      throw new NotQueuedError(formatError(error), { cause: error });
    }
  }

  private async onCommand(ctx: Context): Promise<void> {
    const message = ctx.message!;
    const chat = String(message.chat.id);
    const from = message.from;
    const [word = ''] = (message.text ?? '').split(/\s+/);
    const command = word.replace(/^\//, '').replace(/@.*$/, '');
    if (!this.allowed({ id: String(from?.id ?? ''), name: from?.username ?? from?.first_name }, `/${command}`, `chat ${chat}`)) return;
    if (!isChatCommand(command) || !this.options.manager.platform.idPattern.test(chat)) return;
    const reply = (text: string) => ctx.reply(text.slice(0, TEXT_LIMIT)).then(() => undefined);
    try {
      const input = (message.text ?? '').replace(/^\/\S+\s*/, '');
      await reply(await runChatCommand(command, input, { manager: this.options.manager, log: this.options.log, session: chat, actor: String(from?.id) }));
    } catch (error) {
      await reply(`⚠️ ${formatError(error)}`).catch(() => {});
    }
  }

  /** The owner check; a config that cannot be read means the update is not handled (and not confirmed). */
  private allowed(actor: { id: string; name?: string }, action: string, where: string): boolean {
    try {
      return this.authorize(actor, action, where);
    } catch (error) {
      throw new NotQueuedError(`cannot check the sender: ${formatError(error)}`, { cause: error });
    }
  }
}
