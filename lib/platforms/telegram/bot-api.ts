import type { File as TelegramFile, Message, ReactionType } from 'grammy/types';
import { CrsError } from '../../core/util/errors.ts';

/** A JSON call that takes longer than this is given up (an upload gets `UPLOAD_TIMEOUT_MS`). */
const CALL_TIMEOUT_MS = 60_000;
const UPLOAD_TIMEOUT_MS = 5 * 60_000;

export interface BotApiOptions {
  token: string;
  /** `TELEGRAM_API_URL` (default https://api.telegram.org), without a trailing slash. */
  apiRoot: string;
  fetch?: typeof fetch;
}

/** A file to upload: its bytes and the name Telegram shows. */
export interface BotApiUpload {
  data: Uint8Array;
  name: string;
}

type Params = Record<string, unknown>;

/** What Telegram answered `{ ok: false }` with: the method, `error_code` and `description` as fields. */
export class BotApiError extends CrsError {
  constructor(
    readonly method: string,
    readonly errorCode: number,
    readonly description: string,
    readonly retryAfter?: number,
  ) {
    super(`Telegram ${method} failed with ${errorCode}: ${description}.`, { hint: hintFor(errorCode, retryAfter) });
    this.name = 'BotApiError';
  }
}

/**
 * The few Bot API calls a bridge makes, on `fetch` (grammY costs ~10 MB in a process that runs once
 * per session; the router keeps grammY): `POST <apiRoot>/bot<token>/<method>` with a JSON body, or a
 * multipart one for an upload. `{ ok: false }` becomes a BotApiError naming the method.
 */
export class BotApi {
  private readonly fetch: typeof fetch;

  constructor(private readonly options: BotApiOptions) {
    this.fetch = options.fetch ?? fetch;
  }

  sendMessage(chatId: string, text: string, extra: Params = {}): Promise<Message.TextMessage> {
    return this.call('sendMessage', { chat_id: chatId, text, ...extra });
  }

  sendPhoto(chatId: string, photo: BotApiUpload, extra: Params = {}): Promise<Message.PhotoMessage> {
    return this.call('sendPhoto', { chat_id: chatId, ...extra }, { photo });
  }

  sendDocument(chatId: string, document: BotApiUpload, extra: Params = {}): Promise<Message.DocumentMessage> {
    return this.call('sendDocument', { chat_id: chatId, ...extra }, { document });
  }

  setMessageReaction(chatId: string, messageId: number, reaction: ReactionType[]): Promise<true> {
    return this.call('setMessageReaction', { chat_id: chatId, message_id: messageId, reaction });
  }

  /** The edited message, or `true` for a message sent via inline mode. */
  editMessageText(chatId: string, messageId: number, text: string, extra: Params = {}): Promise<Message | true> {
    return this.call('editMessageText', { chat_id: chatId, message_id: messageId, text, ...extra });
  }

  getFile(fileId: string): Promise<TelegramFile> {
    return this.call('getFile', { file_id: fileId });
  }

  /** One Bot API call; `files` (field → upload) make it a multipart request. */
  async call<T>(method: string, params: Params, files?: Record<string, BotApiUpload>): Promise<T> {
    const url = `${this.options.apiRoot}/bot${this.options.token}/${method}`;
    let response: Response;
    try {
      response = await this.fetch(url, {
        method: 'POST',
        ...(files ? { body: formOf(params, files) } : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(params) }),
        signal: AbortSignal.timeout(files ? UPLOAD_TIMEOUT_MS : CALL_TIMEOUT_MS),
      });
    } catch (error) {
      const message = (error instanceof Error ? error.message : String(error)).replaceAll(this.options.token, '<token>').trim();
      throw new CrsError(`Telegram ${method} failed: the Bot API at ${this.options.apiRoot} is unreachable (${message}).`, {
        cause: error,
        hint: 'Check the network connection (or TELEGRAM_API_URL).',
      });
    }
    let body: { ok?: boolean; result?: T; error_code?: number; description?: string; parameters?: { retry_after?: number } };
    try {
      body = (await response.json()) as typeof body;
    } catch (error) {
      throw new CrsError(`Telegram ${method} failed with HTTP ${response.status}: the answer is not JSON.`, { cause: error });
    }
    if (body.ok) return body.result as T;
    throw new BotApiError(method, body.error_code ?? response.status, body.description ?? 'no description', body.parameters?.retry_after);
  }
}

function formOf(params: Params, files: Record<string, BotApiUpload>): FormData {
  const form = new FormData();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined) form.append(key, typeof value === 'object' ? JSON.stringify(value) : String(value));
  }
  for (const [field, file] of Object.entries(files)) form.append(field, new Blob([file.data as Uint8Array<ArrayBuffer>]), file.name);
  return form;
}

function hintFor(code: number, retryAfter?: number): string | undefined {
  if (code === 401 || code === 404) return 'The bot token was rejected: check TELEGRAM_BOT_TOKEN in ~/.claude/channels/telegram/.env.';
  if (code === 403) return 'The bot may not write to this chat (blocked, or removed from the group).';
  if (code === 429) return `Telegram is rate limiting the bot: try again in ${retryAfter ?? 'a few'} seconds.`;
  if (code >= 500) return 'Telegram is having trouble: try again later.';
  return undefined;
}
