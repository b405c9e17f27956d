import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ConsolaInstance } from 'consola';
import { type APIMessage, ChannelType, type Client, Events, type Message, MessageType, Routes, SnowflakeUtil } from 'discord.js';
import { type Authorize, createAuthorizer } from '../../core/control/authorize.ts';
import type { SessionManager } from '../../core/sessions/manager.ts';
import { readState } from '../../core/store/state.ts';
import type { Clock } from '../../core/util/clock.ts';
import { CrsError, formatError } from '../../core/util/errors.ts';
import { type Inbox, compareIds } from '../../router/inbox.ts';
import type { PendingPermission, PermissionOutcome } from '../../router/permissions.ts';
import { Router } from '../../router/router.ts';
import { type DiscordApi, SESSION_CHANNEL_TYPES } from './api.ts';
import { type PermissionMessageRef, createPermissionButtons, formatPermissionMessage, formatSettledPermission } from './permissions.ts';
import { spawnThread } from './sessions.ts';

/** Messages one history request returns at most (Discord's cap). */
const PAGE_SIZE = 100;
/** A catch-up reads at most this many pages per session (10 000 messages). */
const MAX_PAGES = 100;
/** A message that could not be queued is tried again this often, this many times. */
/** A message that could not be queued is fetched again from the channel's history this often. */
const RECOVER_MS = 5000;
/** Message types that are chat: a plain message and a reply (not joins, pins, thread starters…). */
const CHAT_TYPES: number[] = [MessageType.Default, MessageType.Reply];
const ON = ['on', 'yes', 'true', '1'];
const OFF = ['', 'off', 'no', 'false', '0'];

/** What a new session needs to know about its chat. */
export interface ChatInfo {
  kind: 'channel' | 'thread' | 'dm';
  name?: string;
  /** A thread's parent channel. */
  parent?: string;
}

/** A Discord message in the few fields routing reads (a live `Message` and a REST `APIMessage` both become one). */
export interface IncomingMessage {
  id: string;
  type: number;
  content: string;
  /** ISO time of its snowflake (what discord.js calls `createdAt`, and the official plugin sends as `ts`). */
  timestamp: string;
  author: { id: string; username: string; bot?: boolean };
  attachments: Array<{ id: string; name: string; size: number; contentType?: string | null }>;
}

/** Something the owner sent with a slash command (`/ask`, `/run`), queued like a message of theirs. */
export interface CommandMessage {
  /** The channel or thread (its session). */
  session: string;
  /** The interaction's id: a snowflake, so it orders with the chat's messages and is never queued twice. */
  id: string;
  user: { id: string; username: string };
  content: string;
  /** Extra meta (e.g. `skill`). */
  meta?: Record<string, string>;
  /** How to create the session if the channel has none yet. */
  chat?: ChatInfo;
}

export interface DiscordRouterOptions {
  client: Client;
  manager: SessionManager;
  clock: Clock;
  log: ConsolaInstance;
  signal: AbortSignal;
  api: () => DiscordApi;
  /** The guild whose channels are sessions (re-read from config.env). */
  guildId: () => string;
}

/** An attachment's name as meta shows it: the characters that could break out of the list replaced. */
function safeName(name: string): string {
  return name.replace(/[[\]\r\n;]/g, '_');
}

/** A live discord.js message in routing's fields. */
export function fromMessage(message: Message): IncomingMessage {
  return {
    id: message.id,
    type: message.type,
    content: message.content,
    timestamp: message.createdAt.toISOString(),
    author: { id: message.author.id, username: message.author.username, bot: message.author.bot },
    attachments: [...message.attachments.values()].map((a) => ({ id: a.id, name: a.name, size: a.size, contentType: a.contentType })),
  };
}

/** A message from the REST history in routing's fields. */
export function fromApiMessage(message: APIMessage): IncomingMessage {
  return {
    id: message.id,
    type: message.type,
    content: message.content,
    timestamp: new Date(SnowflakeUtil.timestampFrom(message.id)).toISOString(),
    author: { id: message.author.id, username: message.author.username, bot: message.author.bot },
    attachments: (message.attachments ?? []).map((a) => ({ id: a.id, name: a.filename, size: a.size, contentType: a.content_type })),
  };
}

/**
 * The channel notification a message becomes, as the official plugin sends it: the text (or
 * `(attachment)`), and meta `chat_id`, `message_id`, `user`, `user_id`, `ts`, plus `attachment_count`
 * and `attachments` (`name (type, NKB)`, `; `-separated) when files came with it.
 */
export function toChannelMessage(chatId: string, message: IncomingMessage): { content: string; meta: Record<string, string> } {
  const files = message.attachments.map((a) => `${safeName(a.name || a.id)} (${a.contentType ?? 'unknown'}, ${(a.size / 1024).toFixed(0)}KB)`);
  const meta: Record<string, string> = {
    chat_id: chatId,
    message_id: message.id,
    user: message.author.username,
    user_id: message.author.id,
    ts: message.timestamp,
    ...(files.length ? { attachment_count: String(files.length), attachments: files.join('; ') } : {}),
  };
  return { content: message.content || (files.length ? '(attachment)' : ''), meta };
}

/** `DISCORD_DMS` of config.env: on gives the owner's DM channel a session of its own; off (the default) refuses DMs. */
export function parseDmSetting(value: string | undefined): boolean | undefined {
  const v = (value ?? '').trim().toLowerCase();
  if (ON.includes(v)) return true;
  if (OFF.includes(v)) return false;
  return undefined;
}

/** The text an owner's DM gets while DMs are off. */
export function formatDmRefusal(configFile: string): string {
  return [
    'Direct messages to this bot are not connected to a session, so this one went nowhere.',
    'Write in a server channel or thread instead, or give your DMs a session of their own:',
    `set \`DISCORD_DMS=on\` in ${configFile} on the machine that runs the sessions.`,
  ].join(' ');
}

/**
 * Discord on the core router, over the slash daemon's one gateway connection: every owner's message
 * is queued for exactly one session — a channel's for its channel, a thread's for that thread only
 * (never its parent's or a sibling's), a DM for the owner's DM session when `DISCORD_DMS=on` (else
 * one polite refusal) — then the core wakes the session and hands it to its bridge. Everyone else
 * reaches nothing and is logged once. Sessions in plugin mode (a profile with its own bot token) are
 * left to their plugin.
 *
 * Discord does not replay what happened while the gateway was away, so at every READY (a new
 * gateway session; a RESUME replays the missed events itself) each session's history after the last
 * message its inbox ever queued is read and queued; the inbox refuses what it already had, so an
 * overlap with live events delivers nothing twice. A session that never queued anything has no
 * starting point and is not caught up: its earlier history belongs to before the router knew it.
 */
export class DiscordRouter {
  readonly router: Router;
  private readonly authorize: Authorize;
  /** Chats seen in messages, for creating their session. */
  private readonly chats = new Map<string, ChatInfo>();
  /** Plugin-mode sessions already logged as left to their plugin. */
  private readonly pluginSessions = new Set<string>();
  private badDmSetting: string | undefined;
  private catchingUp: Promise<void> | undefined;
  private catchUpAgain = false;
  /** Per session, the lowest id of a message that could not be queued: a catch-up starts before it. */
  private readonly missed = new Map<string, string>();
  private recovery: ReturnType<typeof setTimeout> | undefined;
  private queueFailures = 0;

  constructor(private readonly options: DiscordRouterOptions) {
    const { manager, log, client } = options;
    this.authorize = createAuthorizer(manager, log, { once: true });
    this.router = new Router({
      manager,
      clock: options.clock,
      log,
      signal: options.signal,
      adapter: {
        notify: async (session, text) => void (await options.api().sendMessage(session, text)),
        // The status channel when there is one, else a DM to each owner.
        notifyOwners: async (text) => {
          const api = options.api();
          const config = manager.config();
          if (config.statusChannelId) return void (await api.sendMessage(config.statusChannelId, text));
          for (const owner of config.allowedUserIds) await api.sendMessage(await api.openDm(owner), text);
        },
        typing: async (session) => void (await client.rest.post(Routes.channelTyping(session))),
        spawn: (session) => this.spawn(session),
        askPermission: (request) => this.askPermission(request),
        settlePermission: (request, ref, outcome) => this.settlePermission(request, ref as PermissionMessageRef, outcome),
      },
    });
  }

  /** Takes over earlier queues, listens for bridges, and routes the client's messages; catches up at every READY. */
  start(): void {
    const { client, manager, log } = this.options;
    for (const session of Object.keys(manager.registry())) {
      const adopted = adoptWakeQueue(manager.stateDir(session), this.router.inbox(session));
      if (adopted) log.info(`inbox of ${session}: ${adopted} message(s) taken over from the wake-on-message queue`);
    }
    this.router.start();
    client.on(Events.MessageCreate, (message) => {
      try {
        this.onMessage(message);
      } catch (error) {
        // Not handled (a config that does not parse): the channel's history still has it.
        this.noteMissed(message.channelId, message.id, error);
      }
    });
    client.on(Events.ShardReady, () => void this.catchUp());
  }

  close(): void {
    clearTimeout(this.recovery);
    this.router.close();
  }

  /** Whether DMs have sessions (`DISCORD_DMS`); a value that is neither on nor off is logged once and counts as off. */
  dmsEnabled(): boolean {
    const raw = this.options.manager.config().raw.DISCORD_DMS;
    const value = parseDmSetting(raw);
    if (value === undefined && this.badDmSetting !== raw) {
      this.badDmSetting = raw;
      this.options.log.warn(`${this.options.manager.paths.configFile}: DISCORD_DMS=${JSON.stringify(raw)} is not on or off; DMs stay off.`);
    }
    return value ?? false;
  }

  /**
   * Whether a session runs the official plugin with a bot of its own (its profile sets
   * DISCORD_BOT_TOKEN): the router neither routes to it nor starts it. A new thread takes its
   * parent's profile.
   */
  isPluginMode(session: string, chat?: ChatInfo): boolean {
    const { manager } = this.options;
    try {
      const entry = manager.registry()[session];
      const own = readState(manager.stateDir(session), 'profile');
      const parent = !entry && chat?.kind === 'thread' && chat.parent ? readState(manager.stateDir(chat.parent), 'profile') : undefined;
      const profile = own || parent || manager.resolveProfileName(entry?.name ?? chat?.name ?? '');
      return Boolean(manager.profileSettings(profile)[manager.platform.tokenVar]);
    } catch {
      return false;
    }
  }

  /** Queues what the owner sent with a slash command for the session of its channel; false if it was queued before. */
  submit(command: CommandMessage): boolean {
    if (this.isPluginMode(command.session, command.chat)) {
      throw new CrsError("This channel's session runs the official plugin with a bot of its own.", { hint: 'Write to it in the channel instead.' });
    }
    if (command.chat) this.chats.set(command.session, command.chat);
    const meta = {
      chat_id: command.session,
      message_id: command.id,
      user: command.user.username,
      user_id: command.user.id,
      ts: new Date(this.options.clock.now()).toISOString(),
      ...command.meta,
    };
    return this.router.accept({ session: command.session, id: command.id, content: command.content, meta });
  }

  /** A live message: authorised, mapped to its one session, queued. */
  private onMessage(message: Message): void {
    const { manager, guildId, log } = this.options;
    if (message.author.bot || message.author.id === this.options.client.user?.id) return;
    const dm = message.channel.type === ChannelType.DM;
    if (!dm && message.guildId !== guildId()) return;
    const incoming = fromMessage(message);
    const where = dm ? `DM ${message.channelId}` : `${message.channel.isThread() ? 'thread' : 'channel'} ${message.channelId}`;
    if (!this.authorize({ id: incoming.author.id, name: incoming.author.username }, `message ${incoming.id}`, where)) return;
    if (!CHAT_TYPES.includes(incoming.type)) return;

    let chat: ChatInfo;
    const channel = message.channel;
    if (dm) {
      if (!this.dmsEnabled()) {
        log.info(`DM ${incoming.id} from ${incoming.author.username}: DMs are off (DISCORD_DMS), told them how to turn them on`);
        void this.options
          .api()
          .sendMessage(message.channelId, formatDmRefusal(manager.paths.configFile))
          .catch((error) => log.warn(`could not answer the DM ${incoming.id}: ${formatError(error)}`));
        return;
      }
      chat = { kind: 'dm', name: `dm-${incoming.author.username}` };
    } else if (channel.isThread()) {
      if (!channel.parentId) return;
      chat = { kind: 'thread', name: channel.name, parent: channel.parentId };
    } else if (SESSION_CHANNEL_TYPES.includes(channel.type)) {
      chat = { kind: 'channel', name: 'name' in channel ? (channel.name ?? undefined) : undefined };
    } else return;
    // While a catch-up runs, live messages wait behind it: what was missed goes first.
    const route = () => void this.route(message.channelId, incoming, chat);
    if (this.catchingUp) void this.catchingUp.then(route, route);
    else route();
  }

  /** Queues an authorised message for `session` unless that session is left to its plugin; true when newly queued. */
  private route(session: string, message: IncomingMessage, chat?: ChatInfo, recovering = false): boolean {
    if (!this.options.manager.platform.idPattern.test(session)) return false;
    const channelMessage = toChannelMessage(session, message);
    if (!channelMessage.content) return false;
    if (this.isPluginMode(session, chat)) {
      if (!this.pluginSessions.has(session)) this.options.log.info(`${session} runs the official plugin with its own bot: its messages are left to it`);
      this.pluginSessions.add(session);
      return false;
    }
    if (chat) this.chats.set(session, chat);
    return this.queue({ session, id: message.id, ...channelMessage }, recovering);
  }

  /**
   * `accept`; a message that cannot be queued (a full disk, a config that does not parse) is not lost:
   * Discord keeps it in the channel's history, so the session is caught up again from before it, every
   * few seconds until that works.
   */
  private queue(routed: Parameters<Router['accept']>[0], recovering = false): boolean {
    // Behind a message that could not be queued, later ones wait for the catch-up too: order is kept.
    const missed = this.missed.get(routed.session);
    if (missed && !recovering && compareIds(missed, routed.id) < 0) return false;
    try {
      return this.router.accept(routed);
    } catch (error) {
      this.noteMissed(routed.session, routed.id, error);
      return false;
    }
  }

  /** Remembers a message that could not be handled, so a catch-up from the history gets it (and those after it). */
  private noteMissed(session: string, id: string, error: unknown): void {
    this.queueFailures++;
    const earlier = this.missed.get(session);
    if (!earlier || compareIds(id, earlier) < 0) this.missed.set(session, id);
    this.options.log.error(`message ${id} in ${session} not queued: ${formatError(error)} It stays in Discord's history; catching up in ${RECOVER_MS / 1000} s.`);
    this.scheduleRecovery();
  }

  private scheduleRecovery(): void {
    if (this.recovery || this.options.signal.aborted) return;
    this.recovery = setTimeout(() => {
      this.recovery = undefined;
      void this.catchUp().finally(() => {
        if (this.missed.size) this.scheduleRecovery();
      });
    }, RECOVER_MS);
  }

  /** Creates the session of a chat that has none, from what its first message told. */
  private async spawn(session: string): Promise<{ tmux: string }> {
    const { manager, api } = this.options;
    const chat = this.chats.get(session);
    if (!chat) throw new CrsError(`Nothing is known of Discord chat ${session} to start a session for it.`, { hint: 'Run /discover.' });
    if (chat.kind === 'thread') return spawnThread(session, chat.parent!, { name: chat.name }, { manager, api: api() });
    return manager.spawn(session, { name: chat.name, type: chat.kind === 'dm' ? 'chat' : 'channel' });
  }

  /**
   * Posts an approval request in the session's own chat (channel, thread or DM channel) with its
   * buttons; nobody is pinged by what the request quotes. Answers come back as button clicks
   * (slash/handlers/permission.ts).
   */
  private async askPermission(request: PendingPermission): Promise<PermissionMessageRef> {
    const { manager, client } = this.options;
    let name = request.session;
    try {
      name = manager.registry()[request.session]?.name ?? name;
    } catch {}
    const text = formatPermissionMessage(request, name);
    const body = { content: text, components: createPermissionButtons(request), allowed_mentions: { parse: [] } };
    const posted = (await client.rest.post(Routes.channelMessages(request.session), { body })) as APIMessage;
    return { channelId: request.session, messageId: posted.id, text };
  }

  /** Edits an approval message to show how it ended; its buttons go. */
  private async settlePermission(request: PendingPermission, ref: PermissionMessageRef, outcome: PermissionOutcome): Promise<void> {
    const body = { content: formatSettledPermission(ref.text, request, outcome), components: [], allowed_mentions: { parse: [] } };
    await this.options.client.rest.patch(Routes.channelMessage(ref.channelId, ref.messageId), { body });
  }

  /** Runs a catch-up; one asked for while another runs starts again after it. */
  catchUp(): Promise<void> {
    if (this.catchingUp) {
      this.catchUpAgain = true;
      return this.catchingUp;
    }
    const run = async () => {
      do {
        this.catchUpAgain = false;
        await this.catchUpOnce();
      } while (this.catchUpAgain && !this.options.signal.aborted);
    };
    this.catchingUp = run().finally(() => (this.catchingUp = undefined));
    return this.catchingUp;
  }

  /** Queues, for every session, the owners' messages after the last one its inbox queued, in id order. */
  private async catchUpOnce(): Promise<void> {
    const { manager, log, signal } = this.options;
    let registry: ReturnType<SessionManager['registry']>;
    try {
      registry = manager.registry();
    } catch (error) {
      return log.error(`catch-up: ${formatError(error)}`);
    }
    // Registered sessions, and chats whose first message could not be queued (not registered yet).
    const sessions = new Set([...Object.keys(registry), ...this.missed.keys()]);
    for (const session of sessions) {
      if (signal.aborted) return;
      const type = registry[session]?.type ?? (this.chats.get(session)?.kind === 'dm' ? 'chat' : (this.chats.get(session)?.kind ?? 'channel'));
      if (type === 'chat' && !this.dmsEnabled()) continue;
      if (this.isPluginMode(session)) continue;
      const missedId = this.missed.get(session);
      const last = this.router.inbox(session).lastId();
      // From just before a message that could not be queued, else after the last one queued.
      const after = missedId ? (BigInt(missedId) - 1n).toString() : last;
      if (!after) continue;
      let missed: IncomingMessage[];
      try {
        missed = await this.fetchAfter(session, after);
      } catch (error) {
        log.warn(`catch-up of ${manager.tmuxName(session)}: ${formatError(error)}`);
        continue;
      }
      let queued = 0;
      const failuresBefore = this.queueFailures;
      for (const message of missed) {
        if (message.author.bot || !CHAT_TYPES.includes(message.type)) continue;
        const where = `${type === 'chat' ? 'DM' : type} ${session}`;
        try {
          if (!this.authorize({ id: message.author.id, name: message.author.username }, `message ${message.id}`, where)) continue;
          if (this.route(session, message, undefined, true)) queued++;
        } catch (error) {
          this.noteMissed(session, message.id, error);
          break;
        }
      }
      // Everything from the missed message on is queued now, unless queueing failed again.
      if (missedId && this.queueFailures === failuresBefore && this.missed.get(session) === missedId) this.missed.delete(session);
      if (queued) log.info(`CAUGHT UP  ${queued} message(s) for ${manager.tmuxName(session)} sent while the router was away`);
    }
  }

  /** The messages of a channel after `after`, oldest first (REST history, paged). */
  private async fetchAfter(channelId: string, after: string): Promise<IncomingMessage[]> {
    const all: IncomingMessage[] = [];
    let cursor = after;
    for (let page = 0; page < MAX_PAGES && !this.options.signal.aborted; page++) {
      const query = new URLSearchParams({ after: cursor, limit: String(PAGE_SIZE) });
      const batch = (await this.options.client.rest.get(Routes.channelMessages(channelId), { query })) as APIMessage[];
      const sorted = batch.map(fromApiMessage).sort((a, b) => compareIds(a.id, b.id));
      all.push(...sorted);
      if (sorted.length < PAGE_SIZE) break;
      cursor = sorted.at(-1)!.id;
    }
    return all;
  }
}

/**
 * Moves what the earlier wake-on-message delivery left queued (`<state>/wake-queue/`) into the
 * session's inbox, so an upgrade loses nothing; returns how many. A `/run` entry becomes the
 * instruction `/run` now sends.
 */
export function adoptWakeQueue(stateDir: string, inbox: Inbox): number {
  const dir = join(stateDir, 'wake-queue');
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => name.endsWith('.json')).sort();
  } catch {
    return 0;
  }
  let adopted = 0;
  for (const name of names) {
    const file = join(dir, name);
    try {
      const item = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      const text = (key: string) => (typeof item[key] === 'string' ? (item[key] as string) : '');
      const id = text('messageId');
      const [command = '', ...args] = text('content').split(' ');
      const content = item.raw === true ? formatSkillRequest(command.replace(/^\//, ''), args.join(' ')) : text('content');
      const meta = { chat_id: text('channelId'), message_id: id, user: text('author'), user_id: text('authorId'), ts: text('ts') };
      if (content && inbox.add({ id, content, meta, at: Date.parse(meta.ts) || 0 })) adopted++;
    } catch {}
    rmSync(file, { force: true });
  }
  rmSync(dir, { recursive: true, force: true });
  return adopted;
}

/** What `/run <skill> [args]` asks the session for: the skill, run with the owner's arguments. */
export function formatSkillRequest(skill: string, args: string): string {
  return `Run the /${skill} skill${args.trim() ? ` with these arguments: ${args.trim()}` : ''}.`;
}
