import { chmodSync, rmSync } from 'node:fs';
import type { Socket } from 'bun';
import type { ConsolaInstance } from 'consola';
import { Bot, type Context, GrammyError } from 'grammy';
import type { Message } from 'grammy/types';
import type { Clock } from '../../core/util/clock.ts';
import { formatCondition, formatNewConversation, formatSpawn } from '../../commands/_format.ts';
import { CrsError, formatError } from '../../core/util/errors.ts';
import { type SessionManager, type SessionRow, isRunning } from '../../core/sessions/manager.ts';
import { classifyPane, isStartupDialog } from '../../core/host/pane.ts';
import { dequeue, enqueue, listQueue } from '../../core/store/queue.ts';
import { hasState } from '../../core/store/state.ts';
import { SEND_KEYS, planSend } from '../../core/host/send-keys.ts';
import { type BridgeToRouter, LineDecoder, type RouterToBridge, encodeLine, routerSocketPath } from './protocol.ts';
import { join } from 'node:path';

const TYPING_EVERY_MS = 4000;
/** How long the typing indicator is kept up for a session that does not connect. */
const TYPING_MAX_MS = 120_000;
const RESTART_POLLING_MAX_MS = 60_000;
/** How often chats with queued messages and no connected bridge get their session started. */
const SWEEP_MS = 5000;

/** A queued inbound message, as the bridge will push it. */
export interface QueuedMessage {
  content: string;
  meta: Record<string, string>;
}

export interface RouterOptions {
  manager: SessionManager;
  clock: Clock;
  log: ConsolaInstance;
  token: string;
  apiRoot: string;
  signal: AbortSignal;
}

interface BridgeLink {
  socket: Socket<undefined>;
  inflight: string | null;
  /** The bridge said Claude Code did not take a message: nothing more is sent on this link (it stays queued). */
  stalled: boolean;
}

/** The notification a message becomes: its text (or caption) and the official plugin's meta fields. */
export function toQueuedMessage(message: Message): QueuedMessage {
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
 * The single Telegram update consumer. Each message from an allowed user is queued on disk in its
 * chat's `inbox/` BEFORE the handler returns (grammY confirms the offset only after that), its
 * session is spawned or woken, and the queue is pushed to the chat's bridge one message at a time;
 * a message leaves the queue only when the bridge acknowledged it. Everyone else is ignored and logged.
 */
export class TelegramRouter {
  readonly bot: Bot;
  private readonly links = new Map<string, BridgeLink>();
  private readonly starting = new Map<string, Promise<void>>();
  /** Bridge connections per chat since the router started (ends a typing indicator). */
  private readonly connects = new Map<string, number>();
  /** The last start failure told per chat, so a failing start is reported once, not at every retry. */
  private readonly startErrors = new Map<string, string>();
  private server: ReturnType<typeof Bun.listen> | undefined;

  constructor(private readonly options: RouterOptions) {
    this.bot = new Bot(options.token, { client: { apiRoot: options.apiRoot } });
    this.bot.catch((error) => options.log.error(`update ${error.ctx.update.update_id} failed: ${formatError(error.error)}`));
    this.bot.command(['sessions', 'status', 'restart', 'fresh', 'kill', 'wake', 'workdir', 'profile', 'send'], (ctx) => this.onCommand(ctx));
    this.bot.on('message', (ctx) => this.onMessage(ctx));
  }

  queueDir(chatId: string): string {
    return join(this.options.manager.stateDir(chatId), 'inbox');
  }

  private isOwner(userId: number | undefined): boolean {
    return userId !== undefined && this.options.manager.config().allowedUserIds.includes(String(userId));
  }

  /** Serves until the signal aborts: the bridge socket, then long polling (restarted with backoff on failure). */
  async run(): Promise<void> {
    const { manager, log, signal } = this.options;
    this.listen();
    this.sweep();
    const sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    signal.addEventListener('abort', () => clearInterval(sweeper), { once: true });
    await this.bot.api.setMyCommands([
      { command: 'sessions', description: 'All sessions and their status' },
      { command: 'status', description: "This chat's session" },
      { command: 'restart', description: 'Restart (same conversation)' },
      { command: 'fresh', description: 'Restart with a new conversation' },
      { command: 'kill', description: 'Stop the session until woken' },
      { command: 'wake', description: 'Start it again' },
      { command: 'workdir', description: 'Show or change the working directory' },
      { command: 'profile', description: 'Show or switch the profile (same conversation)' },
      { command: 'send', description: 'Answer a dialog: a key (1, 2, enter, esc…) or text' },
    ]).catch((error) => log.warn(`setMyCommands failed: ${formatError(error)}`));
    let delay = 1000;
    signal.addEventListener('abort', () => void this.bot.stop().catch(() => {}), { once: true });
    while (!signal.aborted) {
      try {
        await this.bot.start({ drop_pending_updates: false, allowed_updates: ['message'], onStart: (me) => log.info(`Router polling as @${me.username} (pid ${process.pid})`) });
        delay = 1000;
      } catch (error) {
        if (signal.aborted) break;
        if (error instanceof GrammyError && error.error_code === 401) throw new CrsError(`Telegram rejected the bot token: ${error.description}.`, { hint: 'Check TELEGRAM_BOT_TOKEN in ~/.claude/channels/telegram/.env.' });
        const conflict = error instanceof GrammyError && error.error_code === 409;
        log.error(`polling stopped: ${formatError(error)}${conflict ? ' (another program polls this bot token: stop it, only the router may)' : ''}; retrying in ${delay / 1000} s`);
        await this.options.clock.sleep(delay, signal);
        delay = Math.min(delay * 2, RESTART_POLLING_MAX_MS);
      }
    }
    this.close();
  }

  /** The Unix socket bridges connect to. */
  listen(): void {
    const path = routerSocketPath(this.options.manager.paths);
    rmSync(path, { force: true });
    this.server = Bun.listen<undefined>({
      unix: path,
      socket: {
        open: () => {},
        data: (socket, chunk) => {
          const decoder = ((socket as unknown as { decoder?: LineDecoder<BridgeToRouter> }).decoder ??= new LineDecoder<BridgeToRouter>());
          for (const message of decoder.push(chunk)) this.onBridge(socket, message);
        },
        close: (socket) => this.dropLink(socket),
        error: (socket) => this.dropLink(socket),
      },
    });
    chmodSync(path, 0o600);
  }

  close(): void {
    this.server?.stop(true);
    rmSync(routerSocketPath(this.options.manager.paths), { force: true });
  }

  /** A bridge went away (its session stopped or died): what it had not confirmed stays queued and wakes the session. */
  private dropLink(socket: Socket<undefined>): void {
    for (const [chat, link] of this.links) {
      if (link.socket !== socket) continue;
      this.links.delete(chat);
      if (listQueue(this.queueDir(chat)).length) void this.ensureSession(chat);
    }
  }

  /**
   * Starts or wakes the session of every chat that has queued messages but no bridge: a session that
   * was stopping when its bridge dropped, or one killed from outside, still gets its messages.
   */
  private sweep(): void {
    const { manager, log } = this.options;
    let ids: string[];
    try {
      ids = Object.keys(manager.registry());
    } catch (error) {
      return log.warn(`sweep: ${formatError(error)}`);
    }
    for (const chat of ids) {
      if (!this.links.has(chat) && !this.starting.has(chat) && listQueue(this.queueDir(chat)).length) void this.ensureSession(chat);
    }
  }

  private onBridge(socket: Socket<undefined>, message: BridgeToRouter): void {
    const { log, manager } = this.options;
    if (message.type === 'hello') {
      if (!manager.platform.idPattern.test(message.chat)) return void socket.end();
      this.links.get(message.chat)?.socket.end();
      this.links.set(message.chat, { socket, inflight: null, stalled: false });
      this.connects.set(message.chat, (this.connects.get(message.chat) ?? 0) + 1);
      log.info(`bridge of chat ${message.chat} connected (pid ${message.pid})`);
      this.pump(message.chat);
      return;
    }
    const chat = [...this.links].find(([, link]) => link.socket === socket)?.[0];
    const link = chat ? this.links.get(chat) : undefined;
    if (!chat || !link || link.inflight !== message.id) return;
    link.inflight = null;
    if (message.type === 'nack') {
      link.stalled = true;
      log.warn(`session of chat ${chat} did not take message ${message.id} (${message.reason}); kept queued until its session restarts`);
      return;
    }
    dequeue(this.queueDir(chat), message.id);
    this.pump(chat);
  }

  /** Sends the oldest queued message of a chat to its bridge, if connected and idle. */
  private pump(chat: string): void {
    const link = this.links.get(chat);
    if (!link || link.inflight || link.stalled) return;
    // A stopping session would take the message and lose it with its process.
    if (hasState(this.options.manager.stateDir(chat), 'stopping')) return;
    const next = listQueue<QueuedMessage>(this.queueDir(chat))[0];
    if (!next) return;
    link.inflight = next.name;
    const frame: RouterToBridge = { type: 'message', id: next.name, content: next.item.content, meta: next.item.meta };
    link.socket.write(encodeLine(frame));
  }

  private async onMessage(ctx: Context): Promise<void> {
    const message = ctx.message!;
    const chat = String(message.chat.id);
    const { log, manager } = this.options;
    if (!this.isOwner(message.from?.id)) {
      log.warn(`IGNORED message ${message.message_id} from user ${message.from?.id} (${message.from?.username ?? message.from?.first_name}) in chat ${chat}`);
      return;
    }
    if (!manager.platform.idPattern.test(chat)) return;
    // Safely on disk before this handler returns, i.e. before the offset is confirmed to Telegram.
    enqueue(this.queueDir(chat), toQueuedMessage(message), this.options.clock.now());
    if (this.links.has(chat)) return this.pump(chat);
    void this.ensureSession(chat, message);
  }

  /** Spawns (new chat) or wakes (down/suspended) the chat's session, with a typing indicator until its bridge connects. */
  private ensureSession(chat: string, message?: Message): Promise<void> {
    const running = this.starting.get(chat);
    if (running) return running;
    const work = (async () => {
      const { manager, log } = this.options;
      let failedStart: AbortController | undefined;
      try {
        const entry = manager.registry()[chat];
        const info = (await manager.liveSessions()).get(manager.tmuxName(chat));
        if (entry && info && !info.dead) return; // running: its bridge connects when Claude Code is ready
        const failed = new AbortController();
        const typing = this.keepTyping(chat, failed.signal);
        failedStart = failed;
        if (!entry) {
          const title = message?.chat.type === 'private' ? (message.chat.username ?? message.chat.first_name) : message && 'title' in message.chat ? message.chat.title : undefined;
          const result = await manager.spawn(chat, { name: title ?? undefined, type: 'chat' });
          log.info(`NEW  chat ${chat} → ${result.tmux}`);
        } else {
          const result = await manager.wake(chat);
          log.info(`WOKE  ${result.tmux} for waiting messages`);
        }
        this.startErrors.delete(chat);
        void typing;
      } catch (error) {
        failedStart?.abort();
        // Said once per distinct error: the sweep retries every few seconds.
        const text = formatError(error);
        if (this.startErrors.get(chat) === text) return;
        this.startErrors.set(chat, text);
        log.error(`starting the session of chat ${chat} failed: ${text}`);
        await this.bot.api.sendMessage(chat, `⚠️ Could not start this chat's session: ${text}`).catch(() => {});
      }
    })();
    this.starting.set(chat, work);
    void work.finally(() => this.starting.delete(chat));
    return work;
  }

  /** Shows "typing…" every 4 s until the chat's bridge connects (or two minutes pass). */
  private async keepTyping(chat: string, stop: AbortSignal): Promise<void> {
    const until = this.options.clock.now() + TYPING_MAX_MS;
    const signal = AbortSignal.any([this.options.signal, stop]);
    const connects = this.connects.get(chat) ?? 0;
    while ((this.connects.get(chat) ?? 0) === connects && this.options.clock.now() < until && !signal.aborted) {
      await this.bot.api.sendChatAction(chat, 'typing').catch(() => {});
      await this.options.clock.sleep(TYPING_EVERY_MS, signal);
    }
  }

  /**
   * `/send <key or text>`: the owner's keys into the chat's session, as Discord's `/session send` (the
   * way to answer a dialog from the phone). After a start-up dialog, the development-channel
   * confirmation that may follow is answered as at every start.
   */
  private async send(row: SessionRow, input: string, from: number | undefined): Promise<string> {
    const { manager, log } = this.options;
    if (!input.trim()) return `Usage: /send <key or text>. Keys: ${Object.keys(SEND_KEYS).join(', ')}; anything else is typed, then Enter.`;
    if (!isRunning(row.status)) return `The session is ${row.status}: /wake starts it.`;
    const before = classifyPane(await manager.deps.tmux.capturePane(row.tmux).catch(() => ''), { platform: 'telegram' });
    const plan = planSend(input);
    if (plan.kind === 'keys') await manager.deps.tmux.sendKeys(row.tmux, plan.keys);
    else {
      if (!plan.text) return 'Nothing to send: give a key name or some text.';
      await manager.deps.tmux.sendKeys(row.tmux, [plan.text], true);
      await manager.deps.tmux.sendKeys(row.tmux, ['Enter']);
    }
    log.info(`/send ${plan.kind === 'keys' ? plan.keys.join('+') : `(${plan.text.length} characters)`} to ${row.tmux} by user ${from}`);
    if (isStartupDialog(before.kind)) void manager.deps.afterStart?.(row.tmux).catch(() => {});
    return plan.kind === 'keys' ? `Sent ${plan.keys.join(' + ')}` : `Typed: ${plan.text.slice(0, 200)}`;
  }

  private async onCommand(ctx: Context): Promise<void> {
    const message = ctx.message!;
    const chat = String(message.chat.id);
    const { manager, log } = this.options;
    const [word = '', ...rest] = (message.text ?? '').split(/\s+/);
    const command = word.replace(/^\//, '').replace(/@.*$/, '');
    if (!this.isOwner(message.from?.id)) {
      log.warn(`REFUSED /${command} from user ${message.from?.id} (${message.from?.username ?? message.from?.first_name}) in chat ${chat}`);
      return;
    }
    const reply = (text: string) => ctx.reply(text.slice(0, 4000)).then(() => undefined);
    try {
      if (command === 'sessions') {
        const rows = await manager.list();
        return reply(rows.length ? rows.map((r) => `${r.status.padEnd(9)} ${r.name} (${r.id})${r.condition ? `: ${r.condition.cause}` : ''}`).join('\n') : 'No sessions yet.');
      }
      const row = (await manager.list()).find((r) => r.id === chat);
      if (!row) return reply('This chat has no session yet: send a message to start one.');
      switch (command) {
        case 'status':
          return reply([`${row.status}  ${row.name}`, ...(row.condition ? formatCondition(row.condition) : []), ...(row.newConversation ? [formatNewConversation(row.newConversation)] : []), `tmux: ${row.tmux}`, `profile: ${row.profile}`, `workdir: ${row.workdir ?? '—'}`, `session: ${row.sessionId ?? '—'}`].join('\n'));
        case 'restart':
        case 'fresh':
          return reply(formatSpawn(await manager.restart(chat, { fresh: command === 'fresh' })).join('\n'));
        case 'kill':
          await manager.stop(chat);
          return reply(`Stopped ${row.tmux}. /wake (or a new message) starts it again.`);
        case 'wake':
          return reply(formatSpawn(await manager.wake(chat)).join('\n'));
        case 'workdir': {
          const path = rest.join(' ').trim();
          if (!path) return reply(`workdir: ${row.workdir ?? '—'}`);
          return reply([`workdir → ${path}`, ...formatSpawn(await manager.restart(chat, { workdir: path }))].join('\n'));
        }
        case 'profile': {
          const name = rest.join(' ').trim();
          if (!name) return reply(`profile: ${row.profile} · available: ${manager.profileNames().join(', ')}`);
          return reply([`profile → ${name}`, ...formatSpawn(await manager.switchProfile(chat, name))].join('\n'));
        }
        case 'send':
          return reply(await this.send(row, (message.text ?? '').replace(/^\/\S+\s*/, ''), message.from?.id));
      }
    } catch (error) {
      await reply(`⚠️ ${formatError(error)}`).catch(() => {});
    }
  }
}

