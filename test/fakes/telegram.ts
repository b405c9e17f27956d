import type { Server } from 'bun';
import type { BotCommand, CallbackQuery, Chat, File as TelegramFile, InlineKeyboardMarkup, Message, MessageEntity, Update, User, UserFromGetMe } from 'grammy/types';

export interface FakeTelegramOptions {
  token?: string;
  botId?: number;
  botUsername?: string;
  botFirstName?: string;
  /** The first update_id handed out; default 1. */
  firstUpdateId?: number;
  /**
   * Group privacy mode (Telegram's default for new bots): group messages that are neither commands, mentions of
   * the bot nor replies to it never become updates. Off by default here so every `userMessage` is delivered.
   */
  privacyMode?: boolean;
  /** Wall clock in ms for message dates; default `Date.now`. */
  now?: () => number;
}

/** A file that arrived in a multipart request. */
export interface FakeTelegramUpload {
  /** The parameter the file was given for (`document`, `photo`), or the raw form field. */
  field: string;
  name: string;
  size: number;
  contentType: string;
}

/** One Bot API call as the fake understood it: form and query values are converted to JSON types. */
export interface FakeTelegramCall {
  method: string;
  params: Record<string, unknown>;
  /** Present only for multipart requests that carried files. */
  files?: FakeTelegramUpload[];
}

/** Every request that named a method, with the HTTP status it got. */
export interface FakeTelegramRequest extends FakeTelegramCall {
  status: number;
}

/** A file the fake can serve through `getFile` and the download URL. */
export interface FakeTelegramFile extends Required<TelegramFile> {
  file_name: string;
  mime_type: string;
  bytes: Uint8Array;
}

export interface FakeFileInput {
  bytes: Uint8Array | string;
  fileName?: string;
  mimeType?: string;
  /** Default: a fresh id. */
  fileId?: string;
}

export type FakeChatType = 'private' | 'group' | 'supergroup';

export interface FakeUserMessageOptions {
  /** The sender; default the chat id for private chats, else 1000. */
  fromId?: number;
  username?: string;
  firstName?: string;
  lastName?: string;
  /** The text, or the caption when a document or photo is attached. */
  text?: string;
  /** Default: private for positive ids, supergroup for ids below -1000000000000, else group. */
  chatType?: FakeChatType;
  chatTitle?: string;
  /** A message id in the same chat, or the message itself. */
  replyTo?: number | Message;
  /** Default: bot_command and mention entities found in the text. */
  entities?: MessageEntity[];
  document?: FakeFileInput & { fileName: string };
  photo?: FakeFileInput & { width?: number; height?: number };
  /** Unix seconds; default now. */
  date?: number;
}

export interface FakePressOptions {
  /** The user who pressed; default the chat id for private chats, else 1000. */
  fromId?: number;
  username?: string;
  firstName?: string;
  /**
   * Send `data` even when the message no longer shows such a button: a client still showing an old
   * keyboard (the edit that removed it not yet arrived).
   */
  stale?: boolean;
}

type Json = Record<string, unknown>;
type Handler = (params: Json, context: CallContext) => unknown;

interface CallContext {
  signal: AbortSignal;
  uploads: Map<string, Upload>;
}

interface Upload extends FakeTelegramUpload {
  bytes: Uint8Array;
}

interface Failure {
  pattern: RegExp;
  status: number;
  remaining: number;
  retryAfter: number;
  description?: string;
}

interface Poll {
  limit: number;
  signal: AbortSignal;
  finish: (result: Update[] | FakeTelegramError) => void;
}

interface Waiter {
  check: () => void;
}

const DEFAULT_WAIT_MS = 2_000;
const WAIT_POLL_MS = 10;
const MAX_UPDATES_LIMIT = 100;
const MAX_TEXT_LENGTH = 4096;
const MAX_CAPTION_LENGTH = 1024;
/** Telegram's limits for inline buttons' callback_data (bytes) and a callback answer's text (characters). */
const MAX_CALLBACK_DATA_BYTES = 64;
const MAX_CALLBACK_ANSWER_LENGTH = 200;
const MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024;
/** Update types an empty `allowed_updates` list leaves out (Telegram's default). */
const OPT_IN_UPDATES = new Set(['chat_member', 'message_reaction', 'message_reaction_count']);
/** Form and query values parsed as JSON, integers and booleans; everything else stays a string. */
const JSON_FIELDS = new Set([
  'allowed_updates', 'caption_entities', 'commands', 'entities', 'link_preview_options', 'media', 'reaction',
  'reply_markup', 'reply_parameters', 'scope',
]);
const INTEGER_FIELDS = new Set([
  'chat_id', 'from_chat_id', 'limit', 'message_id', 'message_thread_id', 'offset', 'reply_to_message_id', 'user_id',
]);
const BOOLEAN_FIELDS = new Set([
  'allow_sending_without_reply', 'disable_content_type_detection', 'disable_notification', 'disable_web_page_preview',
  'drop_pending_updates', 'has_spoiler', 'is_big', 'protect_content', 'show_caption_above_media',
]);
const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Bad Request: fake failure',
  401: 'Unauthorized',
  403: 'Forbidden: bot was blocked by the user',
  404: 'Not Found',
  409: 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
};
const NOT_MODIFIED = 'Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message';
const COMMAND_OR_MENTION = /(?<=^|\s)(?:\/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?|@[A-Za-z0-9_]{5,32})(?![A-Za-z0-9_@])/g;

/** A Bot API error answer: `{ ok: false, error_code, description, parameters? }` with the same HTTP status. */
export class FakeTelegramError extends Error {
  constructor(
    readonly code: number,
    readonly description: string,
    readonly parameters?: { retry_after?: number },
  ) {
    super(description);
  }

  toResponse(): Response {
    const body = { ok: false, error_code: this.code, description: this.description, ...(this.parameters ? { parameters: this.parameters } : {}) };
    return Response.json(body, { status: this.code });
  }
}

/**
 * The Telegram Bot API on 127.0.0.1 for grammY (`new Bot(token, { client: { apiRoot: fake.url } })`): long-polled
 * `getUpdates` with offsets, limits, allowed_updates and 409 conflicts between pollers, messages, edits,
 * inline keyboards and button presses, reactions, chat actions, commands, file uploads and downloads, and
 * injected failures.
 */
export class FakeTelegram {
  readonly token: string;
  readonly botUser: UserFromGetMe;
  /** Every update ever queued, confirmed or not. */
  readonly updates: Update[] = [];
  /** Accepted calls (answered `ok: true`) other than getUpdates, in order. */
  readonly sent: FakeTelegramCall[] = [];
  /** Every request that named a method (getUpdates and failures included), in order. */
  readonly requests: FakeTelegramRequest[] = [];
  readonly files = new Map<string, FakeTelegramFile>();
  /** The highest `offset` a getUpdates call sent: every update below it is confirmed and gone. */
  confirmedOffset = 0;
  /** Long polls terminated by a newer getUpdates call (each answered 409). */
  conflicts = 0;
  private readonly privacyMode: boolean;
  private readonly now: () => number;
  /** Lower-case method name → its canonical name and handler. */
  private readonly handlers = new Map<string, { name: string; handler: Handler }>();
  private readonly chats = new Map<string, { chat: Chat; nextMessageId: number; messages: Message[] }>();
  /** Commands per `scope|language_code`. */
  private readonly commands = new Map<string, BotCommand[]>();
  /** Updates skipped because `allowed_updates` excluded them: Telegram never stores those. */
  private readonly skipped = new Set<number>();
  /** Callback queries by id, and whether they were answered (Telegram takes one answer per query). */
  private readonly callbackQueries = new Map<string, { query: CallbackQuery; answered: boolean }>();
  private nextCallbackId = 1;
  private readonly waiters = new Set<Waiter>();
  private allowedUpdates: string[] = [];
  private nextUpdateId: number;
  private nextFileNumber = 1;
  private failures: Failure[] = [];
  private poll: Poll | undefined;
  private server: Server<undefined> | undefined;

  constructor(options: FakeTelegramOptions = {}) {
    const botId = options.botId ?? 7_000_000_001;
    this.token = options.token ?? `${botId}:AAFakeTelegramToken_0123456789abcdef`;
    this.privacyMode = options.privacyMode ?? false;
    this.now = options.now ?? Date.now;
    this.nextUpdateId = options.firstUpdateId ?? 1;
    this.botUser = {
      id: botId,
      is_bot: true,
      first_name: options.botFirstName ?? 'Fake Bot',
      username: options.botUsername ?? 'fake_test_bot',
      can_join_groups: true,
      can_read_all_group_messages: !this.privacyMode,
      supports_inline_queries: false,
      can_connect_to_business: false,
      has_main_web_app: false,
      has_topics_enabled: false,
      allows_users_to_create_topics: false,
      can_manage_bots: false,
      supports_join_request_queries: false,
    };
    this.registerMethods();
  }

  /** The apiRoot for grammY, without a trailing slash. */
  get url(): string {
    if (!this.server) throw new Error('FakeTelegram is not started; call start() first.');
    return `http://127.0.0.1:${this.server.port}`;
  }

  /** Where a `file_path` from getFile downloads from (Telegram's `/file/bot<token>/<file_path>`). */
  fileUrl(filePath: string): string {
    return `${this.url}/file/bot${this.token}/${filePath}`;
  }

  /** Whether a long-polling getUpdates request is being held open. */
  get polling(): boolean {
    return this.poll !== undefined;
  }

  start(): this {
    this.server = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      // Long polls hold requests open far longer than Bun's default 10 s idle timeout.
      idleTimeout: 0,
      fetch: (request) => this.handle(request),
    });
    return this;
  }

  async stop(): Promise<void> {
    this.poll?.finish([]);
    await this.server?.stop(true);
    this.server = undefined;
  }

  // --- test helpers -----------------------------------------------------------------------------------

  /** Queues a `message` update from a user and returns the message (stored even when privacy mode withholds the update). */
  userMessage(chatId: number, options: FakeUserMessageOptions = {}): Message {
    const type = options.chatType ?? defaultChatType(chatId);
    const fromId = options.fromId ?? (type === 'private' ? chatId : 1000);
    const from: User = {
      id: fromId,
      is_bot: false,
      first_name: options.firstName ?? `User ${fromId}`,
      ...(options.lastName ? { last_name: options.lastName } : {}),
      ...(options.username ? { username: options.username } : {}),
      language_code: 'en',
    };
    const chat: Chat =
      type === 'private'
        ? { id: chatId, type, first_name: from.first_name, ...(from.last_name ? { last_name: from.last_name } : {}), ...(from.username ? { username: from.username } : {}) }
        : { id: chatId, type, title: options.chatTitle ?? titleOf(this.chatEntry(chatId).chat) ?? `Group ${chatId}` };
    const entry = this.chatEntry(chatId);
    entry.chat = chat;

    const text = options.text ?? '';
    const attachment: Json = {};
    if (options.document) {
      const file = this.registerFile(options.document, 'documents');
      attachment.document = { file_id: file.file_id, file_unique_id: file.file_unique_id, file_name: file.file_name, mime_type: file.mime_type, file_size: file.file_size };
    }
    if (options.photo) {
      const file = this.registerFile({ fileName: 'photo.jpg', mimeType: 'image/jpeg', ...options.photo }, 'photos');
      const { width = 1280, height = 720 } = options.photo;
      attachment.photo = [{ file_id: file.file_id, file_unique_id: file.file_unique_id, file_size: file.file_size, width, height }];
    }
    const hasMedia = options.document !== undefined || options.photo !== undefined;
    const entities = options.entities ?? findEntities(text);
    const body: Json = hasMedia
      ? { ...attachment, ...(text ? { caption: text } : {}), ...(text && entities.length ? { caption_entities: entities } : {}) }
      : { text, ...(entities.length ? { entities } : {}) };
    const replyId = typeof options.replyTo === 'number' ? options.replyTo : options.replyTo?.message_id;
    const replied = replyId === undefined ? undefined : this.findMessage(chatId, replyId);
    if (replyId !== undefined && !replied) throw new Error(`FakeTelegram has no message ${replyId} in chat ${chatId} to reply to.`);

    const message = {
      message_id: entry.nextMessageId++,
      from,
      chat,
      date: options.date ?? this.unixNow(),
      ...(replied ? { reply_to_message: withoutReply(replied) } : {}),
      ...body,
    } as Message;
    entry.messages.push(message);
    if (!this.privacyMode || type === 'private' || this.reachesPrivateBot(message)) this.pushUpdate({ message: message as Message & Update.NonChannel });
    return message;
  }

  /** Queues a message whose text starts with a bot command (`/status args`), with its bot_command entity. */
  command(chatId: number, fromId: number, text: string, options: Omit<FakeUserMessageOptions, 'fromId' | 'text'> = {}): Message {
    if (!/^\/[A-Za-z0-9_]/.test(text)) throw new Error(`FakeTelegram.command needs text starting with "/", got "${text}".`);
    return this.userMessage(chatId, { ...options, fromId, text });
  }

  /**
   * A user presses an inline button of a message: queues a `callback_query` update carrying the message as
   * it is now. `button` is the button's callback_data or its text; a message without that button throws
   * (unless `stale`, then `button` is sent as the data).
   */
  pressButton(chatId: number, messageId: number, button: string, options: FakePressOptions = {}): CallbackQuery {
    const message = this.findMessage(chatId, messageId);
    if (!message) throw new Error(`FakeTelegram has no message ${messageId} in chat ${chatId} to press a button of.`);
    const buttons = (message.reply_markup?.inline_keyboard ?? []).flat();
    const found = buttons.find((b) => 'callback_data' in b && (b.callback_data === button || b.text === button));
    const data = found && 'callback_data' in found ? found.callback_data : options.stale ? button : undefined;
    if (data === undefined) {
      throw new Error(`FakeTelegram: message ${messageId} in chat ${chatId} has no button "${button}" (it has ${JSON.stringify(buttons.map((b) => b.text))}).`);
    }
    const fromId = options.fromId ?? (defaultChatType(chatId) === 'private' ? chatId : 1000);
    const from: User = { id: fromId, is_bot: false, first_name: options.firstName ?? `User ${fromId}`, ...(options.username ? { username: options.username } : {}), language_code: 'en' };
    const query: CallbackQuery = { id: String(this.nextCallbackId++), from, message, chat_instance: `ci${chatId}`, data };
    this.callbackQueries.set(query.id, { query, answered: false });
    this.pushUpdate({ callback_query: query });
    return query;
  }

  /** The answerCallbackQuery parameters a callback query got, if answered. */
  callbackAnswer(query: CallbackQuery | string): Json | undefined {
    const id = typeof query === 'string' ? query : query.id;
    return this.calls('answerCallbackQuery').find((p) => String(p.callback_query_id) === id);
  }

  /** Queues any update (edited_message, callback_query, message_reaction, ...) with the next update_id. */
  pushUpdate(update: Omit<Update, 'update_id'>): Update {
    const full = { update_id: this.nextUpdateId++, ...update } as Update;
    this.updates.push(full);
    this.wakePoll();
    this.notify();
    return full;
  }

  /** Updates not yet confirmed by an offset (nor skipped by allowed_updates). */
  pending(): Update[] {
    return this.updates.filter((u) => u.update_id >= this.confirmedOffset && !this.skipped.has(u.update_id));
  }

  /** Makes a file available to getFile and the download URL. */
  registerFile(input: FakeFileInput, folder = 'documents'): FakeTelegramFile {
    const bytes = typeof input.bytes === 'string' ? new TextEncoder().encode(input.bytes) : input.bytes;
    const number = this.nextFileNumber++;
    const fileName = input.fileName ?? `file_${number}`;
    const extension = /\.[A-Za-z0-9]+$/.exec(fileName)?.[0] ?? '';
    const file: FakeTelegramFile = {
      file_id: input.fileId ?? `FAKE${folder.toUpperCase()}${number}_${crypto.randomUUID().replaceAll('-', '')}`,
      file_unique_id: `FU${number}${crypto.randomUUID().slice(0, 8)}`,
      file_size: bytes.byteLength,
      file_path: `${folder}/file_${number}${extension}`,
      file_name: fileName,
      mime_type: input.mimeType ?? 'application/octet-stream',
      bytes,
    };
    this.files.set(file.file_id, file);
    return file;
  }

  /** Gives a chat a title or type before any message arrives in it (chats are otherwise made up on first use). */
  addChat(chat: Chat): void {
    this.chatEntry(chat.id).chat = chat;
  }

  /** Messages of a chat, the user's and the bot's, as they are now (after edits). */
  messages(chatId: number | string): Message[] {
    return [...(this.chats.get(String(chatId))?.messages ?? [])];
  }

  /** Parameters of the accepted calls of `method`, in order. */
  calls(method: string): Json[] {
    return this.sent.filter((c) => c.method === method).map((c) => c.params);
  }

  /** Texts of the accepted sendMessage calls to a chat, in order. */
  sentTo(chatId: number | string): string[] {
    return this.calls('sendMessage').filter((p) => String(p.chat_id) === String(chatId)).map((p) => String(p.text));
  }

  /** Resolves with the first `count` texts sent to a chat; rejects after `timeoutMs` naming what did arrive. */
  async waitForSent(chatId: number | string, count = 1, timeoutMs = DEFAULT_WAIT_MS): Promise<string[]> {
    try {
      return await this.waitFor(() => (this.sentTo(chatId).length >= count ? this.sentTo(chatId).slice(0, count) : undefined), timeoutMs);
    } catch {
      throw new Error(`FakeTelegram saw ${this.sentTo(chatId).length} of ${count} messages to chat ${chatId} within ${timeoutMs} ms: ${JSON.stringify(this.sentTo(chatId))}.`);
    }
  }

  /** Resolves with the predicate's first truthy value, checked on every request and every 10 ms. */
  waitFor<T>(predicate: () => T | undefined | null | false, timeoutMs = DEFAULT_WAIT_MS): Promise<T> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        check: () => {
          let value: T | undefined | null | false;
          try {
            value = predicate();
          } catch (error) {
            done();
            reject(error);
            return;
          }
          if (!value) return;
          done();
          resolve(value);
        },
      };
      const done = (): void => {
        clearTimeout(timer);
        clearInterval(interval);
        this.waiters.delete(waiter);
      };
      const timer = setTimeout(() => {
        done();
        const recent = this.requests.slice(-5).map((r) => `${r.method} ${r.status}`).join(', ') || 'none';
        reject(new Error(`FakeTelegram waited ${timeoutMs} ms for a condition that never held (last requests: ${recent}).`));
      }, timeoutMs);
      const interval = setInterval(waiter.check, WAIT_POLL_MS);
      this.waiters.add(waiter);
      waiter.check();
    });
  }

  /**
   * The next `times` calls whose method name matches get `status` (429 answers "retry after `retryAfter`" with
   * `parameters.retry_after`).
   */
  fail(pattern: RegExp, status: number, times = Number.POSITIVE_INFINITY, retryAfter = 1, description?: string): void {
    this.failures.push({ pattern, status, remaining: times, retryAfter, description });
  }

  clearFailures(): void {
    this.failures = [];
  }

  /** Adds or replaces a method: `handler` returns the `result`, or throws a FakeTelegramError to answer `ok: false`. */
  setHandler(method: string, handler: (params: Json) => unknown): void {
    this.handlers.set(method.toLowerCase(), { name: method, handler });
  }

  /** Commands set through setMyCommands for a scope and language (default scope, no language by default). */
  myCommands(scope: Json = { type: 'default' }, languageCode = ''): BotCommand[] {
    return [...(this.commands.get(commandsKey(scope, languageCode)) ?? [])];
  }

  // --- HTTP -------------------------------------------------------------------------------------------

  private async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const download = /^\/file\/bot([^/]+)\/(.+)$/.exec(url.pathname);
    if (download) return this.download(decodeURIComponent(download[1]!), decodeURIComponent(download[2]!));
    const match = /^\/bot([^/]+)\/([A-Za-z0-9_]+)\/?$/.exec(url.pathname);
    if (!match) return new FakeTelegramError(404, 'Not Found').toResponse();
    if (decodeURIComponent(match[1]!) !== this.token) return new FakeTelegramError(401, 'Unauthorized').toResponse();
    const route = this.handlers.get(match[2]!.toLowerCase());
    const method = route?.name ?? match[2]!;
    let call: FakeTelegramCall & { uploads: Map<string, Upload> };
    try {
      call = { method, ...(await readParams(request, url)) };
    } catch (error) {
      return this.answer({ method, params: {} }, error);
    }
    const { uploads, ...recorded } = call;
    if (!route) return this.answer(recorded, new FakeTelegramError(404, 'Not Found'));

    const failure = this.failures.find((f) => f.remaining > 0 && f.pattern.test(method));
    if (failure) {
      failure.remaining--;
      const description = failure.description ?? (failure.status === 429 ? `Too Many Requests: retry after ${failure.retryAfter}` : ERROR_DESCRIPTIONS[failure.status] ?? `Fake failure ${failure.status}`);
      return this.answer(recorded, new FakeTelegramError(failure.status, description, failure.status === 429 ? { retry_after: failure.retryAfter } : undefined));
    }
    try {
      return this.answer(recorded, undefined, await route.handler(call.params, { signal: request.signal, uploads }));
    } catch (error) {
      return this.answer(recorded, error);
    }
  }

  /** Records the call and turns a result or error into the Bot API envelope. */
  private answer(call: FakeTelegramCall, error: unknown, result?: unknown): Response {
    const failure = error === undefined ? undefined : error instanceof FakeTelegramError ? error : new FakeTelegramError(500, `Internal Server Error: ${String(error)}`);
    this.requests.push({ ...call, status: failure?.code ?? 200 });
    if (!failure && call.method !== 'getUpdates') this.sent.push(call);
    this.notify();
    return failure ? failure.toResponse() : Response.json({ ok: true, result });
  }

  private download(token: string, filePath: string): Response {
    if (token !== this.token) return new FakeTelegramError(401, 'Unauthorized').toResponse();
    const file = [...this.files.values()].find((f) => f.file_path === filePath);
    if (!file) return new FakeTelegramError(404, 'Not Found').toResponse();
    return new Response(file.bytes, { headers: { 'content-type': 'application/octet-stream', 'content-length': String(file.bytes.byteLength) } });
  }

  // --- methods ----------------------------------------------------------------------------------------

  private registerMethods(): void {
    const on = (name: string, handler: Handler): void => {
      this.handlers.set(name.toLowerCase(), { name, handler });
    };
    on('getMe', () => this.botUser);
    // Only a chat the bot has seen (or `addChat` gave) is known, as on Telegram.
    on('getChat', (params) => {
      const entry = this.chats.get(String(params.chat_id));
      if (!entry) throw new FakeTelegramError(400, 'Bad Request: chat not found');
      return entry.chat;
    });
    on('getUpdates', (params, context) => this.getUpdates(params, context.signal));
    on('deleteWebhook', (params) => {
      if (params.drop_pending_updates === true) this.confirmedOffset = Math.max(this.confirmedOffset, this.nextUpdateId);
      return true;
    });
    on('getWebhookInfo', () => ({ url: '', has_custom_certificate: false, pending_update_count: this.pending().length }));
    on('setMyCommands', (params) => {
      const commands = Array.isArray(params.commands) ? (params.commands as BotCommand[]) : [];
      for (const c of commands) {
        if (!/^[a-z0-9_]{1,32}$/.test(String(c.command))) throw new FakeTelegramError(400, 'Bad Request: BOT_COMMAND_INVALID');
        if (!c.description || String(c.description).length > 256) throw new FakeTelegramError(400, 'Bad Request: BOT_COMMAND_DESCRIPTION_INVALID');
      }
      this.commands.set(commandsKey(params.scope, params.language_code), commands.map((c) => ({ command: c.command, description: c.description })));
      return true;
    });
    on('getMyCommands', (params) => this.myCommands(isRecord(params.scope) ? params.scope : undefined, stringOr(params.language_code, '')));
    on('deleteMyCommands', (params) => {
      this.commands.delete(commandsKey(params.scope, params.language_code));
      return true;
    });
    on('sendChatAction', (params) => {
      this.requireChat(params.chat_id);
      if (typeof params.action !== 'string' || !params.action) throw new FakeTelegramError(400, 'Bad Request: wrong parameter action in request');
      return true;
    });
    on('sendMessage', (params) => {
      const text = typeof params.text === 'string' ? params.text : '';
      if (!text.trim()) throw new FakeTelegramError(400, 'Bad Request: message text is empty');
      if (text.length > MAX_TEXT_LENGTH) throw new FakeTelegramError(400, 'Bad Request: message is too long');
      return this.botMessage(params, { text, ...(Array.isArray(params.entities) ? { entities: params.entities } : {}) });
    });
    on('editMessageText', (params) => this.editMessageText(params));
    on('editMessageReplyMarkup', (params) => this.editMessageReplyMarkup(params));
    on('answerCallbackQuery', (params) => {
      const entry = this.callbackQueries.get(String(params.callback_query_id ?? ''));
      if (!entry || entry.answered) throw new FakeTelegramError(400, 'Bad Request: query is too old and response timeout expired or query ID is invalid');
      if (typeof params.text === 'string' && params.text.length > MAX_CALLBACK_ANSWER_LENGTH) throw new FakeTelegramError(400, 'Bad Request: MESSAGE_TOO_LONG');
      entry.answered = true;
      return true;
    });
    on('setMessageReaction', (params) => {
      this.requireChat(params.chat_id);
      if (!this.findMessage(params.chat_id, Number(params.message_id))) throw new FakeTelegramError(400, 'Bad Request: message to react not found');
      return true;
    });
    on('deleteMessage', (params) => {
      const entry = this.chats.get(String(params.chat_id));
      const index = entry?.messages.findIndex((m) => m.message_id === Number(params.message_id)) ?? -1;
      if (!entry || index < 0) throw new FakeTelegramError(400, 'Bad Request: message to delete not found');
      entry.messages.splice(index, 1);
      return true;
    });
    on('getFile', (params) => {
      const file = this.files.get(String(params.file_id));
      if (!file) throw new FakeTelegramError(400, 'Bad Request: invalid file_id');
      if (file.file_size > MAX_DOWNLOAD_BYTES) throw new FakeTelegramError(400, 'Bad Request: file is too big');
      return { file_id: file.file_id, file_unique_id: file.file_unique_id, file_size: file.file_size, file_path: file.file_path };
    });
    on('sendDocument', (params, context) => {
      const file = this.inputFile(params, 'document', context.uploads, 'documents');
      const document = { file_id: file.file_id, file_unique_id: file.file_unique_id, file_name: file.file_name, mime_type: file.mime_type, file_size: file.file_size };
      return this.botMessage(params, { document, ...captionOf(params) });
    });
    on('sendPhoto', (params, context) => {
      const file = this.inputFile(params, 'photo', context.uploads, 'photos');
      const photo = [{ file_id: file.file_id, file_unique_id: file.file_unique_id, file_size: file.file_size, width: 1280, height: 720 }];
      return this.botMessage(params, { photo, ...captionOf(params) });
    });
  }

  private getUpdates(params: Json, signal: AbortSignal): Update[] | Promise<Update[]> {
    if (params.offset !== undefined) this.confirm(Number(params.offset));
    const limit = Math.min(Math.max(Number(params.limit ?? MAX_UPDATES_LIMIT) || MAX_UPDATES_LIMIT, 1), MAX_UPDATES_LIMIT);
    // Fractional seconds are accepted so tests can wait briefly; Telegram takes whole seconds.
    const timeoutMs = Math.max(Number(params.timeout ?? 0) || 0, 0) * 1000;
    if (Array.isArray(params.allowed_updates)) this.allowedUpdates = params.allowed_updates.map(String);

    const previous = this.poll;
    if (previous) {
      this.poll = undefined;
      // A poll whose client already hung up (grammY's stop() aborts it) is no longer a rival.
      if (!previous.signal.aborted) {
        this.conflicts++;
        previous.finish(new FakeTelegramError(409, ERROR_DESCRIPTIONS[409]!));
      }
    }
    const ready = this.deliverable(limit);
    if (ready.length > 0 || timeoutMs === 0 || signal.aborted) return ready;

    return new Promise((resolve, reject) => {
      const poll: Poll = {
        limit,
        signal,
        finish: (result) => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          if (this.poll === poll) this.poll = undefined;
          if (result instanceof FakeTelegramError) reject(result);
          else resolve(result);
        },
      };
      const onAbort = (): void => poll.finish([]);
      const timer = setTimeout(() => poll.finish([]), timeoutMs);
      signal.addEventListener('abort', onAbort);
      this.poll = poll;
    });
  }

  private confirm(offset: number): void {
    if (!Number.isFinite(offset)) return;
    if (offset < 0) {
      // A negative offset keeps only the last -offset updates and forgets the rest.
      const pending = this.pending();
      const keep = pending[Math.max(pending.length + offset, 0)];
      this.confirmedOffset = keep ? keep.update_id : this.nextUpdateId;
      return;
    }
    this.confirmedOffset = Math.max(this.confirmedOffset, offset);
  }

  /** The first `limit` pending updates the current allowed_updates admit; the others are dropped for good. */
  private deliverable(limit: number): Update[] {
    const result: Update[] = [];
    for (const update of this.pending()) {
      if (!this.isAllowed(update)) {
        this.skipped.add(update.update_id);
        continue;
      }
      result.push(update);
      if (result.length >= limit) break;
    }
    return result;
  }

  private isAllowed(update: Update): boolean {
    const type = Object.keys(update).find((k) => k !== 'update_id') ?? '';
    return this.allowedUpdates.length === 0 ? !OPT_IN_UPDATES.has(type) : this.allowedUpdates.includes(type);
  }

  private wakePoll(): void {
    const poll = this.poll;
    if (!poll) return;
    const ready = this.deliverable(poll.limit);
    if (ready.length > 0) poll.finish(ready);
  }

  /** The message an edit names (chat_id, message_id), with its chat and place; 400 when there is none. */
  private messageToEdit(params: Json) {
    this.requireChat(params.chat_id);
    const entry = this.chats.get(String(params.chat_id));
    const index = entry?.messages.findIndex((m) => m.message_id === Number(params.message_id)) ?? -1;
    const message = entry?.messages[index];
    if (!entry || !message) throw new FakeTelegramError(400, 'Bad Request: message to edit not found');
    return { entry, index, message };
  }

  private editMessageText(params: Json): Message | true {
    const text = typeof params.text === 'string' ? params.text : '';
    if (!text.trim()) throw new FakeTelegramError(400, 'Bad Request: message text is empty');
    if (text.length > MAX_TEXT_LENGTH) throw new FakeTelegramError(400, 'Bad Request: MESSAGE_TOO_LONG');
    if (params.inline_message_id !== undefined) return true;
    const { entry, index, message } = this.messageToEdit(params);
    if (message.from?.id !== this.botUser.id || !('text' in message)) throw new FakeTelegramError(400, "Bad Request: message can't be edited");
    // As on Telegram, an edit without reply_markup takes the inline keyboard away.
    const markup = inlineMarkup(params.reply_markup);
    if (message.text === text && sameMarkup(message.reply_markup, markup.reply_markup)) throw new FakeTelegramError(400, NOT_MODIFIED);
    // The new text's entities replace the old ones; none given means plain text.
    const { entities: _old, reply_markup: _markup, ...rest } = message;
    const edited = { ...rest, text, edit_date: this.unixNow(), ...(Array.isArray(params.entities) ? { entities: params.entities } : {}), ...markup } as Message;
    entry.messages[index] = edited;
    return edited;
  }

  private editMessageReplyMarkup(params: Json): Message | true {
    if (params.inline_message_id !== undefined) return true;
    const { entry, index, message } = this.messageToEdit(params);
    if (message.from?.id !== this.botUser.id) throw new FakeTelegramError(400, "Bad Request: message can't be edited");
    const markup = inlineMarkup(params.reply_markup);
    if (sameMarkup(message.reply_markup, markup.reply_markup)) throw new FakeTelegramError(400, NOT_MODIFIED);
    const { reply_markup: _markup, ...rest } = message;
    const edited = { ...rest, edit_date: this.unixNow(), ...markup } as Message;
    entry.messages[index] = edited;
    return edited;
  }

  /** Stores and returns a message from the bot in `params.chat_id`, honouring reply_parameters / reply_to_message_id. */
  private botMessage(params: Json, body: Json): Message {
    const chat = this.requireChat(params.chat_id);
    const entry = this.chatEntry(chat.id);
    const replyParameters = isRecord(params.reply_parameters) ? params.reply_parameters : undefined;
    const replyId = replyParameters?.message_id ?? params.reply_to_message_id;
    let replied: Message | undefined;
    if (replyId !== undefined) {
      replied = this.findMessage(chat.id, Number(replyId));
      const lenient = replyParameters?.allow_sending_without_reply === true || params.allow_sending_without_reply === true;
      if (!replied && !lenient) throw new FakeTelegramError(400, 'Bad Request: message to be replied not found');
    }
    const from: User = { id: this.botUser.id, is_bot: true, first_name: this.botUser.first_name, username: this.botUser.username };
    const message = {
      message_id: entry.nextMessageId++,
      from,
      chat,
      date: this.unixNow(),
      ...(replied ? { reply_to_message: withoutReply(replied) } : {}),
      ...body,
      ...inlineMarkup(params.reply_markup),
    } as Message;
    entry.messages.push(message);
    return message;
  }

  /** The file a send method uploads (attach://, a direct file part) or reuses (a known file_id). */
  private inputFile(params: Json, field: string, uploads: Map<string, Upload>, folder: string): FakeTelegramFile {
    const value = params[field];
    const attached = typeof value === 'string' && value.startsWith('attach://') ? uploads.get(value.slice('attach://'.length)) : uploads.get(field);
    if (attached) return this.registerFile({ bytes: attached.bytes, fileName: attached.name, mimeType: attached.contentType || undefined }, folder);
    const known = typeof value === 'string' ? this.files.get(value) : undefined;
    if (known) return known;
    if (value === undefined) throw new FakeTelegramError(400, `Bad Request: there is no ${field} in the request`);
    throw new FakeTelegramError(400, 'Bad Request: wrong file identifier/HTTP URL specified');
  }

  private requireChat(chatId: unknown): Chat {
    if (chatId === undefined || chatId === '') throw new FakeTelegramError(400, 'Bad Request: chat_id is empty');
    if (typeof chatId !== 'number' && !/^-?\d+$/.test(String(chatId))) {
      const known = [...this.chats.values()].find((e) => 'username' in e.chat && `@${e.chat.username}` === chatId);
      if (!known) throw new FakeTelegramError(400, 'Bad Request: chat not found');
      return known.chat;
    }
    return this.chatEntry(Number(chatId)).chat;
  }

  private chatEntry(chatId: number): { chat: Chat; nextMessageId: number; messages: Message[] } {
    let entry = this.chats.get(String(chatId));
    if (!entry) {
      const type = defaultChatType(chatId);
      const chat: Chat = type === 'private' ? { id: chatId, type, first_name: `User ${chatId}` } : { id: chatId, type, title: `Group ${chatId}` };
      entry = { chat, nextMessageId: 1, messages: [] };
      this.chats.set(String(chatId), entry);
    }
    return entry;
  }

  private findMessage(chatId: unknown, messageId: number): Message | undefined {
    return this.chats.get(String(chatId))?.messages.find((m) => m.message_id === messageId);
  }

  /** Privacy mode lets through commands, mentions of the bot and replies to it. */
  private reachesPrivateBot(message: Message): boolean {
    const text = message.text ?? message.caption ?? '';
    const mention = `@${this.botUser.username}`.toLowerCase();
    return text.startsWith('/') || text.toLowerCase().includes(mention) || message.reply_to_message?.from?.id === this.botUser.id;
  }

  private unixNow(): number {
    return Math.floor(this.now() / 1000);
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter.check();
  }
}

/** Query-string, JSON, urlencoded or multipart parameters; file parts are returned as uploads. */
async function readParams(request: Request, url: URL): Promise<{ params: Json; files?: FakeTelegramUpload[]; uploads: Map<string, Upload> }> {
  const params: Json = {};
  const uploads = new Map<string, Upload>();
  for (const [key, value] of url.searchParams) params[key] = coerce(key, value);
  const type = request.headers.get('content-type') ?? '';
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    if (type.startsWith('multipart/form-data') || type.startsWith('application/x-www-form-urlencoded')) {
      const form = await request.formData().catch(() => {
        throw new FakeTelegramError(400, 'Bad Request: invalid form data');
      });
      for (const [key, value] of form.entries()) {
        if (typeof value === 'string') params[key] = coerce(key, value);
        else uploads.set(key, { field: key, name: value.name, size: value.size, contentType: value.type, bytes: new Uint8Array(await value.arrayBuffer()) });
      }
    } else {
      const text = await request.text();
      if (text.trim()) {
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          throw new FakeTelegramError(400, 'Bad Request: invalid JSON in request body');
        }
        if (isRecord(body)) Object.assign(params, body);
      }
    }
  }
  if (uploads.size === 0) return { params, uploads };
  // Name each file after the parameter that points at it (`document: "attach://x1"`), not its random id.
  const files = [...uploads.values()].map(({ bytes: _bytes, ...file }) => {
    const owner = Object.entries(params).find(([, v]) => v === `attach://${file.field}`)?.[0];
    return { ...file, field: owner ?? file.field };
  });
  return { params, files, uploads };
}

function coerce(key: string, value: string): unknown {
  if (JSON_FIELDS.has(key)) {
    try {
      return JSON.parse(value);
    } catch {
      return value;
    }
  }
  if (INTEGER_FIELDS.has(key) && /^-?\d+$/.test(value)) return Number(value);
  if (key === 'timeout' && value.trim() !== '' && !Number.isNaN(Number(value))) return Number(value);
  if (BOOLEAN_FIELDS.has(key) && (value === 'true' || value === 'false')) return value === 'true';
  return value;
}

function defaultChatType(chatId: number): FakeChatType {
  if (chatId > 0) return 'private';
  return chatId <= -1_000_000_000_000 ? 'supergroup' : 'group';
}

/** bot_command and mention entities in a text, offsets in UTF-16 code units as Telegram counts them. */
function findEntities(text: string): MessageEntity[] {
  return [...text.matchAll(COMMAND_OR_MENTION)].map((m) => ({ type: m[0].startsWith('/') ? 'bot_command' : 'mention', offset: m.index, length: m[0].length }));
}

/** A replied-to message as Telegram nests it: without its own reply_to_message. */
function withoutReply(message: Message): Message {
  const { reply_to_message: _nested, ...rest } = message as Message & { reply_to_message?: unknown };
  return rest as Message;
}

/**
 * The inline keyboard a send or edit attaches, as Telegram stores it on the message (other keyboards are
 * not part of a message); a callback_data over 64 bytes or a button without an action is refused.
 */
function inlineMarkup(markup: unknown): { reply_markup?: InlineKeyboardMarkup } {
  if (!isRecord(markup) || !Array.isArray(markup.inline_keyboard)) return {};
  const rows = markup.inline_keyboard as unknown[];
  for (const row of rows) {
    if (!Array.isArray(row)) throw new FakeTelegramError(400, 'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays');
    for (const button of row) {
      if (!isRecord(button) || typeof button.text !== 'string' || !button.text) throw new FakeTelegramError(400, 'Bad Request: BUTTON_TEXT_INVALID');
      if (typeof button.callback_data === 'string') {
        const bytes = new TextEncoder().encode(button.callback_data).byteLength;
        if (bytes < 1 || bytes > MAX_CALLBACK_DATA_BYTES) throw new FakeTelegramError(400, 'Bad Request: BUTTON_DATA_INVALID');
      } else if (typeof button.url !== 'string') throw new FakeTelegramError(400, "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard");
    }
  }
  // A keyboard without buttons is no keyboard.
  return rows.some((row) => (row as unknown[]).length) ? { reply_markup: { inline_keyboard: rows as InlineKeyboardMarkup['inline_keyboard'] } } : {};
}

function sameMarkup(a: InlineKeyboardMarkup | undefined, b: InlineKeyboardMarkup | undefined): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

function captionOf(params: Json): Json {
  if (typeof params.caption !== 'string') return {};
  if (params.caption.length > MAX_CAPTION_LENGTH) throw new FakeTelegramError(400, 'Bad Request: message caption is too long');
  return { caption: params.caption };
}

function commandsKey(scope: unknown, languageCode: unknown): string {
  const normalised = isRecord(scope) ? scope : { type: 'default' };
  const ordered = Object.keys(normalised).sort().map((k) => [k, normalised[k]]);
  return `${JSON.stringify(ordered)}|${typeof languageCode === 'string' ? languageCode : ''}`;
}

function titleOf(chat: Chat): string | undefined {
  return 'title' in chat ? chat.title : undefined;
}

function stringOr(value: unknown, fallback: string): string {
  return typeof value === 'string' ? value : fallback;
}

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
