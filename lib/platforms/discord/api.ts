import type { REST } from '@discordjs/rest';
import { CrsError } from '../../core/util/errors.ts';
import type { Env } from '../../core/config/paths.ts';

export const DEFAULT_DISCORD_API_URL = 'https://discord.com/api';
/** A rate limit longer than this is reported instead of waited out (a CLI should not hang for minutes). */
const MAX_RATE_LIMIT_WAIT_MS = 10_000;
/** More rate limits than this within a minute are reported instead of waited out. */
const MAX_RATE_LIMITS_PER_MINUTE = 3;

export interface DiscordChannel {
  id: string;
  type: number;
  name?: string;
  position?: number;
  parent_id?: string | null;
  topic?: string | null;
  thread_metadata?: { archived?: boolean; locked?: boolean };
  /** Who created a thread. */
  owner_id?: string;
}

export interface DiscordAttachment {
  id: string;
  filename: string;
  size: number;
  url: string;
  content_type?: string;
}

export interface DiscordMessage {
  id: string;
  content: string;
  timestamp: string;
  author: { id: string; username: string; global_name?: string | null; bot?: boolean };
  attachments?: DiscordAttachment[];
}

/** A file to attach to a message. */
export interface DiscordUpload {
  name: string;
  data: Uint8Array;
}

/** A message to post: text, optionally a reply to an earlier message and files. */
export interface DiscordOutgoingMessage {
  content: string;
  /** Message id this one replies to; sent even if that message is gone. */
  replyTo?: string;
  files?: DiscordUpload[];
}

/**
 * Discord's JSON error code for a channel (or thread) that does not exist. Only this code means
 * "deleted": a 404 without it (a wrong API URL, a proxy) says nothing about the channel.
 */
export const UNKNOWN_CHANNEL = 10003;

/** Text (0) and announcement (5) channels are sessions; categories, voice and forums are not. */
export const SESSION_CHANNEL_TYPES = [0, 5];
/** Announcement, public and private thread types. */
export const THREAD_TYPES = [10, 11, 12];

export interface DiscordApiOptions {
  token: string;
  /** `DISCORD_API_URL` (default https://discord.com/api); `/v10` is appended. */
  baseUrl?: string;
  timeoutMs?: number;
  /**
   * A REST client to make the calls on instead of one of our own: the gateway client's, so that one
   * process keeps one set of rate-limit buckets (its own limits are waited out, not reported).
   */
  rest?: REST;
}

/**
 * The process's one client for a token and base URL (`sharedDiscordApi`): discord.js's REST client
 * keeps the rate-limit buckets Discord announces, which help only when every call goes through it.
 */
let shared: { token: string; baseUrl: string; api: DiscordApi } | undefined;

/** The Discord REST client of this process for `token` and `baseUrl` (a new token gets a new one). */
export function sharedDiscordApi(token: string, baseUrl: string): DiscordApi {
  if (shared?.token !== token || shared.baseUrl !== baseUrl) shared = { token, baseUrl, api: new DiscordApi({ token, baseUrl }) };
  return shared.api;
}

/** The few Discord REST calls the engine makes, on discord.js's REST client, with errors made plain. */
export class DiscordApi {
  readonly baseUrl: string;
  private readonly token: string;
  private readonly timeoutMs: number;
  private client: Promise<{ rest: REST; errors: typeof import('@discordjs/rest') }> | undefined;
  private rateLimits: number[] = [];

  constructor(private readonly options: DiscordApiOptions) {
    this.baseUrl = (options.baseUrl || DEFAULT_DISCORD_API_URL).replace(/\/+$/, '');
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 15_000;
  }

  /** discord.js's REST client, loaded on first use so commands that never call Discord start fast. */
  private rest() {
    this.client ??= import('@discordjs/rest').then((errors) => ({
      errors,
      rest: this.options.rest ?? new errors.REST({
        api: this.baseUrl,
        retries: 1,
        timeout: this.timeoutMs,
        rejectOnRateLimit: (info) => {
          // Short limits are waited out, but not forever: a bot that stays limited is reported.
          const now = Date.now();
          this.rateLimits = this.rateLimits.filter((t) => now - t < 60_000).concat(now);
          return info.retryAfter > MAX_RATE_LIMIT_WAIT_MS || this.rateLimits.length > MAX_RATE_LIMITS_PER_MINUTE;
        },
        makeRequest: fetch as never,
      }).setToken(this.token),
    }));
    return this.client;
  }

  async getGuild(guildId: string): Promise<{ id: string; name: string }> {
    return this.call('GET', `/guilds/${guildId}`);
  }

  async listChannels(guildId: string): Promise<DiscordChannel[]> {
    return this.call('GET', `/guilds/${guildId}/channels`);
  }

  async listActiveThreads(guildId: string): Promise<DiscordChannel[]> {
    const data = await this.call<{ threads?: DiscordChannel[] }>('GET', `/guilds/${guildId}/threads/active`);
    return data.threads ?? [];
  }

  /** A channel, or null when Discord says it does not exist (404 with Unknown Channel, 10003). */
  async getChannel(channelId: string): Promise<DiscordChannel | null> {
    try {
      return await this.call('GET', `/channels/${channelId}`, undefined, true);
    } catch (error) {
      const { errors } = await this.rest();
      if (error instanceof errors.DiscordAPIError && error.status === 404 && error.code === UNKNOWN_CHANNEL) return null;
      throw this.wrap(error, 'GET', `/channels/${channelId}`, errors);
    }
  }

  /** The last `limit` messages, newest first as Discord returns them. */
  async fetchMessages(channelId: string, limit: number): Promise<DiscordMessage[]> {
    return this.call('GET', `/channels/${channelId}/messages?limit=${Math.max(1, Math.min(100, limit))}`);
  }

  /** Posts a plain message to a channel or thread; it mentions nobody. */
  /** The DM channel between the bot and a user (opened on first use). */
  async openDm(userId: string): Promise<string> {
    return (await this.call<{ id: string }>('POST', '/users/@me/channels', { recipient_id: userId })).id;
  }

  async sendMessage(channelId: string, content: string): Promise<DiscordMessage> {
    return this.call('POST', `/channels/${channelId}/messages`, { content: content.slice(0, 2000), allowed_mentions: { parse: [] } });
  }

  /**
   * Posts a message with optional reply reference and files. Only users named in the text are pinged
   * (never @everyone, @here or roles).
   */
  async postMessage(channelId: string, message: DiscordOutgoingMessage): Promise<DiscordMessage> {
    const body = {
      content: message.content,
      allowed_mentions: { parse: ['users'] },
      ...(message.replyTo ? { message_reference: { message_id: message.replyTo, fail_if_not_exists: false } } : {}),
      ...(message.files?.length ? { attachments: message.files.map((f, id) => ({ id, filename: f.name })) } : {}),
    };
    return this.call('POST', `/channels/${channelId}/messages`, body, false, message.files);
  }

  async getMessage(channelId: string, messageId: string): Promise<DiscordMessage> {
    return this.call('GET', `/channels/${channelId}/messages/${messageId}`);
  }

  /** Replaces the text of a message the bot sent. */
  async editMessage(channelId: string, messageId: string, content: string): Promise<DiscordMessage> {
    return this.call('PATCH', `/channels/${channelId}/messages/${messageId}`, { content, allowed_mentions: { parse: ['users'] } });
  }

  /** Adds the bot's reaction: a unicode emoji, or a custom one as `<:name:id>` or `name:id`. */
  async addReaction(channelId: string, messageId: string, emoji: string): Promise<void> {
    const custom = /^<a?:(\w+):(\d+)>$/.exec(emoji.trim());
    const key = custom ? `${custom[1]}:${custom[2]}` : emoji.trim();
    await this.call('PUT', `/channels/${channelId}/messages/${messageId}/reactions/${encodeURIComponent(key)}/@me`);
  }

  /** The bot's own user. */
  async getCurrentUser(): Promise<{ id: string; username: string }> {
    return this.call('GET', '/users/@me');
  }

  async createChannel(guildId: string, name: string): Promise<DiscordChannel> {
    return this.call('POST', `/guilds/${guildId}/channels`, { name, type: 0 });
  }

  async setTopic(channelId: string, topic: string): Promise<DiscordChannel> {
    return this.call('PATCH', `/channels/${channelId}`, { topic });
  }

  /** Replaces the bot's slash commands in a guild with `commands`; returns what Discord registered. */
  async setGuildCommands(guildId: string, commands: readonly unknown[]): Promise<unknown[]> {
    const app = await this.call<{ id: string }>('GET', '/applications/@me');
    return this.call('PUT', `/applications/${app.id}/guilds/${guildId}/commands`, commands);
  }

  private async call<T>(method: 'GET' | 'POST' | 'PATCH' | 'PUT', path: string, body?: unknown, raw = false, files?: DiscordUpload[]): Promise<T> {
    const [route, query] = path.split('?') as [`/${string}`, string | undefined];
    const { rest, errors } = await this.rest();
    // discord.js forgets the token after a 401; a client that lives on (a daemon's) tries it again.
    if (!this.options.rest) rest.setToken(this.token);
    try {
      const options = { body, query: query ? new URLSearchParams(query) : undefined, ...(files?.length ? { files } : {}) };
      if (method === 'GET') return (await rest.get(route, options)) as T;
      if (method === 'POST') return (await rest.post(route, options)) as T;
      if (method === 'PUT') return (await rest.put(route, options)) as T;
      return (await rest.patch(route, options)) as T;
    } catch (error) {
      if (raw) throw error;
      throw this.wrap(error, method, path, errors);
    }
  }

  /** One line that names the request, what Discord said, and what to do about it. */
  private wrap(error: unknown, method: string, path: string, errors: typeof import('@discordjs/rest')): CrsError {
    const url = `${this.baseUrl}/v10${path}`;
    if (error instanceof errors.DiscordAPIError || error instanceof errors.HTTPError) {
      const status = error.status;
      // Discord names what it did not find with a code; a 404 without one may come from a wrong base URL.
      const coded = error instanceof errors.DiscordAPIError && typeof error.code === 'number' && error.code > 0;
      const hints: Record<number, string> = {
        401: 'The bot token was rejected: check DISCORD_BOT_TOKEN in ~/.claude/channels/discord/.env.',
        403: 'The bot lacks a permission here (View Channels, Read Message History, Manage Channels): fix its role.',
        404: coded ? 'Check the id (DISCORD_GUILD_ID in config.env, or the channel id).' : 'Check the id (DISCORD_GUILD_ID in config.env, or the channel id), and DISCORD_API_URL.',
        429: 'Discord is rate limiting the bot: try again in a minute.',
      };
      return new CrsError(`Discord ${method} ${url} failed with HTTP ${status}: ${error.message}.`, {
        cause: error,
        hint: hints[status] ?? (status >= 500 ? 'Discord is having trouble: try again later.' : undefined),
      });
    }
    if (error instanceof errors.RateLimitError) {
      return new CrsError(`Discord ${method} ${url} is rate limited for ${Math.ceil(error.retryAfter / 1000)} s.`, {
        cause: error,
        hint: 'Try again after that.',
      });
    }
    const message = (error instanceof Error ? error.message : String(error)).trim();
    // Bun's connect error already ends in "?": no second stop after it.
    return new CrsError(`Discord API unreachable at ${url}: ${message}${/[.?!]$/.test(message) ? '' : '.'}`, {
      cause: error,
      hint: 'Check the network connection (or DISCORD_API_URL).',
    });
  }
}

/** The Discord API base URL from the environment. */
export function discordApiUrl(env: Env): string {
  return env.DISCORD_API_URL || DEFAULT_DISCORD_API_URL;
}
