import { CrsError } from '../../core/util/errors.ts';
import { DEFAULT_DISCORD_API_URL, type DiscordMessage, type DiscordOutgoingMessage, type DiscordUpload } from './api.ts';

/** A request that takes longer than this is given up (one that uploads files gets `UPLOAD_TIMEOUT_MS`). */
const TIMEOUT_MS = 15_000;
const UPLOAD_TIMEOUT_MS = 5 * 60_000;
/** A rate limit up to this long is waited out once; a longer one is reported. */
const MAX_RATE_LIMIT_WAIT_MS = 10_000;
const USER_AGENT = 'DiscordBot (claude-remote-sessions, 0.1.0)';

export interface DiscordRestOptions {
  token: string;
  /** `DISCORD_API_URL` (default https://discord.com/api); `/v10` is appended. */
  baseUrl?: string;
  fetch?: typeof fetch;
}

/** What Discord answered a failed request with: status, its JSON error code and message. */
export class DiscordRestError extends CrsError {
  constructor(
    message: string,
    readonly status: number,
    readonly code: number | undefined,
    hint?: string,
  ) {
    super(message, { hint });
    this.name = 'DiscordRestError';
  }
}

/**
 * The Discord REST calls a bridge makes, on `fetch` alone: discord.js's REST client (lib/platforms/
 * discord/api.ts, for the daemons and the CLI) costs ~20 MB in a process that runs once per session.
 * Errors read as DiscordApi's.
 */
export class DiscordRest {
  readonly baseUrl: string;
  private readonly fetch: typeof fetch;

  constructor(private readonly options: DiscordRestOptions) {
    this.baseUrl = (options.baseUrl || DEFAULT_DISCORD_API_URL).replace(/\/+$/, '');
    this.fetch = options.fetch ?? fetch;
  }

  /** The bot's own user. */
  getCurrentUser(): Promise<{ id: string; username: string }> {
    return this.call('GET', '/users/@me');
  }

  /** Posts a plain message to a channel or thread; it mentions nobody. */
  sendMessage(channelId: string, content: string): Promise<DiscordMessage> {
    return this.call('POST', `/channels/${channelId}/messages`, { content: content.slice(0, 2000), allowed_mentions: { parse: [] } });
  }

  /** Posts a message with an optional reply reference and files; only users named in the text are pinged. */
  postMessage(channelId: string, message: DiscordOutgoingMessage): Promise<DiscordMessage> {
    const body = {
      content: message.content,
      allowed_mentions: { parse: ['users'] },
      ...(message.replyTo ? { message_reference: { message_id: message.replyTo, fail_if_not_exists: false } } : {}),
      ...(message.files?.length ? { attachments: message.files.map((f, id) => ({ id, filename: f.name })) } : {}),
    };
    return this.call('POST', `/channels/${channelId}/messages`, body, message.files);
  }

  getMessage(channelId: string, messageId: string): Promise<DiscordMessage> {
    return this.call('GET', `/channels/${channelId}/messages/${messageId}`);
  }

  /** The last `limit` messages, newest first as Discord returns them. */
  fetchMessages(channelId: string, limit: number): Promise<DiscordMessage[]> {
    return this.call('GET', `/channels/${channelId}/messages?limit=${Math.max(1, Math.min(100, limit))}`);
  }

  /** Replaces the text of a message the bot sent. */
  editMessage(channelId: string, messageId: string, content: string): Promise<DiscordMessage> {
    return this.call('PATCH', `/channels/${channelId}/messages/${messageId}`, { content, allowed_mentions: { parse: ['users'] } });
  }

  /** Adds the bot's reaction: a unicode emoji, or a custom one as `<:name:id>` or `name:id`. */
  async addReaction(channelId: string, messageId: string, emoji: string): Promise<void> {
    const custom = /^<a?:(\w+):(\d+)>$/.exec(emoji.trim());
    const key = custom ? `${custom[1]}:${custom[2]}` : emoji.trim();
    await this.call('PUT', `/channels/${channelId}/messages/${messageId}/reactions/${encodeURIComponent(key)}/@me`);
  }

  private async call<T>(method: 'GET' | 'POST' | 'PATCH' | 'PUT', path: string, body?: unknown, files?: DiscordUpload[]): Promise<T> {
    const url = `${this.baseUrl}/v10${path}`;
    for (let attempt = 1; ; attempt++) {
      let response: Response;
      try {
        response = await this.fetch(url, {
          method,
          headers: { authorization: `Bot ${this.options.token}`, 'user-agent': USER_AGENT, ...(body !== undefined && !files?.length ? { 'content-type': 'application/json' } : {}) },
          body: files?.length ? formOf(body, files) : body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(files?.length ? UPLOAD_TIMEOUT_MS : TIMEOUT_MS),
        });
      } catch (error) {
        const message = (error instanceof Error ? error.message : String(error)).trim();
        // Bun's connect error already ends in "?": no second stop after it.
        throw new CrsError(`Discord API unreachable at ${url}: ${message}${/[.?!]$/.test(message) ? '' : '.'}`, {
          cause: error,
          hint: 'Check the network connection (or DISCORD_API_URL).',
        });
      }
      const text = await response.text();
      if (response.ok) return (text ? JSON.parse(text) : undefined) as T;
      const error = parseError(text);
      if (response.status === 429) {
        const waitMs = Math.ceil((Number(error.retry_after ?? response.headers.get('retry-after')) || 1) * 1000);
        if (attempt === 1 && waitMs <= MAX_RATE_LIMIT_WAIT_MS) {
          await Bun.sleep(waitMs);
          continue;
        }
        throw new DiscordRestError(`Discord ${method} ${url} is rate limited for ${Math.ceil(waitMs / 1000)} s.`, 429, error.code, 'Try again after that.');
      }
      const reason = error.message ?? response.statusText ?? 'no reason given';
      throw new DiscordRestError(`Discord ${method} ${url} failed with HTTP ${response.status}: ${reason}.`, response.status, error.code, hintFor(response.status));
    }
  }
}

/** Discord's multipart form: the JSON body as `payload_json`, each file as `files[i]`. */
function formOf(body: unknown, files: DiscordUpload[]): FormData {
  const form = new FormData();
  form.append('payload_json', JSON.stringify(body ?? {}));
  files.forEach((file, index) => form.append(`files[${index}]`, new Blob([file.data as Uint8Array<ArrayBuffer>]), file.name));
  return form;
}

function parseError(text: string): { message?: string; code?: number; retry_after?: number } {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null ? (value as { message?: string; code?: number; retry_after?: number }) : {};
  } catch {
    return {};
  }
}

function hintFor(status: number): string | undefined {
  const hints: Record<number, string> = {
    401: 'The bot token was rejected: check DISCORD_BOT_TOKEN in ~/.claude/channels/discord/.env.',
    403: 'The bot lacks a permission here (View Channels, Read Message History, Manage Channels): fix its role.',
    404: 'Check the id (DISCORD_GUILD_ID in config.env, or the channel id).',
  };
  return hints[status] ?? (status >= 500 ? 'Discord is having trouble: try again later.' : undefined);
}
