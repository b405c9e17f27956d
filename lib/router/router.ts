import { join } from 'node:path';
import type { ConsolaInstance } from 'consola';
import { addAlwaysAllowed, hasState, loadAlwaysAllowed, stampState } from '../core/store/state.ts';
import type { SessionManager } from '../core/sessions/manager.ts';
import type { TmuxSessionInfo } from '../core/host/tmux.ts';
import type { Clock } from '../core/util/clock.ts';
import { CrsError, formatError } from '../core/util/errors.ts';
import { retryDelay } from '../core/util/retry.ts';
import { Inbox, type InboxEntry } from './inbox.ts';
import type { PendingPermission, PermissionChoice, PermissionOutcome } from './permissions.ts';
import type { Actor } from '../core/control/authorize.ts';
import { claimNotice, currentCondition, readCondition, recordCondition, writeCondition } from '../core/store/condition.ts';
import { formatConditionNotice } from '../core/sessions/format.ts';
import { TURN_QUIET_MS, readTurn, turnRunning } from '../core/store/turn.ts';
import { LimitKeeper } from './limits.ts';
import { type Link, LinkServer, type LinkServerOptions, readLinkSecret, routerSocketPath } from './links.ts';

/** How often sessions with queued messages and no bridge are looked after. */
const SWEEP_MS = 5000;
const TYPING_EVERY_MS = 4000;
/** How long a starting session may show "typing…" before its bridge connects. */
const TYPING_MAX_MS = 120_000;
/** A running session whose bridge has not connected for this long (with messages waiting) is restarted. */
export const BRIDGE_CONNECT_GRACE_MS = 60_000;
/** After its bridge dropped, a running session gets this long for the bridge to come back (it reconnects within a second). */
export const BRIDGE_RECONNECT_GRACE_MS = 10_000;
/** The first restart for liveness waits this long after the previous one; each next one twice as long. */
const RESTART_BACKOFF_MS = 30_000;
const RESTART_BACKOFF_MAX_MS = 15 * 60_000;
/** A session whose bridge is gone is not restarted during a turn younger than this. */
const BUSY_TURN_SPARED_MS = 60 * 60_000;
/** How often messages held for a turn under way look again whether it ended. */
const TURN_CHECK_MS = 1000;
/** A message taken starts a turn; its UserPromptSubmit hook shows it within this (~0.2 s measured). */
const TURN_START_WAIT_MS = 3000;
/** The cause of a DEAF session whose bridge stopped answering. */
const SILENT_CAUSE = 'its bridge stopped answering (hung or frozen): messages are not reaching it';
/** The same "waiting for you" is not told again within this. */
const ATTENTION_REPEAT_MS = 10 * 60_000;
/** A "waiting for you" is held this long: a permission question arriving meanwhile asks instead. */
const ATTENTION_GRACE_MS = 1500;

/** A chat message for a session, already authorised and mapped by a platform adapter. */
export interface RoutedMessage extends Omit<InboxEntry, 'at'> {
  /** The session (channel, thread or chat id) it goes to. */
  session: string;
}

/** What the core needs from a platform. */
export interface ChannelAdapter {
  /** Posts a plain notice in a session's chat (a start that failed, a refusal). */
  notify(session: string, text: string): Promise<void>;
  /** Shows "typing…" in a session's chat while its session starts. */
  typing?(session: string): Promise<void>;
  /** Creates the session of a chat that has none yet (the platform knows its name, parent, type). */
  spawn(session: string): Promise<{ tmux: string }>;
  /**
   * Posts an approval request in the session's chat, for the owner only: the session's name, the tool,
   * the description, the input preview, and Allow / Deny / Always allow <tool> / Details. Returns what
   * `settlePermission` needs to edit it.
   */
  askPermission(request: PendingPermission): Promise<unknown>;
  /** Edits an approval message to show how it ended (the decision, who took it and when); its buttons go. */
  settlePermission(request: PendingPermission, ref: unknown, outcome: PermissionOutcome): Promise<void>;
  /** One message to the owner(s) about the whole fleet (a usage limit), not in any session's chat. */
  notifyOwners(text: string): Promise<void>;
}

/** A permission request waiting for the owner, with where its verdict goes and its message. */
interface PendingEntry {
  request: PendingPermission;
  link: Link;
  ref?: unknown;
  /** The adapter's post, awaited before the message is edited. */
  posted: Promise<void>;
}

export interface RouterOptions {
  manager: SessionManager;
  adapter: ChannelAdapter;
  clock: Clock;
  log: ConsolaInstance;
  signal: AbortSignal;
  /** Test seams: the liveness timings (defaults: BRIDGE_CONNECT_GRACE_MS, LINK_SILENCE_MS, 5 s sweeps). */
  timings?: { connectGraceMs?: number; reconnectGraceMs?: number; silenceMs?: number; sweepMs?: number; continueAfterResetMs?: number };
}

/** The core's view of one session's link. */
interface LinkState {
  link: Link;
  inflight: string | null;
  /** The bridge said Claude Code did not take a message: nothing more is sent on this link. */
  stalled: boolean;
}

/**
 * The platform-neutral router: every authorised chat message is queued in its session's durable
 * inbox, the session is spawned or woken, and its bridge is handed the messages one at a time; an
 * entry leaves only when the bridge says Claude Code took it. Liveness: a bridge that does not
 * connect, goes silent or stops taking messages gets its session restarted (with backoff), and its
 * messages stay queued.
 */
export class Router {
  private readonly links = new Map<string, LinkState>();
  private readonly starting = new Map<string, Promise<void>>();
  /** The last start failure told per session, so a failing start is told once, not at every retry. */
  private readonly startErrors = new Map<string, string>();
  /** Bridge connections per session since the router started (ends a typing indicator). */
  private readonly connects = new Map<string, number>();
  /** Since when a running session has had messages waiting and no bridge (ms since the epoch). */
  private readonly unlinkedSince = new Map<string, number>();
  /** When a session's bridge last dropped (ms since the epoch): a bridge that does not come back is gone. */
  private readonly droppedAt = new Map<string, number>();
  /** Liveness restarts per session: when the last was, and how many in a row. */
  private readonly restarts = new Map<string, { at: number; count: number }>();
  /** The last "waiting for you" told per session, so the same words are told once. */
  private readonly attention = new Map<string, { message: string; at: number }>();
  /** When each session was last told its bridge went silent (a flapping bridge is told once in ATTENTION_REPEAT_MS). */
  private readonly silentToldAt = new Map<string, number>();
  private readonly attentionTimers = new Set<ReturnType<typeof setTimeout>>();
  /** Permission requests waiting for the owner, by `<session>/<request id>`. */
  private readonly permissions = new Map<string, PendingEntry>();
  private readonly server: LinkServer;
  private readonly limits: LimitKeeper;
  private sweeper: ReturnType<typeof setInterval> | undefined;
  /** Sessions whose next message waits for the turn under way to end. */
  private readonly heldForTurn = new Set<string>();
  /** When each session's last message was taken: the turn it starts shows in its hooks a moment later. */
  private readonly takenAt = new Map<string, number>();
  private turnChecker: ReturnType<typeof setInterval> | undefined;
  /** The start of a turn judged over because its pane went still (no Stop hook came), per session. */
  private readonly quietTurns = new Map<string, number>();

  constructor(private readonly options: RouterOptions) {
    const { manager } = options;
    this.server = new LinkServer({
      path: routerSocketPath(manager.paths.sessionsDir),
      clock: options.clock,
      log: options.log,
      secretOf: (session) => (manager.platform.idPattern.test(session) ? readLinkSecret(manager.stateDir(session)) : undefined),
      onLink: (link) => this.onLink(link),
      onFrame: (link, frame) => this.onFrame(link, frame),
      onClose: (link) => this.onClose(link),
      onSilent: (link) => this.onSilent(link),
      silenceMs: options.timings?.silenceMs,
    });
    this.limits = new LimitKeeper({
      manager,
      log: options.log,
      clock: options.clock,
      notifyOwners: (text) => options.adapter.notifyOwners(text),
      onContinued: (session) => this.pump(session),
      continueAfterResetMs: options.timings?.continueAfterResetMs,
    });
  }

  inbox(session: string): Inbox {
    return new Inbox(join(this.options.manager.stateDir(session), 'inbox'));
  }

  /** Listens for bridges and looks after waiting messages until `close()`. */
  start(): void {
    this.server.listen();
    for (const session of Object.keys(this.options.manager.registry())) {
      const adopted = this.inbox(session).adoptLegacy(this.options.clock.now());
      if (adopted) this.options.log.info(`inbox of ${session}: ${adopted} message(s) taken over from the earlier queue format`);
    }
    this.sweep();
    this.sweeper = setInterval(() => this.sweep(), this.options.timings?.sweepMs ?? SWEEP_MS);
  }

  close(): void {
    clearInterval(this.sweeper);
    clearInterval(this.turnChecker);
    for (const timer of this.attentionTimers) clearTimeout(timer);
    this.server.close();
  }

  /** Whether a session's bridge is connected. */
  isLinked(session: string): boolean {
    return this.links.has(session);
  }

  /**
   * Queues a message and gets it on its way. Returns false for a message queued before (a re-fetched
   * update, a backfill overlap). Throws when it cannot be queued: the platform must not confirm it.
   */
  accept(message: RoutedMessage): boolean {
    const { session, ...entry } = message;
    let added: boolean;
    try {
      added = this.inbox(session).add({ ...entry, at: this.options.clock.now() });
    } catch (error) {
      throw new CrsError(`Could not queue message ${entry.id} for session ${session}: ${formatError(error)}.`, { cause: error });
    }
    if (!added) return false;
    if (this.links.has(session)) this.pump(session);
    else void this.ensureSession(session);
    return true;
  }

  /**
   * Starts the session of a chat if it is not running: a new chat through the adapter, a known one by
   * waking it. Concurrent calls share one start.
   */
  ensureSession(session: string): Promise<void> {
    const running = this.starting.get(session);
    if (running) return running;
    const work = this.startSession(session).finally(() => this.starting.delete(session));
    this.starting.set(session, work);
    return work;
  }

  private async startSession(session: string): Promise<void> {
    const { manager, log, adapter } = this.options;
    const stop = new AbortController();
    try {
      const entry = manager.registry()[session];
      const info = (await manager.liveSessions()).get(manager.tmuxName(session));
      if (entry && info && !info.dead) return; // running: its bridge connects when Claude Code is ready
      void this.keepTyping(session, stop.signal);
      if (!entry) {
        const result = await adapter.spawn(session);
        log.info(`NEW  ${session} → ${result.tmux}`);
      } else {
        const result = await manager.wake(session);
        log.info(`WOKE  ${result.tmux} for waiting messages`);
      }
      this.startErrors.delete(session);
    } catch (error) {
      stop.abort();
      const text = formatError(error);
      if (this.startErrors.get(session) === text) return;
      this.startErrors.set(session, text);
      log.error(`starting the session of ${session} failed: ${text}`);
      await adapter.notify(session, `⚠️ Could not start this chat's session: ${text}`).catch(() => {});
    }
  }

  /** Restarts a running session whose bridge is gone or not taking messages; backs off between tries. */
  private async restartForLiveness(session: string, why: string): Promise<void> {
    const now = this.options.clock.now();
    const last = this.restarts.get(session);
    const wait = retryDelay(last?.count ?? 0, { baseMs: RESTART_BACKOFF_MS, maxMs: RESTART_BACKOFF_MAX_MS });
    if (last && now - last.at < wait) return;
    this.restarts.set(session, { at: now, count: (last?.count ?? 0) + 1 });
    this.unlinkedSince.delete(session);
    const { manager, log } = this.options;
    log.warn(`RESTART  ${manager.tmuxName(session)}: ${why}; its ${this.inbox(session).size} message(s) stay queued`);
    try {
      await manager.restart(session);
    } catch (error) {
      log.error(`restarting ${manager.tmuxName(session)} failed: ${formatError(error)}`);
    }
  }

  private onLink(link: Link): void {
    const { log, manager } = this.options;
    if (link.role === 'hook') return; // a PermissionRequest hook: it only asks for a verdict
    this.links.get(link.session)?.link.close();
    this.links.set(link.session, { link, inflight: null, stalled: false });
    this.connects.set(link.session, (this.connects.get(link.session) ?? 0) + 1);
    this.unlinkedSince.delete(link.session);
    this.droppedAt.delete(link.session);
    const dir = manager.stateDir(link.session);
    if (readCondition(dir, 'bridge')?.cause === SILENT_CAUSE) writeCondition(dir, 'bridge', undefined);
    log.info(`bridge of ${manager.tmuxName(link.session)} connected (pid ${link.pid})`);
    this.pump(link.session);
  }

  private onFrame(link: Link, frame: Parameters<LinkServerOptions['onFrame']>[1]): void {
    if (frame.type === 'permission-request') return void this.onPermissionRequest(link, frame);
    if (frame.type === 'permission-resolved') return void this.settle(link.session, frame.request_id, { result: 'terminal', at: this.options.clock.now() });
    if (frame.type === 'attention') return void this.onAttention(link.session, frame.message);
    const state = this.links.get(link.session);
    if (!state || state.link !== link || state.inflight !== frame.id) return;
    state.inflight = null;
    if (frame.type === 'taken') {
      try {
        this.inbox(link.session).remove(frame.id);
      } catch (error) {
        // Left in the inbox, it is handed over again later and the bridge answers it as already taken.
        this.options.log.warn(`inbox of ${link.session}: could not remove message ${frame.id}: ${formatError(error)}`);
      }
      stampState(this.options.manager.stateDir(link.session), 'lastIn', this.options.clock.now());
      this.takenAt.set(link.session, this.options.clock.now());
      this.restarts.delete(link.session);
      this.pump(link.session);
      return;
    }
    state.stalled = true;
    if (frame.reason === 'deaf') void this.restartForLiveness(link.session, `Claude Code did not take message ${frame.id}`);
  }

  /**
   * A bridge that stopped answering (frozen, hung): the session is DEAF and the owner is told once; its
   * link is closed, and if the bridge does not come back the session is restarted (the sweep).
   */
  private onSilent(link: Link): void {
    const { manager, adapter, log, clock } = this.options;
    const dir = manager.stateDir(link.session);
    try {
      const condition = recordCondition(dir, 'bridge', {
        state: 'DEAF',
        cause: SILENT_CAUSE,
        fix: 'nothing: the session is restarted if its bridge does not come back; its messages wait',
        since: clock.now(),
      });
      const last = this.silentToldAt.get(link.session);
      if (last !== undefined && clock.now() - last < ATTENTION_REPEAT_MS) return void claimNotice(dir, 'bridge', condition);
      if (claimNotice(dir, 'bridge', condition)) {
        this.silentToldAt.set(link.session, clock.now());
        let name = link.session;
        try {
          name = manager.registry()[link.session]?.name ?? name;
        } catch {}
        void adapter.notify(link.session, formatConditionNotice(name, condition)).catch((error) => log.warn(`telling ${link.session} failed: ${formatError(error)}`));
      }
    } catch (error) {
      log.warn(`recording the DEAF state of ${link.session} failed: ${formatError(error)}`);
    }
  }

  /** A bridge went away: what it had not confirmed stays queued, and the session is woken if it stopped. */
  private onClose(link: Link): void {
    // What it asked and nobody answered is no longer asked.
    for (const [key, entry] of this.permissions) {
      if (entry.link === link) void this.settle(entry.request.session, entry.request.request_id, { result: 'gone', at: this.options.clock.now() }, key);
    }
    if (link.role === 'hook') return;
    const state = this.links.get(link.session);
    if (state?.link !== link) return;
    this.links.delete(link.session);
    this.droppedAt.set(link.session, this.options.clock.now());
    if (this.inbox(link.session).size) void this.ensureSession(link.session);
  }

  /** A request still waiting for the owner, for the platform's Details button. */
  pendingPermission(session: string, requestId: string): PendingPermission | undefined {
    return this.permissions.get(`${session}/${requestId}`)?.request;
  }

  /** The requests waiting in a session (for `yes`/`no` without an id, and for status). */
  pendingPermissions(session: string): PendingPermission[] {
    return [...this.permissions.values()].filter((e) => e.request.session === session).map((e) => e.request);
  }

  /**
   * The owner's verdict (the actor is authorised by the platform first): sent to whoever asked, kept
   * for good with `always`, and the request's message edited. `unknown`: no such request waits (it was
   * answered already, or its session stopped asking).
   */
  decidePermission(session: string, requestId: string, choice: PermissionChoice, actor: Actor): 'done' | 'unknown' {
    const entry = this.permissions.get(`${session}/${requestId}`);
    if (!entry) return 'unknown';
    const { manager, log } = this.options;
    if (choice === 'always') addAlwaysAllowed(manager.stateDir(session), entry.request.tool_name);
    entry.link.send({ type: 'permission', request_id: requestId, behavior: choice === 'deny' ? 'deny' : 'allow' });
    log.info(`PERMISSION  ${manager.tmuxName(session)} ${entry.request.tool_name} (${requestId}): ${choice} by user ${actor.id}`);
    void this.settle(session, requestId, { result: choice, by: actor, at: this.options.clock.now() });
    return 'done';
  }

  /**
   * Claude Code waits for the owner (its Notification hook). A permission request already has its
   * message in the chat; anything else is told once (the same words again within 10 minutes are not).
   */
  private onAttention(session: string, message: string): void {
    // The relay's question and this hook come at about the same moment: let the question win.
    const timer = setTimeout(() => {
      this.attentionTimers.delete(timer);
      this.tellAttention(session, message);
    }, ATTENTION_GRACE_MS);
    this.attentionTimers.add(timer);
  }

  private tellAttention(session: string, message: string): void {
    if (this.pendingPermissions(session).length) return;
    const now = this.options.clock.now();
    const last = this.attention.get(session);
    if (last && last.message === message && now - last.at < ATTENTION_REPEAT_MS) return;
    this.attention.set(session, { message, at: now });
    const { manager, adapter, log } = this.options;
    let name = session;
    try {
      name = manager.registry()[session]?.name ?? session;
    } catch {}
    void adapter.notify(session, `⏸ ${name} is waiting for you: ${message.slice(0, 300)}`).catch((error) => log.warn(`telling ${session} failed: ${formatError(error)}`));
  }

  /** A new request: answered at once for a tool allowed for good, else posted for the owner. */
  private onPermissionRequest(link: Link, frame: Extract<Parameters<LinkServerOptions['onFrame']>[1], { type: 'permission-request' }>): void {
    const { manager, log, adapter, clock } = this.options;
    const session = link.session;
    const request: PendingPermission = {
      session,
      request_id: frame.request_id,
      tool_name: frame.tool_name,
      description: frame.description,
      input_preview: frame.input_preview,
      via: link.role === 'hook' ? 'hook' : 'relay',
      at: clock.now(),
    };
    if (loadAlwaysAllowed(manager.stateDir(session)).includes(request.tool_name)) {
      link.send({ type: 'permission', request_id: request.request_id, behavior: 'allow' });
      log.info(`PERMISSION  ${manager.tmuxName(session)} ${request.tool_name} (${request.request_id}): allowed, always allowed in this session`);
      return;
    }
    const key = `${session}/${request.request_id}`;
    if (this.permissions.has(key)) return; // asked again (the relay and a hook): one message
    const entry: PendingEntry = { request, link, posted: Promise.resolve() };
    entry.posted = adapter
      .askPermission(request)
      .then((ref) => void (entry.ref = ref))
      .catch((error) => log.error(`posting the permission request ${request.request_id} of ${manager.tmuxName(session)} failed: ${formatError(error)}`));
    this.permissions.set(key, entry);
    this.markWaiting(session);
    log.info(`PERMISSION  ${manager.tmuxName(session)} asks for ${request.tool_name} (${request.request_id}, via ${request.via})`);
  }

  /** Ends a request: its message edited once it was posted, and the session no longer WAITING when none is left. */
  private async settle(session: string, requestId: string, outcome: PermissionOutcome, key = `${session}/${requestId}`): Promise<void> {
    const entry = this.permissions.get(key);
    if (!entry) return;
    this.permissions.delete(key);
    this.markWaiting(session);
    await entry.posted;
    if (entry.ref === undefined) return;
    await this.options.adapter.settlePermission(entry.request, entry.ref, outcome).catch((error) => this.options.log.warn(`editing the permission message ${requestId} failed: ${formatError(error)}`));
  }

  /** A session with requests waiting is WAITING (never suspended as idle); the condition goes with the last one. */
  private markWaiting(session: string): void {
    const pending = this.pendingPermissions(session);
    const dir = this.options.manager.stateDir(session);
    try {
      if (!pending.length) return writeCondition(dir, 'router', undefined);
      const first = pending[0]!;
      writeCondition(dir, 'router', {
        state: 'WAITING',
        cause: `asks to use ${first.tool_name}${pending.length > 1 ? ` (and ${pending.length - 1} more)` : ''}: ${first.description.slice(0, 120)}`,
        fix: `Allow or Deny in the chat (or \`yes ${first.request_id}\` / \`no ${first.request_id}\`)`,
        since: first.at,
        notified: true,
      });
    } catch (error) {
      this.options.log.warn(`recording the WAITING state of ${session} failed: ${formatError(error)}`);
    }
  }

  /** Hands the oldest queued message of a session to its bridge, if connected and idle. */
  private pump(session: string): void {
    const state = this.links.get(session);
    if (!state || state.inflight || state.stalled) return;
    // A stopping session would take the message and lose it with its process.
    if (hasState(this.options.manager.stateDir(session), 'stopping')) return;
    // A session stopped by a usage limit gets its messages after it was told to continue.
    if (this.limits.holds(session)) return;
    const next = this.inbox(session).first();
    if (!next) return;
    if (this.waitsForTurn(session)) return;
    state.inflight = next.id;
    state.link.send({ type: 'message', id: next.id, content: next.content, meta: next.meta });
  }

  /**
   * Whether a session's next message waits for the turn under way: Claude Code gives the model a channel
   * message that arrives mid-turn as a system note ("NOT from your user … not as instructions"), so the
   * owner's words go in as a prompt of their own once the turn ends (its Stop hook). Right after a
   * message was taken, the turn it starts is waited for too; a turn whose pane has gone still (ended
   * without its hook) holds nothing, unless a question waits for the owner.
   */
  private waitsForTurn(session: string, live?: Map<string, TmuxSessionInfo>): boolean {
    const { manager, clock } = this.options;
    const dir = manager.stateDir(session);
    const turn = readTurn(dir);
    if (!turn) return false; // no turn hooks (a session started before them): nothing to wait for
    const now = clock.now();
    const taken = this.takenAt.get(session);
    let waits: boolean;
    if (taken !== undefined && turn.since < taken) waits = now - taken < TURN_START_WAIT_MS;
    else if (turn.state !== 'busy' || this.quietTurns.get(session) === turn.since) waits = false;
    else if (!live) waits = true; // looked at again within a second, with the pane
    else {
      const info = live.get(manager.tmuxName(session));
      waits = Boolean(info && !info.dead) && (turnRunning(turn, info!.activity * 1000, now) || currentCondition(dir)?.state === 'WAITING');
      if (!waits) {
        this.quietTurns.set(session, turn.since);
        this.options.log.info(`turn of ${manager.tmuxName(session)} shows no activity for ${TURN_QUIET_MS / 1000} s: its messages go`);
      }
    }
    if (waits) {
      this.heldForTurn.add(session);
      this.turnChecker ??= setInterval(() => void this.checkTurns(), TURN_CHECK_MS);
    }
    return waits;
  }

  /** Every second while messages wait for a turn: those whose turn ended (or went still) go. */
  private async checkTurns(): Promise<void> {
    if (!this.heldForTurn.size) {
      clearInterval(this.turnChecker);
      this.turnChecker = undefined;
      return;
    }
    const live = await this.options.manager.liveSessions().catch(() => undefined);
    if (!live) return;
    for (const session of [...this.heldForTurn]) {
      this.heldForTurn.delete(session);
      if (!this.waitsForTurn(session, live)) this.pump(session);
    }
  }

  /**
   * Every few seconds: sessions with waiting messages and no bridge are started; one that runs but
   * whose bridge has not connected for a minute is restarted, unless a dialog waits for the owner.
   */
  private sweep(): void {
    const { manager, log, clock } = this.options;
    let ids: string[];
    let registry: ReturnType<SessionManager['registry']>;
    try {
      registry = manager.registry();
      ids = Object.keys(registry);
    } catch (error) {
      return log.warn(`sweep: ${formatError(error)}`);
    }
    const now = clock.now();
    void manager
      .liveSessions()
      .then((live) => {
        void this.limits.check(registry, live).catch((error) => log.warn(`usage limits: ${formatError(error)}`));
        for (const session of ids) {
          if (this.links.has(session) || this.starting.has(session) || !this.inbox(session).size) {
            this.unlinkedSince.delete(session);
            continue;
          }
          const info = live.get(manager.tmuxName(session));
          if (!info || info.dead) {
            void this.ensureSession(session);
            continue;
          }
          const since = this.unlinkedSince.get(session) ?? now;
          this.unlinkedSince.set(session, since);
          let dropped = this.droppedAt.get(session);
          // A drop before this pane started belongs to its previous process: this one gets the start grace.
          if (dropped !== undefined && info.created * 1000 > dropped) {
            this.droppedAt.delete(session);
            dropped = undefined;
          }
          const reconnectOver = dropped !== undefined && now - dropped >= (this.options.timings?.reconnectGraceMs ?? BRIDGE_RECONNECT_GRACE_MS);
          if (!reconnectOver && now - since < (this.options.timings?.connectGraceMs ?? BRIDGE_CONNECT_GRACE_MS)) continue;
          if (currentCondition(manager.stateDir(session))?.state === 'WAITING') continue; // the owner must answer first
          // A turn under way is not cut off for a bridge: the message waits until it ends (or an hour passes).
          const turn = readTurn(manager.stateDir(session));
          if (turn?.state === 'busy' && now - turn.since < BUSY_TURN_SPARED_MS) continue;
          this.droppedAt.delete(session);
          void this.restartForLiveness(session, reconnectOver ? 'its bridge went away and did not come back' : `its bridge has not connected for ${Math.round((now - since) / 1000)} s`);
        }
      })
      .catch((error) => log.warn(`sweep: ${formatError(error)}`));
  }

  /** Shows "typing…" every 4 s until the session's bridge connects, the start fails, or two minutes pass. */
  private async keepTyping(session: string, stop: AbortSignal): Promise<void> {
    const typing = this.options.adapter.typing;
    if (!typing) return;
    const until = this.options.clock.now() + TYPING_MAX_MS;
    const signal = AbortSignal.any([this.options.signal, stop]);
    const connects = this.connects.get(session) ?? 0;
    while ((this.connects.get(session) ?? 0) === connects && this.options.clock.now() < until && !signal.aborted) {
      await typing.call(this.options.adapter, session).catch(() => {});
      await this.options.clock.sleep(TYPING_EVERY_MS, signal);
    }
  }
}
