import type { ConsolaInstance } from 'consola';
import { Bot, BotError, type Context, GrammyError } from 'grammy';
import type { Message, Update } from 'grammy/types';
import { type Actor, type Authorize, createAuthorizer } from '../../core/control/authorize.ts';
import { CHAT_COMMANDS, PRIVATE_CHAT_COMMANDS, isChatCommand, runChatCommand } from '../../core/control/commands.ts';
import { cleanLine } from '../../core/util/text.ts';
import type { SessionManager } from '../../core/sessions/manager.ts';
import type { Clock } from '../../core/util/clock.ts';
import { CrsError, formatError } from '../../core/util/errors.ts';
import { retryDelay } from '../../core/util/retry.ts';
import type { PendingPermission, PermissionOutcome } from '../../router/permissions.ts';
import { Router } from '../../router/router.ts';
import { createPermissionKeyboard, formatPermissionDetails, formatPermissionMessage, parsePermissionCallback, parsePermissionReply } from './permissions.ts';

const POLL_TIMEOUT_S = 30;
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 60_000;
/** Telegram's message length limit. */
const TEXT_LIMIT = 4096;
/** The most an answerCallbackQuery alert shows; longer details go to the chat as a message. */
const CALLBACK_ALERT_LIMIT = 200;
/** What the poll asks Telegram for: messages (and commands), and presses of the approval buttons. */
const ALLOWED_UPDATES = ['message', 'callback_query'] as const;

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
 * Permission requests of a session are posted in its chat with Allow / Deny / Always / Details
 * buttons; the owner answers with a button or by text (`yes abcde`), and the message is edited to
 * show the outcome.
 */
export class TelegramRouter {
  readonly bot: Bot;
  readonly router: Router;
  private readonly authorize: Authorize;
  /** Button presses: a stranger pressing again and again is logged once per request. */
  private readonly authorizeButton: Authorize;

  constructor(private readonly options: TelegramRouterOptions) {
    const { manager, log } = options;
    this.bot = new Bot(options.token, { client: { apiRoot: options.apiRoot } });
    this.authorize = createAuthorizer(manager, log);
    this.authorizeButton = createAuthorizer(manager, log, { once: true });
    this.router = new Router({
      manager,
      clock: options.clock,
      log,
      signal: options.signal,
      adapter: {
        notify: async (chat, text) => void (await this.bot.api.sendMessage(chat, text.slice(0, TEXT_LIMIT))),
        // Each owner's private chat with the bot (its id is the owner's user id).
        notifyOwners: async (text) => {
          for (const owner of manager.config().allowedUserIds) await this.bot.api.sendMessage(owner, text.slice(0, TEXT_LIMIT));
        },
        typing: async (chat) => void (await this.bot.api.sendChatAction(chat, 'typing')),
        spawn: (chat) => manager.spawn(chat, { name: this.titles.get(chat), type: 'chat' }),
        askPermission: (request) => this.askPermission(request),
        settlePermission: (request, ref, outcome) => this.settlePermission(request, ref, outcome),
      },
    });
    this.bot.command(
      CHAT_COMMANDS.map((c) => c.name),
      (ctx) => this.onCommand(ctx),
    );
    this.bot.on('message', (ctx) => this.onMessage(ctx));
    this.bot.on('callback_query:data', (ctx) => this.onButton(ctx));
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
    // Failures in a row: the wait before the next try grows with them, and a success starts it over.
    let failures = 0;
    const nextDelay = () => retryDelay(++failures, { baseMs: RETRY_MIN_MS, maxMs: RETRY_MAX_MS });
    while (!signal.aborted) {
      let updates: Update[];
      try {
        updates = await this.bot.api.getUpdates({ offset, timeout: POLL_TIMEOUT_S, allowed_updates: [...ALLOWED_UPDATES] }, signal as never);
        failures = 0;
      } catch (error) {
        if (signal.aborted) break;
        if (error instanceof GrammyError && error.error_code === 401) throw new CrsError(`Telegram rejected the bot token: ${error.description}.`, { hint: 'Check TELEGRAM_BOT_TOKEN in ~/.claude/channels/telegram/.env.' });
        const conflict = error instanceof GrammyError && error.error_code === 409;
        const delay = nextDelay();
        log.error(`polling failed: ${formatError(error)}${conflict ? ' (another program polls this bot token: stop it, only the router may)' : ''}; retrying in ${delay / 1000} s`);
        await clock.sleep(delay, signal);
        continue;
      }
      for (const update of updates) {
        if (signal.aborted) break;
        try {
          await this.bot.handleUpdate(update);
        } catch (error) {
          const cause = error instanceof BotError ? error.error : error;
          if (cause instanceof NotQueuedError) {
            const delay = nextDelay();
            log.error(`update ${update.update_id} not confirmed, fetched again in ${delay / 1000} s: ${formatError(cause)}`);
            await clock.sleep(delay, signal);
            break;
          }
          log.error(`update ${update.update_id} failed: ${formatError(cause)}`);
        }
        offset = update.update_id + 1;
      }
    }
  }

  /**
   * Queues an owner's message for its chat's session; throws NotQueuedError when it cannot. A message
   * that is exactly `yes <id>` / `no <id>` / `always <id>` for a request waiting in this chat answers
   * it instead, and is not queued.
   */
  private onMessage(ctx: Context): void {
    const message = ctx.message!;
    const chat = String(message.chat.id);
    const from = message.from;
    const actor: Actor = { id: String(from?.id ?? ''), name: from?.username ?? from?.first_name };
    if (!this.allowed(actor, `message ${message.message_id}`, `chat ${chat}`)) return;
    if (!this.options.manager.platform.idPattern.test(chat)) return;
    const answer = message.text === undefined ? undefined : parsePermissionReply(message.text);
    if (answer && this.router.pendingPermission(chat, answer.requestId)) {
      this.router.decidePermission(chat, answer.requestId, answer.choice, actor);
      const emoji = answer.choice === 'deny' ? '👎' : '👍';
      void this.bot.api.setMessageReaction(chat, message.message_id, [{ type: 'emoji', emoji }]).catch(() => {});
      return;
    }
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
      const answer = await runChatCommand(command, input, { manager: this.options.manager, log: this.options.log, session: chat, actor: String(from?.id) });
      if (message.chat.type === 'private' || !from || !(PRIVATE_CHAT_COMMANDS as readonly string[]).includes(command)) return await reply(answer);
      const where = 'title' in message.chat && message.chat.title ? message.chat.title : this.sessionName(chat);
      await reply(await this.answerPrivately(from.id, `/${command} in ${cleanLine(where)} (${chat}):\n${answer}`));
    } catch (error) {
      await reply(`⚠️ ${formatError(error)}`).catch(() => {});
    }
  }

  /**
   * Sends an answer that shows private data to its owner's own chat with the bot (a group's members
   * must not read it) and returns the pointer to post in the group instead. The bot cannot open that
   * chat itself: until the owner has, the group is told so, and still not the answer.
   */
  private async answerPrivately(owner: number, text: string): Promise<string> {
    try {
      await this.bot.api.sendMessage(owner, text.slice(0, TEXT_LIMIT));
      return '📬 Sent to you in our private chat (it shows private data).';
    } catch (error) {
      this.options.log.warn(`could not answer ${owner} privately: ${formatError(error)}`);
      const me = this.bot.botInfo?.username;
      return `This answer shows private data, so it is not posted here, and I cannot write to you privately: open a chat with ${me ? `@${me}` : 'me'}, send /start, then ask again.`;
    }
  }

  /** Posts a permission request in its session's chat with its buttons; the message id is the ref. */
  private async askPermission(request: PendingPermission): Promise<number> {
    const text = formatPermissionMessage(request, this.sessionName(request.session));
    const sent = await this.bot.api.sendMessage(request.session, text, { reply_markup: createPermissionKeyboard(request) });
    return sent.message_id;
  }

  /** The request's message with the outcome in place of the reply hint, and no buttons any more. */
  private async settlePermission(request: PendingPermission, ref: unknown, outcome: PermissionOutcome): Promise<void> {
    if (typeof ref !== 'number') return;
    const text = formatPermissionMessage(request, this.sessionName(request.session), outcome);
    await this.bot.api.editMessageText(request.session, ref, text, { reply_markup: { inline_keyboard: [] } });
  }

  /**
   * A press of a permission button. The request is looked up in the chat the pressed message is in
   * (never in the callback data); only the owner decides, a stranger's press changes nothing.
   */
  private async onButton(ctx: Context): Promise<void> {
    const { log, manager } = this.options;
    const query = ctx.callbackQuery!;
    const message = query.message;
    const chat = message ? String(message.chat.id) : '';
    const answer = (text?: string, alert = false): Promise<void> =>
      ctx.answerCallbackQuery(text ? { text, ...(alert ? { show_alert: true } : {}) } : {}).then(
        () => undefined,
        (error) => log.warn(`answering a button press in chat ${chat} failed: ${formatError(error)}`),
      );
    const pressed = parsePermissionCallback(query.data ?? '');
    if (!pressed || !message || !manager.platform.idPattern.test(chat)) return answer();
    const actor: Actor = { id: String(query.from.id), name: query.from.username ?? query.from.first_name };
    if (!this.allowed(actor, `the buttons of permission request ${pressed.requestId}`, `chat ${chat}`, this.authorizeButton)) return answer('Only the owner can answer this.');
    const request = this.router.pendingPermission(chat, pressed.requestId);
    if (!request) {
      await answer('This request was already answered.');
      // A keyboard still showing (the router restarted since it was posted) goes.
      if ('reply_markup' in message && message.reply_markup?.inline_keyboard.length) {
        await this.bot.api.editMessageReplyMarkup(chat, message.message_id, { reply_markup: { inline_keyboard: [] } }).catch(() => {});
      }
      return;
    }
    if (pressed.action === 'more') {
      const details = formatPermissionDetails(request);
      if (details.length <= CALLBACK_ALERT_LIMIT) return answer(details, true);
      await this.bot.api.sendMessage(chat, details, { reply_parameters: { message_id: message.message_id, allow_sending_without_reply: true } });
      return answer();
    }
    if (this.router.decidePermission(chat, pressed.requestId, pressed.action, actor) === 'unknown') return answer('This request was already answered.');
    await answer(pressed.action === 'deny' ? '❌ Denied' : pressed.action === 'always' ? `✅ Allowed, and ${request.tool_name.slice(0, 150)} from now on` : '✅ Allowed');
  }

  /** A session's name for its messages (the chat id when the registry cannot be read). */
  private sessionName(chat: string): string {
    try {
      return this.options.manager.registry()[chat]?.name ?? chat;
    } catch {
      return chat;
    }
  }

  /** The owner check; a config that cannot be read means the update is not handled (and not confirmed). */
  private allowed(actor: Actor, action: string, where: string, authorize = this.authorize): boolean {
    try {
      return authorize(actor, action, where);
    } catch (error) {
      throw new NotQueuedError(`cannot check the sender: ${formatError(error)}`, { cause: error });
    }
  }
}
