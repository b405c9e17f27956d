import type { Server, ServerWebSocket } from 'bun';
import {
  type APIApplicationCommand,
  type APIApplicationCommandAutocompleteGuildInteraction,
  type APIApplicationCommandInteractionDataOption,
  type APIAttachment,
  type APIChatInputApplicationCommandGuildInteraction,
  type APIMessage,
  type APIMessageComponentDMInteraction,
  type APIMessageComponentGuildInteraction,
  type APIUser,
  type ApplicationFlags,
  ApplicationCommandType,
  ComponentType,
  type GatewayIdentifyData,
  type GatewayReadyDispatchData,
  type GatewayResumeData,
  GatewayCloseCodes,
  GatewayDispatchEvents,
  GatewayIntentBits,
  GatewayOpcodes,
  type GuildMemberFlags,
  InteractionResponseType,
  InteractionType,
  Locale,
  MessageFlags,
  MessageType,
} from 'discord-api-types/v10';

/** A channel or thread as the fake stores it (Discord's REST shape). */
export interface FakeChannel {
  id: string;
  type: number;
  name: string;
  position?: number;
  parent_id?: string | null;
  topic?: string | null;
  guild_id?: string;
  thread_metadata?: { archived: boolean; locked?: boolean };
  /** The user who created a thread (default: the fake's owner). */
  owner_id?: string;
  /** A DM channel's other party. */
  recipients?: Array<{ id: string; username: string }>;
}

/** A file that arrived in a multipart request. */
export interface FakeFile {
  /** The form field, e.g. `files[0]`. */
  field: string;
  name: string;
  size: number;
  contentType: string;
}

export interface FakeMessage {
  id: string;
  content: string;
  timestamp: string;
  author: { id: string; username: string };
  /** Only on messages the bot sent with attachments. */
  files?: FakeFile[];
  /** Only on messages the bot sent with embeds. */
  embeds?: unknown[];
  /** Only on messages the bot edited. */
  edited_timestamp?: string;
  /** Files a user attached, as Discord lists them (see `attachFile`). */
  attachments?: APIAttachment[];
  /** Emoji the bot reacted with (`PUT …/reactions/{emoji}/@me`), in order. */
  reactions?: string[];
  /** Action rows (buttons) of a message the bot sent with them; an edit or an UPDATE_MESSAGE can replace them (`[]`: none). */
  components?: unknown[];
}

export interface FakeRequest {
  method: string;
  path: string;
  body: unknown;
  /** Present only for multipart requests that carried files. */
  files?: FakeFile[];
}

export interface FakeDiscordOptions {
  token?: string;
  guildId?: string;
  guildName?: string;
  /** The bot user's id; also the application id unless `applicationId` is given. */
  botId?: string;
  botName?: string;
  applicationId?: string;
  ownerId?: string;
}

/** An IDENTIFY the gateway received. */
export type FakeIdentify = GatewayIdentifyData;

/** A command as registered through the REST API; `guild_id` is absent for global commands. */
export type FakeCommand = APIApplicationCommand;

export type FakeReplyKind = 'callback' | 'edit-original' | 'delete-original' | 'followup' | 'edit-followup';

/** One response the client sent for an interaction, in arrival order. */
export interface FakeInteractionReply {
  kind: FakeReplyKind;
  method: string;
  path: string;
  /** The callback type (4 message, 5 deferred, 6/7 update, 8 autocomplete, 9 modal); callbacks only. */
  type?: number;
  /** The JSON body, or the parsed `payload_json` of a multipart body. */
  body: unknown;
  /** The message part: `body.data` for callbacks, `body` for webhook requests. */
  data: Record<string, unknown> | undefined;
  files: FakeFile[];
}

export interface FakeInteractionOptions {
  /** The command name (`data.name`). */
  name: string;
  /** `command` (INTERACTION_CREATE type 2, the default) or `autocomplete` (type 4). */
  type?: 'command' | 'autocomplete';
  channelId: string;
  /** Options as Discord sends them; mark the option being typed with `focused: true` for autocomplete. */
  options?: APIApplicationCommandInteractionDataOption[];
  user?: { id: string; username: string; globalName?: string | null };
  /** Defaults to the id of the registered command of that name, else a fresh id. */
  commandId?: string;
  /** Member permissions bitfield as a decimal string; default "0". */
  permissions?: string;
  locale?: Locale;
}

/** A click on a button of a stored message (see `componentInteraction`). */
export interface FakeComponentInteractionOptions {
  channelId: string;
  /** The stored message whose button is clicked; it travels in the payload, as discord.js needs it. */
  messageId: string;
  customId: string;
  /** Anyone: the owner (default) or a stranger. */
  user?: { id: string; username: string; globalName?: string | null };
}

export type FakeComponentPayload = APIMessageComponentGuildInteraction | APIMessageComponentDMInteraction;

export type FakeInteractionPayload = APIChatInputApplicationCommandGuildInteraction | APIApplicationCommandAutocompleteGuildInteraction | FakeComponentPayload;

/** A failure the next matching requests get: HTTP status (429 adds retry headers). */
interface Failure {
  pattern: RegExp;
  status: number;
  retryAfter?: number;
  /** A 429 for every route of the bot (`X-RateLimit-Global`), not just this one. */
  global?: boolean;
  remaining: number;
}

interface GatewaySocket {
  connection: number;
  intents: number;
  sessionId?: string;
  seq: number;
}

interface ParsedBody {
  body: unknown;
  files: FakeFile[];
}

type Json = Record<string, unknown>;

const API_VERSION = 10;
const HEARTBEAT_INTERVAL_MS = 45_000;
const DEFAULT_REPLY_TIMEOUT_MS = 2_000;
const ATTACHMENT_SIZE_LIMIT_BYTES = 10 * 1024 * 1024;
/** Events a client only receives with the given intent. */
const EVENT_INTENTS: Record<string, number> = {
  CHANNEL_CREATE: GatewayIntentBits.Guilds,
  CHANNEL_UPDATE: GatewayIntentBits.Guilds,
  CHANNEL_DELETE: GatewayIntentBits.Guilds,
  THREAD_CREATE: GatewayIntentBits.Guilds,
  THREAD_UPDATE: GatewayIntentBits.Guilds,
  THREAD_DELETE: GatewayIntentBits.Guilds,
  MESSAGE_CREATE: GatewayIntentBits.GuildMessages,
  MESSAGE_UPDATE: GatewayIntentBits.GuildMessages,
  MESSAGE_DELETE: GatewayIntentBits.GuildMessages,
};

let nextId = 1_300_000_000_000_000_000n;

/** A new snowflake-shaped id. */
export function snowflake(): string {
  nextId += 1n;
  return String(nextId);
}

/** An interaction the fake dispatched, collecting the responses the client sends for it. */
export class FakeInteractionHandle {
  readonly id: string;
  readonly token: string;
  readonly channelId: string;
  readonly payload: FakeInteractionPayload;
  /** The original response message once a type 4/5 callback arrived. */
  original: APIMessage | undefined;
  readonly followups: APIMessage[] = [];
  /** For a button click: the message the button is on (UPDATE_MESSAGE and `@original` edits change it). */
  readonly componentMessage: { channelId: string; messageId: string } | undefined;
  private readonly received: FakeInteractionReply[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(payload: FakeInteractionPayload) {
    this.id = payload.id;
    this.token = payload.token;
    this.channelId = payload.channel_id ?? '';
    this.payload = payload;
    if (payload.type === InteractionType.MessageComponent) this.componentMessage = { channelId: this.channelId, messageId: payload.message.id };
  }

  /** What the interaction is, for errors: the command name or the button's custom_id. */
  get label(): string {
    return 'custom_id' in this.payload.data ? this.payload.data.custom_id : this.payload.data.name;
  }

  /** Whether a callback (the one allowed acknowledgement) has arrived. */
  get acknowledged(): boolean {
    return this.received.some((r) => r.kind === 'callback');
  }

  replies(): FakeInteractionReply[] {
    return [...this.received];
  }

  /** The first response; rejects after `timeoutMs` without one. */
  async waitForReply(timeoutMs = DEFAULT_REPLY_TIMEOUT_MS): Promise<FakeInteractionReply> {
    return (await this.waitForReplies(1, timeoutMs))[0]!;
  }

  /** The first `count` responses; rejects after `timeoutMs` with fewer, naming what did arrive. */
  waitForReplies(count: number, timeoutMs = DEFAULT_REPLY_TIMEOUT_MS): Promise<FakeInteractionReply[]> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.received.length < count) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(this.received.slice(0, count));
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        const got = this.received.map((r) => r.kind).join(', ') || 'nothing';
        reject(new Error(`Interaction "${this.label}" got ${got} instead of ${count} replies within ${timeoutMs} ms.`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** @internal Called by FakeDiscord for each request on this interaction. */
  record(reply: FakeInteractionReply): void {
    this.received.push(reply);
    for (const waiter of [...this.waiters]) waiter();
  }
}

/**
 * Discord REST v10 and gateway on 127.0.0.1: guild, channels, threads, messages, application commands and
 * interactions. A real discord.js `Client` given `rest: { api: fake.url }` logs in, receives the events the
 * `*Event` helpers dispatch and answers interactions injected with `interaction()`.
 */
export class FakeDiscord {
  readonly token: string;
  readonly guildId: string;
  guildName: string;
  readonly applicationId: string;
  readonly ownerId: string;
  readonly botUser: APIUser;
  readonly channels = new Map<string, FakeChannel>();
  readonly messages = new Map<string, FakeMessage[]>();
  readonly requests: FakeRequest[] = [];
  /** The user agent of each of `requests`: the gateway client's says `discord.js/<version>`. */
  readonly userAgents = new WeakMap<FakeRequest, string>();
  /** Commands registered through the REST API (guild and global). */
  readonly commands: FakeCommand[] = [];
  /** IDENTIFY payloads the gateway received, token included. */
  readonly identifies: FakeIdentify[] = [];
  /** Every op the gateway received from clients, in order. */
  readonly gatewayLog: { op: number; d: unknown }[] = [];
  readonly interactions = new Map<string, FakeInteractionHandle>();
  private failures: Failure[] = [];
  private server: Server<GatewaySocket> | undefined;
  private readonly sockets = new Set<ServerWebSocket<GatewaySocket>>();
  /** Session id → last sequence number, for RESUME. */
  private readonly sessions = new Map<string, number>();
  private connectionCount = 0;
  /** Attachment id → the bytes its URL serves. */
  private readonly attachmentBytes = new Map<string, { bytes: Uint8Array; contentType: string }>();

  constructor(options: FakeDiscordOptions = {}) {
    this.token = options.token ?? 'fake-bot-token-0123456789abcdef';
    this.guildId = options.guildId ?? '1100000000000000001';
    this.guildName = options.guildName ?? 'Test Guild';
    const botId = options.botId ?? '1200000000000000001';
    this.applicationId = options.applicationId ?? botId;
    this.ownerId = options.ownerId ?? '1000000000000000001';
    this.botUser = { id: botId, username: options.botName ?? 'fake-bot', discriminator: '0', global_name: null, avatar: null, bot: true };
  }

  /** The base URL to give as DISCORD_API_URL. */
  get url(): string {
    return `http://${this.host}/api`;
  }

  /** The gateway URL `GET /gateway/bot` announces. */
  get gatewayUrl(): string {
    return `ws://${this.host}/gateway`;
  }

  /** Gateway connections that completed IDENTIFY or RESUME and receive dispatches. */
  get gatewayClients(): number {
    return [...this.sockets].filter((s) => s.data.sessionId).length;
  }

  start(): this {
    this.server = Bun.serve<GatewaySocket>({
      hostname: '127.0.0.1',
      port: 0,
      fetch: (request, server) => this.handle(request, server),
      websocket: {
        open: (ws) => this.onGatewayOpen(ws),
        message: (ws, message) => this.onGatewayMessage(ws, message),
        close: (ws) => {
          this.sockets.delete(ws);
        },
      },
    });
    return this;
  }

  async stop(): Promise<void> {
    for (const ws of this.sockets) ws.close(1001, 'Fake stopping');
    this.sockets.clear();
    await this.server?.stop(true);
    this.server = undefined;
  }

  addChannel(name: string, options: Partial<FakeChannel> = {}): FakeChannel {
    const channel: FakeChannel = { id: snowflake(), type: 0, name, position: this.channels.size, guild_id: this.guildId, ...options };
    this.channels.set(channel.id, channel);
    return channel;
  }

  addThread(parentId: string, name: string, options: Partial<FakeChannel> = {}): FakeChannel {
    return this.addChannel(name, { type: 11, parent_id: parentId, thread_metadata: { archived: false }, owner_id: this.ownerId, ...options });
  }

  addMessage(channelId: string, username: string, content: string, timestamp = new Date().toISOString()): FakeMessage {
    const message = { id: snowflake(), content, timestamp, author: { id: snowflake(), username } };
    this.storeMessage(channelId, message);
    return message;
  }

  /** The next `times` requests whose "METHOD /path" matches get `status` (a 429: `global` for all routes). */
  fail(pattern: RegExp, status: number, times = Number.POSITIVE_INFINITY, retryAfter?: number, global = false): void {
    this.failures.push({ pattern, status, remaining: times, retryAfter, global });
  }

  /**
   * Attaches a file to a stored message, as a user's upload: it is listed in the message's `attachments`
   * and its bytes are served at its `url` on this fake (no token needed, like Discord's CDN).
   */
  attachFile(channelId: string, messageId: string, file: { name: string; bytes: Uint8Array | string; contentType?: string; size?: number }): APIAttachment {
    const message = this.messages.get(channelId)?.find((m) => m.id === messageId);
    if (!message) throw new Error(`FakeDiscord has no message ${messageId} in channel ${channelId}.`);
    const bytes = typeof file.bytes === 'string' ? new TextEncoder().encode(file.bytes) : file.bytes;
    const id = snowflake();
    const contentType = file.contentType ?? 'application/octet-stream';
    const url = `http://${this.host}/attachments/${channelId}/${id}/${encodeURIComponent(file.name)}`;
    const attachment: APIAttachment = { id, filename: file.name, size: file.size ?? bytes.byteLength, url, proxy_url: url, content_type: contentType };
    this.attachmentBytes.set(id, { bytes, contentType });
    message.attachments = [...(message.attachments ?? []), attachment];
    return attachment;
  }

  clearFailures(): void {
    this.failures = [];
  }

  // --- gateway events -------------------------------------------------------------------------------

  /**
   * Sends dispatch `t` to every connected gateway client whose intents cover it; MESSAGE_* content from
   * users is blanked for clients without the MessageContent intent, as Discord does.
   */
  dispatch(t: string, d: object): void {
    // A message without a guild is a DM: those come with the DirectMessages intent.
    const dm = t.startsWith('MESSAGE_') && !('guild_id' in d);
    const intent = dm ? GatewayIntentBits.DirectMessages : EVENT_INTENTS[t];
    for (const ws of this.sockets) {
      if (!ws.data.sessionId) continue;
      if (intent !== undefined && (ws.data.intents & intent) === 0) continue;
      let data = d;
      const fromBot = (d as { author?: { id?: string } }).author?.id === this.botUser.id;
      if (t.startsWith('MESSAGE_') && !dm && 'content' in d && !fromBot && (ws.data.intents & GatewayIntentBits.MessageContent) === 0) {
        data = { ...d, content: '' };
      }
      this.send(ws, { op: GatewayOpcodes.Dispatch, t, s: this.nextSeq(ws), d: data });
    }
  }

  /** Adds a channel and dispatches CHANNEL_CREATE. */
  createChannelEvent(name: string, options: Partial<FakeChannel> = {}): FakeChannel {
    const channel = this.addChannel(name, options);
    this.dispatch(GatewayDispatchEvents.ChannelCreate, this.gatewayChannel(channel));
    return channel;
  }

  /** Adds a thread under `parentId` and dispatches THREAD_CREATE with `newly_created: true`. */
  createThreadEvent(parentId: string, name: string, options: Partial<FakeChannel> = {}): FakeChannel {
    const thread = this.addThread(parentId, name, options);
    this.dispatch(GatewayDispatchEvents.ThreadCreate, { ...this.gatewayChannel(thread), newly_created: true });
    return thread;
  }

  /** Removes a channel or thread and dispatches CHANNEL_DELETE or THREAD_DELETE. */
  deleteChannelEvent(id: string): void {
    const channel = this.channels.get(id);
    if (!channel) throw new Error(`FakeDiscord has no channel ${id} to delete.`);
    this.channels.delete(id);
    if (channel.type >= 10) {
      this.dispatch(GatewayDispatchEvents.ThreadDelete, { id, guild_id: this.guildId, parent_id: channel.parent_id ?? null, type: channel.type });
    } else {
      this.dispatch(GatewayDispatchEvents.ChannelDelete, this.gatewayChannel(channel));
    }
  }

  /** Marks a thread archived and dispatches THREAD_UPDATE. */
  archiveThreadEvent(id: string): FakeChannel {
    const thread = this.channels.get(id);
    if (!thread || thread.type < 10) throw new Error(`FakeDiscord has no thread ${id} to archive.`);
    thread.thread_metadata = { ...thread.thread_metadata, archived: true };
    this.dispatch(GatewayDispatchEvents.ThreadUpdate, this.gatewayChannel(thread));
    return thread;
  }

  /** Stores a message from a user and dispatches MESSAGE_CREATE for it. */
  messageEvent(
    channelId: string,
    message: { authorId?: string; username?: string; globalName?: string | null; content: string; files?: FakeFile[] },
  ): FakeMessage {
    const author: APIUser = {
      id: message.authorId ?? snowflake(),
      username: message.username ?? 'user',
      discriminator: '0',
      global_name: message.globalName ?? null,
      avatar: null,
    };
    const stored: FakeMessage = {
      id: snowflake(),
      content: message.content,
      timestamp: new Date().toISOString(),
      author: { id: author.id, username: author.username },
      ...(message.files?.length ? { files: message.files } : {}),
    };
    this.storeMessage(channelId, stored);
    const channel = this.channels.get(channelId);
    // A DM channel's message has neither guild nor member, but its channel type, as on Discord.
    const guild =
      channel && channel.guild_id === undefined
        ? { channel_type: channel.type }
        : { guild_id: this.guildId, member: { roles: [], joined_at: stored.timestamp, deaf: false, mute: false, flags: 0 } };
    this.dispatch(GatewayDispatchEvents.MessageCreate, { ...this.apiMessage(channelId, stored, author), ...guild });
    return stored;
  }

  /** Dispatches MESSAGE_CREATE again for a stored message (an event that also shows in the history a catch-up reads). */
  redispatchMessage(channelId: string, messageId: string): void {
    const stored = this.messages.get(channelId)?.find((m) => m.id === messageId);
    if (!stored) throw new Error(`FakeDiscord has no message ${messageId} in channel ${channelId}.`);
    const author: APIUser = { id: stored.author.id, username: stored.author.username, discriminator: '0', global_name: null, avatar: null };
    const member = { roles: [], joined_at: stored.timestamp, deaf: false, mute: false, flags: 0 };
    this.dispatch(GatewayDispatchEvents.MessageCreate, { ...this.apiMessage(channelId, stored, author), guild_id: this.guildId, member });
  }

  /** The DM channel between the bot and a user (created on first use, type 1, no guild). */
  dmChannel(user: { id: string; username: string }): FakeChannel {
    const existing = [...this.channels.values()].find((c) => c.type === 1 && c.recipients?.[0]?.id === user.id);
    if (existing) return existing;
    const channel: FakeChannel = { id: snowflake(), type: 1, name: '', recipients: [{ id: user.id, username: user.username }] };
    this.channels.set(channel.id, channel);
    return channel;
  }

  /** A user's direct message to the bot: stored in their DM channel and dispatched as MESSAGE_CREATE without a guild. */
  dmEvent(user: { id: string; username: string }, content: string): { channel: FakeChannel; message: FakeMessage } {
    const channel = this.dmChannel(user);
    return { channel, message: this.messageEvent(channel.id, { authorId: user.id, username: user.username, content }) };
  }

  /** A guild channel as an interaction carries it (a thread with its parent). */
  private interactionChannel(id: string, channel: FakeChannel | undefined) {
    return {
      id,
      type: channel?.type ?? 0,
      name: channel?.name ?? 'unknown',
      guild_id: this.guildId,
      ...(channel && channel.type >= 10 ? { parent_id: channel.parent_id ?? null } : {}),
    };
  }

  /** Dispatches INTERACTION_CREATE for a chat-input command or its autocomplete; the handle collects replies. */
  interaction(options: FakeInteractionOptions): FakeInteractionHandle {
    const channel = this.channels.get(options.channelId);
    const user = options.user ?? { id: this.ownerId, username: 'owner' };
    const registered = this.commands.find((c) => c.name === options.name && (c.guild_id === undefined || c.guild_id === this.guildId));
    const base = {
      id: snowflake(),
      application_id: this.applicationId,
      token: `fake-interaction-${crypto.randomUUID()}`,
      guild_id: this.guildId,
      guild: { id: this.guildId, features: [], locale: Locale.EnglishUS },
      channel_id: options.channelId,
      channel: this.interactionChannel(options.channelId, channel),
      member: {
        user: { id: user.id, username: user.username, discriminator: '0', global_name: user.globalName ?? null, avatar: null },
        roles: [],
        permissions: options.permissions ?? '0',
        joined_at: new Date(0).toISOString(),
        deaf: false,
        mute: false,
        flags: 0,
      },
      data: {
        id: options.commandId ?? registered?.id ?? snowflake(),
        name: options.name,
        type: ApplicationCommandType.ChatInput as const,
        guild_id: registered?.guild_id,
        options: options.options ?? [],
      },
      entitlements: [],
      authorizing_integration_owners: {},
      app_permissions: '2248473465835073',
      locale: options.locale ?? Locale.EnglishUS,
      guild_locale: Locale.EnglishUS,
      context: 0,
      attachment_size_limit: ATTACHMENT_SIZE_LIMIT_BYTES,
      version: 1 as const,
    };
    const payload: FakeInteractionPayload =
      options.type === 'autocomplete'
        ? { ...base, type: InteractionType.ApplicationCommandAutocomplete }
        : { ...base, type: InteractionType.ApplicationCommand };
    const handle = new FakeInteractionHandle(payload);
    this.interactions.set(handle.token, handle);
    this.dispatch(GatewayDispatchEvents.InteractionCreate, payload);
    return handle;
  }

  /**
   * Dispatches INTERACTION_CREATE for a click on a button of a stored message (type 3, component type 2),
   * by any user; in a DM channel it comes with `user` and no guild, as on Discord. The handle collects
   * the responses: 6 (deferred update), 7 (update: the message changes), 4 (a reply, ephemeral with flags 64).
   */
  componentInteraction(options: FakeComponentInteractionOptions): FakeInteractionHandle {
    const channel = this.channels.get(options.channelId);
    const stored = this.messages.get(options.channelId)?.find((m) => m.id === options.messageId);
    if (!stored) throw new Error(`FakeDiscord has no message ${options.messageId} in channel ${options.channelId}.`);
    const user = options.user ?? { id: this.ownerId, username: 'owner' };
    const apiUser: APIUser = { id: user.id, username: user.username, discriminator: '0', global_name: user.globalName ?? null, avatar: null };
    const author: APIUser =
      stored.author.id === this.botUser.id ? this.botUser : { id: stored.author.id, username: stored.author.username, discriminator: '0', global_name: null, avatar: null };
    const dm = channel !== undefined && channel.guild_id === undefined;
    const base = {
      id: snowflake(),
      application_id: this.applicationId,
      type: InteractionType.MessageComponent as const,
      token: `fake-interaction-${crypto.randomUUID()}`,
      channel_id: options.channelId,
      data: { custom_id: options.customId, component_type: ComponentType.Button as const },
      entitlements: [],
      authorizing_integration_owners: {},
      app_permissions: '2248473465835073',
      locale: Locale.EnglishUS,
      attachment_size_limit: ATTACHMENT_SIZE_LIMIT_BYTES,
      version: 1 as const,
    };
    const message = this.apiMessage(options.channelId, stored, author);
    const recipients = channel?.recipients?.map((r): APIUser => ({ ...r, discriminator: '0', global_name: null, avatar: null })) ?? [];
    const inDm: APIMessageComponentDMInteraction = { ...base, channel: { id: options.channelId, type: 1, recipients }, user: apiUser, message, context: 1 };
    const inGuild: APIMessageComponentGuildInteraction = {
      ...base,
      guild_id: this.guildId,
      guild: { id: this.guildId, features: [], locale: Locale.EnglishUS },
      guild_locale: Locale.EnglishUS,
      channel: this.interactionChannel(options.channelId, channel),
      member: { user: apiUser, roles: [], permissions: '0', joined_at: new Date(0).toISOString(), deaf: false, mute: false, flags: 0 as GuildMemberFlags },
      message: { ...message, guild_id: this.guildId } as APIMessage,
      context: 0,
    };
    const payload: FakeComponentPayload = dm ? inDm : inGuild;
    const handle = new FakeInteractionHandle(payload);
    this.interactions.set(handle.token, handle);
    this.dispatch(GatewayDispatchEvents.InteractionCreate, payload);
    return handle;
  }

  /** Closes every gateway connection with `code`; discord.js then reconnects and RESUMEs (4000) or re-IDENTIFYs. */
  closeGateway(code = 4000, reason = 'Fake reconnect'): void {
    for (const ws of this.sockets) ws.close(code, reason);
  }

  // --- HTTP -------------------------------------------------------------------------------------------

  private get host(): string {
    if (!this.server) throw new Error('FakeDiscord is not started');
    return `127.0.0.1:${this.server.port}`;
  }

  private async handle(request: Request, server: Server<GatewaySocket>): Promise<Response | undefined> {
    const url = new URL(request.url);
    if (url.pathname === '/gateway' || url.pathname === '/gateway/') {
      // discord.js sends ?v=10&encoding=json (plus &compress=zlib-stream only when zlib-sync is installed): frames stay plain JSON.
      this.connectionCount += 1;
      if (server.upgrade(request, { data: { connection: this.connectionCount, intents: 0, seq: 0 } })) return undefined;
      return new Response('Expected a WebSocket upgrade', { status: 426 });
    }
    const path = decodeURIComponent(url.pathname).replace(/^\/api\/v10/, '');
    const { body, files } = await parseBody(request);
    const recorded: FakeRequest = { method: request.method, path: `${path}${url.search}`, body, ...(files.length ? { files } : {}) };
    this.requests.push(recorded);
    this.userAgents.set(recorded, request.headers.get('user-agent') ?? '');

    const failure = this.failures.find((f) => f.remaining > 0 && f.pattern.test(`${request.method} ${path}`));
    if (failure) {
      failure.remaining--;
      if (failure.status === 429) {
        const after = failure.retryAfter ?? 60;
        return Response.json(
          { message: 'You are being rate limited.', retry_after: after, global: Boolean(failure.global) },
          { status: 429, headers: { 'retry-after': String(after), 'x-ratelimit-scope': 'user', ...(failure.global ? { 'x-ratelimit-global': 'true' } : {}) } },
        );
      }
      return Response.json({ message: `Fake failure ${failure.status}`, code: 0 }, { status: failure.status });
    }
    // Attachment downloads, like Discord's CDN, need no token.
    const attachment = /^\/attachments\/\d+\/(\d+)\/[^/]+$/.exec(url.pathname);
    if (attachment && request.method === 'GET') {
      const stored = this.attachmentBytes.get(attachment[1]!);
      return stored ? new Response(stored.bytes, { headers: { 'content-type': stored.contentType } }) : new Response('Not Found', { status: 404 });
    }
    // Interaction callbacks and interaction webhooks are authorised by their token, not the bot token.
    const interactionReply = this.routeInteraction(request.method, path, url, body, files);
    if (interactionReply) return interactionReply;
    if (request.headers.get('authorization') !== `Bot ${this.token}`) {
      return Response.json({ message: '401: Unauthorized', code: 0 }, { status: 401 });
    }
    return this.route(request.method, path, url, body as Json | undefined, files);
  }

  private route(method: string, path: string, url: URL, body: Json | undefined, files: FakeFile[]): Response {
    const notFound = (what = 'Unknown Channel', code = 10003) => Response.json({ message: what, code }, { status: 404 });
    let m: RegExpExecArray | null;
    if ((path === '/gateway/bot' || path === '/gateway') && method === 'GET') {
      return Response.json({
        url: this.gatewayUrl,
        shards: 1,
        session_start_limit: { total: 1000, remaining: 1000, reset_after: 0, max_concurrency: 1 },
      });
    }
    if (path === '/users/@me' && method === 'GET') return Response.json(this.botUser);
    if (path === '/users/@me/channels' && method === 'POST') {
      const recipient = String((body as { recipient_id?: unknown } | undefined)?.recipient_id ?? '');
      if (!/^\d+$/.test(recipient)) return Response.json({ message: 'Invalid Form Body', code: 50035 }, { status: 400 });
      return Response.json(this.dmChannel({ id: recipient, username: `user-${recipient}` }));
    }
    if (path === '/applications/@me' && method === 'GET') return Response.json({ id: this.applicationId, name: this.botUser.username, bot: this.botUser, flags: 0 });
    if ((m = /^\/guilds\/(\d+)$/.exec(path)) && method === 'GET') {
      return m[1] === this.guildId ? Response.json({ id: this.guildId, name: this.guildName }) : notFound('Unknown Guild', 10004);
    }
    if ((m = /^\/guilds\/(\d+)\/channels$/.exec(path))) {
      if (m[1] !== this.guildId) return notFound('Unknown Guild', 10004);
      if (method === 'GET') return Response.json([...this.channels.values()].filter((c) => c.type < 10 && c.guild_id === this.guildId));
      if (method === 'POST') {
        const name = String(body?.name ?? '').toLowerCase().replace(/\s+/g, '-');
        const channel = this.addChannel(name, { type: Number(body?.type ?? 0) });
        this.dispatch(GatewayDispatchEvents.ChannelCreate, this.gatewayChannel(channel));
        return Response.json(channel, { status: 201 });
      }
    }
    if ((m = /^\/guilds\/(\d+)\/threads\/active$/.exec(path)) && method === 'GET') {
      if (m[1] !== this.guildId) return notFound('Unknown Guild', 10004);
      return Response.json({ threads: [...this.channels.values()].filter((c) => c.type >= 10 && !c.thread_metadata?.archived), members: [] });
    }
    if ((m = /^\/channels\/(\d+)$/.exec(path))) {
      const channel = this.channels.get(m[1]!);
      if (!channel) return notFound();
      if (method === 'GET') return Response.json(channel);
      if (method === 'PATCH') {
        if (typeof body?.topic === 'string') channel.topic = body.topic;
        this.dispatch(channel.type >= 10 ? GatewayDispatchEvents.ThreadUpdate : GatewayDispatchEvents.ChannelUpdate, this.gatewayChannel(channel));
        return Response.json(channel);
      }
    }
    if ((m = /^\/channels\/(\d+)\/messages$/.exec(path))) {
      const channelId = m[1]!;
      if (!this.channels.has(channelId)) return notFound();
      if (method === 'GET') {
        const limit = Number(url.searchParams.get('limit') ?? 50);
        const after = url.searchParams.get('after');
        const stored = this.messages.get(channelId) ?? [];
        const author = (m: FakeMessage): APIUser => ({ id: m.author.id, username: m.author.username, discriminator: '0', global_name: null, avatar: null, ...(m.author.id === this.botUser.id ? { bot: true } : {}) });
        if (after !== null) {
          // Discord: the `limit` messages right after `after`, still newest first.
          const newer = stored.filter((m) => BigInt(m.id) > BigInt(after)).sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
          return Response.json(newer.slice(0, limit).reverse().map((m) => ({ ...m, ...this.apiMessage(channelId, m, author(m)) })));
        }
        return Response.json([...(this.messages.get(channelId) ?? [])].reverse().slice(0, limit));
      }
      if (method === 'POST') {
        const message: FakeMessage = {
          id: snowflake(),
          content: typeof body?.content === 'string' ? body.content : '',
          timestamp: new Date().toISOString(),
          author: { id: this.botUser.id, username: this.botUser.username },
          ...messageExtras(body, files),
        };
        this.storeMessage(channelId, message);
        const api = this.apiMessage(channelId, message, this.botUser);
        // Discord echoes the bot's own messages on the gateway; bot code must ignore them.
        this.dispatch(GatewayDispatchEvents.MessageCreate, { ...api, guild_id: this.guildId });
        return Response.json(api);
      }
    }
    if ((m = /^\/channels\/(\d+)\/messages\/(\d+)$/.exec(path)) && method === 'GET') {
      const channelId = m[1]!;
      if (!this.channels.has(channelId)) return notFound();
      const message = this.messages.get(channelId)?.find((msg) => msg.id === m![2]);
      if (!message) return notFound('Unknown Message', 10008);
      const author: APIUser = { id: message.author.id, username: message.author.username, discriminator: '0', global_name: null, avatar: null, ...(message.author.id === this.botUser.id ? { bot: true } : {}) };
      return Response.json(this.apiMessage(channelId, message, author));
    }
    if ((m = /^\/channels\/(\d+)\/messages\/(\d+)\/reactions\/([^/]+)\/@me$/.exec(path)) && method === 'PUT') {
      const message = this.messages.get(m[1]!)?.find((msg) => msg.id === m![2]);
      if (!message) return notFound('Unknown Message', 10008);
      const emoji = m[3]!;
      // Discord takes a unicode emoji or a custom one as name:id; anything else is "Unknown Emoji".
      if (!/^[^\x00-\x7f]+$/u.test(emoji) && !/^\w+:\d+$/.test(emoji)) return Response.json({ message: 'Unknown Emoji', code: 10014 }, { status: 400 });
      message.reactions = [...(message.reactions ?? []), emoji];
      return new Response(null, { status: 204 });
    }
    if ((m = /^\/channels\/(\d+)\/messages\/(\d+)$/.exec(path)) && method === 'PATCH') {
      const channelId = m[1]!;
      const message = this.messages.get(channelId)?.find((msg) => msg.id === m![2]);
      if (!message) return notFound('Unknown Message', 10008);
      if (message.author.id !== this.botUser.id) return Response.json({ message: 'Cannot edit a message authored by another user', code: 50005 }, { status: 403 });
      return Response.json(this.editStored({ channelId, messageId: message.id }, body, files));
    }
    if ((m = /^\/channels\/(\d+)\/typing$/.exec(path)) && method === 'POST') {
      return this.channels.has(m[1]!) ? new Response(null, { status: 204 }) : notFound();
    }
    if ((m = /^\/applications\/(\d+)(?:\/guilds\/(\d+))?\/commands$/.exec(path))) {
      if (m[1] !== this.applicationId) return notFound('Unknown Application', 10002);
      const guildId = m[2];
      if (guildId !== undefined && guildId !== this.guildId) return notFound('Unknown Guild', 10004);
      if (method === 'GET') return Response.json(this.commandsIn(guildId));
      if (method === 'PUT' && Array.isArray(body)) return Response.json(this.overwriteCommands(guildId, body as Json[]));
      if (method === 'POST' && body) {
        const others = this.commandsIn(guildId).filter((c) => c.name !== body.name) as unknown as Json[];
        return Response.json(this.overwriteCommands(guildId, [...others, body]).find((c) => c.name === body.name), { status: 201 });
      }
    }
    if ((m = /^\/applications\/(\d+)(?:\/guilds\/(\d+))?\/commands\/(\d+)$/.exec(path)) && method === 'DELETE') {
      const index = this.commands.findIndex((c) => c.id === m![3] && c.guild_id === m![2]);
      if (index < 0) return notFound('Unknown application command', 10063);
      this.commands.splice(index, 1);
      return new Response(null, { status: 204 });
    }
    return Response.json({ message: `No fake route for ${method} ${path}`, code: 0 }, { status: 404 });
  }

  /** Interaction callback and webhook routes; undefined when `path` is none of them. */
  private routeInteraction(method: string, path: string, url: URL, body: unknown, files: FakeFile[]): Response | undefined {
    let m: RegExpExecArray | null;
    const unknownInteraction = () => Response.json({ message: 'Unknown interaction', code: 10062 }, { status: 404 });
    const unknownWebhook = () => Response.json({ message: 'Unknown Webhook', code: 10015 }, { status: 404 });
    const unknownMessage = () => Response.json({ message: 'Unknown Message', code: 10008 }, { status: 404 });
    const json = (isRecord(body) ? body : undefined) as Json | undefined;

    if ((m = /^\/interactions\/(\d+)\/([^/]+)\/callback$/.exec(path)) && method === 'POST') {
      const handle = this.interactions.get(m[2]!);
      if (!handle || handle.id !== m[1]) return unknownInteraction();
      if (handle.acknowledged) {
        return Response.json({ message: 'Interaction has already been acknowledged.', code: 40060 }, { status: 400 });
      }
      const type = Number(json?.type);
      const data = isRecord(json?.data) ? json.data : undefined;
      handle.record({ kind: 'callback', method, path, type, body, data, files });
      if (type === InteractionResponseType.UpdateMessage && handle.componentMessage) this.editStored(handle.componentMessage, data, files);
      if (type === InteractionResponseType.ChannelMessageWithSource || type === InteractionResponseType.DeferredChannelMessageWithSource) {
        const deferred = type === InteractionResponseType.DeferredChannelMessageWithSource;
        const flags = Number(data?.flags ?? 0) | (deferred ? MessageFlags.Loading : 0);
        handle.original = this.interactionMessage(handle, data, files, flags);
      }
      if (url.searchParams.get('with_response') !== 'true') return new Response(null, { status: 204 });
      return Response.json({
        interaction: {
          id: handle.id,
          type: handle.payload.type,
          response_message_id: handle.original?.id,
          response_message_loading: Boolean((handle.original?.flags ?? 0) & MessageFlags.Loading),
          response_message_ephemeral: Boolean((handle.original?.flags ?? 0) & MessageFlags.Ephemeral),
        },
        resource: { type, ...(handle.original ? { message: handle.original } : {}) },
      });
    }

    if (!(m = /^\/webhooks\/(\d+)\/([^/]+)(?:\/messages\/(@original|\d+))?$/.exec(path))) return undefined;
    const handle = this.interactions.get(m[2]!);
    if (!handle || m[1] !== this.applicationId) return unknownWebhook();
    const target = m[3];
    if (target === undefined) {
      if (method !== 'POST') return undefined;
      handle.record({ kind: 'followup', method, path, body, data: json, files });
      const message = this.interactionMessage(handle, json, files, Number(json?.flags ?? 0));
      handle.followups.push(message);
      return Response.json(message);
    }
    const isOriginal = target === '@original';
    // After a deferred update (6) or an update (7), `@original` is the message the button is on.
    const updated = handle.replies().some((r) => r.kind === 'callback' && (r.type === InteractionResponseType.DeferredMessageUpdate || r.type === InteractionResponseType.UpdateMessage));
    if (isOriginal && method === 'PATCH' && updated && handle.componentMessage) {
      handle.record({ kind: 'edit-original', method, path, body, data: json, files });
      const edited = this.editStored(handle.componentMessage, json, files);
      return edited ? Response.json(edited) : unknownMessage();
    }
    const message = isOriginal ? handle.original : handle.followups.find((f) => f.id === target);
    if (method === 'GET') return message ? Response.json(message) : unknownMessage();
    if (method === 'PATCH') {
      handle.record({ kind: isOriginal ? 'edit-original' : 'edit-followup', method, path, body, data: json, files });
      if (!message) return unknownMessage();
      if (typeof json?.content === 'string') message.content = json.content;
      if (Array.isArray(json?.embeds)) message.embeds = json.embeds;
      if (Array.isArray(json?.components)) message.components = json.components;
      if (files.length) message.attachments = files.map(apiAttachment);
      message.flags = (message.flags ?? 0) & ~MessageFlags.Loading;
      message.edited_timestamp = new Date().toISOString();
      return Response.json(message);
    }
    if (method === 'DELETE' && isOriginal) {
      handle.record({ kind: 'delete-original', method, path, body, data: undefined, files });
      if (!message) return unknownMessage();
      handle.original = undefined;
      return new Response(null, { status: 204 });
    }
    return undefined;
  }

  // --- gateway ----------------------------------------------------------------------------------------

  private onGatewayOpen(ws: ServerWebSocket<GatewaySocket>): void {
    this.sockets.add(ws);
    this.send(ws, { op: GatewayOpcodes.Hello, d: { heartbeat_interval: HEARTBEAT_INTERVAL_MS } });
  }

  private onGatewayMessage(ws: ServerWebSocket<GatewaySocket>, raw: string | Buffer): void {
    let payload: { op: number; d: unknown };
    try {
      payload = JSON.parse(String(raw));
    } catch {
      ws.close(GatewayCloseCodes.DecodeError, 'Error while decoding payload.');
      return;
    }
    this.gatewayLog.push({ op: payload.op, d: payload.d });
    switch (payload.op) {
      case GatewayOpcodes.Heartbeat:
        this.send(ws, { op: GatewayOpcodes.HeartbeatAck });
        return;
      case GatewayOpcodes.Identify:
        this.identify(ws, payload.d as GatewayIdentifyData);
        return;
      case GatewayOpcodes.Resume:
        this.resume(ws, payload.d as GatewayResumeData);
        return;
      default:
        // Presence updates, member requests and the like need no answer here.
        return;
    }
  }

  private identify(ws: ServerWebSocket<GatewaySocket>, d: GatewayIdentifyData): void {
    this.identifies.push(d);
    if (ws.data.sessionId) {
      ws.close(GatewayCloseCodes.AlreadyAuthenticated, 'Already authenticated.');
      return;
    }
    if (d.token !== this.token && d.token !== `Bot ${this.token}`) {
      ws.close(GatewayCloseCodes.AuthenticationFailed, 'Authentication failed.');
      return;
    }
    ws.data.sessionId = crypto.randomUUID().replaceAll('-', '');
    ws.data.intents = Number(d.intents);
    const ready: GatewayReadyDispatchData = {
      v: API_VERSION,
      user: this.botUser,
      guilds: [{ id: this.guildId, unavailable: true }],
      session_id: ws.data.sessionId,
      resume_gateway_url: this.gatewayUrl,
      shard: d.shard,
      application: { id: this.applicationId, flags: 0 as ApplicationFlags, flags_new: '0' },
    };
    this.send(ws, { op: GatewayOpcodes.Dispatch, t: GatewayDispatchEvents.Ready, s: this.nextSeq(ws), d: ready });
    this.send(ws, { op: GatewayOpcodes.Dispatch, t: GatewayDispatchEvents.GuildCreate, s: this.nextSeq(ws), d: this.gatewayGuild() });
  }

  private resume(ws: ServerWebSocket<GatewaySocket>, d: GatewayResumeData): void {
    const seq = this.sessions.get(d.session_id);
    if (seq === undefined || (d.token !== this.token && d.token !== `Bot ${this.token}`)) {
      this.send(ws, { op: GatewayOpcodes.InvalidSession, d: false });
      return;
    }
    const identify = this.identifies.findLast((i) => i.token === d.token);
    ws.data.sessionId = d.session_id;
    ws.data.intents = Number(identify?.intents ?? 0);
    ws.data.seq = seq;
    this.send(ws, { op: GatewayOpcodes.Dispatch, t: GatewayDispatchEvents.Resumed, s: this.nextSeq(ws), d: {} });
  }

  private nextSeq(ws: ServerWebSocket<GatewaySocket>): number {
    ws.data.seq += 1;
    if (ws.data.sessionId) this.sessions.set(ws.data.sessionId, ws.data.seq);
    return ws.data.seq;
  }

  private send(ws: ServerWebSocket<GatewaySocket>, payload: { op: number; t?: string; s?: number; d?: unknown }): void {
    ws.send(JSON.stringify({ t: null, s: null, d: null, ...payload }));
  }

  // --- payload shapes ---------------------------------------------------------------------------------

  /** GUILD_CREATE data: the guild with its channels and active threads, enough for discord.js caches. */
  private gatewayGuild(): Json {
    const all = [...this.channels.values()];
    return {
      id: this.guildId,
      name: this.guildName,
      icon: null,
      splash: null,
      discovery_splash: null,
      banner: null,
      description: null,
      owner_id: this.ownerId,
      afk_channel_id: null,
      afk_timeout: 300,
      verification_level: 0,
      default_message_notifications: 0,
      explicit_content_filter: 0,
      mfa_level: 0,
      nsfw_level: 0,
      premium_tier: 0,
      premium_progress_bar_enabled: false,
      system_channel_id: null,
      system_channel_flags: 0,
      rules_channel_id: null,
      public_updates_channel_id: null,
      safety_alerts_channel_id: null,
      vanity_url_code: null,
      preferred_locale: Locale.EnglishUS,
      application_id: null,
      features: [],
      emojis: [],
      stickers: [],
      roles: [
        {
          id: this.guildId,
          name: '@everyone',
          color: 0,
          colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
          hoist: false,
          icon: null,
          unicode_emoji: null,
          position: 0,
          permissions: '2248473465835073',
          managed: false,
          mentionable: false,
          flags: 0,
        },
      ],
      joined_at: new Date(0).toISOString(),
      large: false,
      unavailable: false,
      member_count: 2,
      members: [],
      channels: all.filter((c) => c.type < 10 && c.guild_id === this.guildId).map((c) => this.gatewayChannel(c)),
      threads: all.filter((c) => c.type >= 10 && !c.thread_metadata?.archived).map((c) => this.gatewayChannel(c)),
      presences: [],
      voice_states: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
    };
  }

  /** A stored channel or thread with the fields the gateway sends (the stored REST shape stays as it is). */
  private gatewayChannel(channel: FakeChannel): Json {
    const common = { ...channel, guild_id: this.guildId, parent_id: channel.parent_id ?? null, flags: 0, last_message_id: null, rate_limit_per_user: 0 };
    if (channel.type < 10) {
      return { ...common, position: channel.position ?? 0, topic: channel.topic ?? null, nsfw: false, permission_overwrites: [] };
    }
    return {
      ...common,
      owner_id: channel.owner_id ?? this.ownerId,
      message_count: 0,
      member_count: 1,
      total_message_sent: 0,
      thread_metadata: {
        auto_archive_duration: 1440,
        archive_timestamp: new Date().toISOString(),
        locked: false,
        ...channel.thread_metadata,
      },
    };
  }

  private apiMessage(channelId: string, message: FakeMessage, author: APIUser): APIMessage {
    return {
      id: message.id,
      channel_id: channelId,
      type: MessageType.Default,
      author,
      content: message.content,
      timestamp: message.timestamp,
      edited_timestamp: message.edited_timestamp ?? null,
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: [...(message.attachments ?? []), ...(message.files ?? []).map(apiAttachment)],
      embeds: (message.embeds ?? []) as APIMessage['embeds'],
      components: (message.components ?? []) as APIMessage['components'],
      pinned: false,
      flags: 0 as MessageFlags,
    };
  }

  private interactionMessage(handle: FakeInteractionHandle, data: Json | undefined, files: FakeFile[], flags: number): APIMessage {
    const stored: FakeMessage = {
      id: snowflake(),
      content: typeof data?.content === 'string' ? data.content : '',
      timestamp: new Date().toISOString(),
      author: { id: this.botUser.id, username: this.botUser.username },
      ...messageExtras(data, files),
    };
    return {
      ...this.apiMessage(handle.channelId, stored, this.botUser),
      type: MessageType.ChatInputCommand,
      flags: flags as MessageFlags,
      application_id: this.applicationId,
      webhook_id: this.applicationId,
      interaction_metadata: {
        id: handle.id,
        type: InteractionType.ApplicationCommand,
        user: 'member' in handle.payload ? handle.payload.member.user : handle.payload.user,
        authorizing_integration_owners: {},
      },
    };
  }

  /** Edits a stored message of the bot (content, embeds, files, components) and dispatches MESSAGE_UPDATE. */
  private editStored(where: { channelId: string; messageId: string }, body: Json | undefined, files: FakeFile[]): APIMessage | undefined {
    const message = this.messages.get(where.channelId)?.find((msg) => msg.id === where.messageId);
    if (!message) return undefined;
    if (typeof body?.content === 'string') message.content = body.content;
    if (Array.isArray(body?.components)) message.components = body.components;
    Object.assign(message, messageExtras(body, files), { edited_timestamp: new Date().toISOString() });
    const api = this.apiMessage(where.channelId, message, this.botUser);
    const dm = this.channels.get(where.channelId)?.guild_id === undefined;
    this.dispatch(GatewayDispatchEvents.MessageUpdate, dm ? api : { ...api, guild_id: this.guildId });
    return api;
  }

  private storeMessage(channelId: string, message: FakeMessage): void {
    const list = this.messages.get(channelId) ?? [];
    list.push(message);
    this.messages.set(channelId, list);
  }

  private commandsIn(guildId: string | undefined): FakeCommand[] {
    return this.commands.filter((c) => c.guild_id === guildId);
  }

  /** Replaces the commands of one scope (a guild, or global when `guildId` is undefined), keeping ids by name. */
  private overwriteCommands(guildId: string | undefined, bodies: Json[]): FakeCommand[] {
    const previous = this.commandsIn(guildId);
    const next = bodies.map((body): FakeCommand => {
      const old = previous.find((c) => c.name === body.name);
      return {
        type: ApplicationCommandType.ChatInput,
        description: '',
        default_member_permissions: null,
        ...(body as Partial<FakeCommand>),
        id: old?.id ?? snowflake(),
        application_id: this.applicationId,
        name: String(body.name),
        version: snowflake(),
        ...(guildId === undefined ? {} : { guild_id: guildId }),
      } as FakeCommand;
    });
    for (const old of previous) this.commands.splice(this.commands.indexOf(old), 1);
    this.commands.push(...next);
    return next;
  }
}

/** JSON or multipart (`payload_json` + files) request bodies; GET and empty bodies give undefined. */
async function parseBody(request: Request): Promise<ParsedBody> {
  if (request.method === 'GET') return { body: undefined, files: [] };
  if (!(request.headers.get('content-type') ?? '').startsWith('multipart/form-data')) {
    return { body: await request.json().catch(() => undefined), files: [] };
  }
  const form = await request.formData();
  const files: FakeFile[] = [];
  let body: unknown;
  for (const [field, value] of form.entries()) {
    if (typeof value === 'string') {
      if (field === 'payload_json') body = JSON.parse(value);
    } else {
      files.push({ field, name: value.name, size: value.size, contentType: value.type });
    }
  }
  return { body, files };
}

function messageExtras(body: Json | undefined, files: FakeFile[]): Pick<FakeMessage, 'files' | 'embeds' | 'components'> {
  return {
    ...(files.length ? { files } : {}),
    ...(Array.isArray(body?.embeds) && body.embeds.length ? { embeds: body.embeds } : {}),
    ...(Array.isArray(body?.components) && body.components.length ? { components: body.components } : {}),
  };
}

function apiAttachment(file: FakeFile): APIAttachment {
  const id = snowflake();
  const url = `https://cdn.discordapp.invalid/attachments/${id}/${encodeURIComponent(file.name)}`;
  return { id, filename: file.name, size: file.size, url, proxy_url: url, content_type: file.contentType };
}

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
