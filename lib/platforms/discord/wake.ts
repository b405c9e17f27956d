import { join } from 'node:path';
import type { ConsolaInstance } from 'consola';
import type { Clock } from '../../core/util/clock.ts';
import { type Condition, claimNotice, recordCondition } from '../../core/store/condition.ts';
import { formatError } from '../../core/util/errors.ts';
import type { SessionManager } from '../../core/sessions/manager.ts';
import { formatConditionNotice } from '../notify.ts';
import { BUSY, PROMPT_READY, type PaneReading, classifyPane, submitLine } from '../../core/host/pane.ts';
import { dequeue, enqueue, listQueue } from '../../core/store/queue.ts';
import { oneLine } from '../../core/host/send-keys.ts';

/** How long a woken session may take to show its prompt before delivery is retried later. */
export const READY_TIMEOUT_MS = 90_000;
const READY_POLL_MS = 200;
/** A dialog still showing after this long holds delivery (a key just sent may still be closing it). */
export const DIALOG_SETTLE_MS = 2000;

/** A chat message kept for a session that was down when it arrived. */
export interface PendingMessage {
  channelId: string;
  messageId: string;
  authorId: string;
  author: string;
  content: string;
  ts: string;
  /** Typed in as it is (a `/run` command), not as a chat message. */
  raw?: boolean;
}

export interface WakeDeps {
  manager: SessionManager;
  clock: Clock;
  log: ConsolaInstance;
  readyTimeoutMs?: number;
  dialogSettleMs?: number;
  /** Posts in a channel: the owner hears once that messages wait behind a dialog, and its fix. */
  post?: (channelId: string, text: string) => Promise<void>;
}

export interface KickOptions {
  /** The caller answers the owner itself (a slash command's reply): nothing is posted about a hold. */
  quiet?: boolean;
}

/** What the session sees: who wrote, where to answer (chat_id), then the text on one line. */
export function formatDelivery(message: PendingMessage): string {
  if (message.raw) return oneLine(message.content);
  return oneLine(`[Discord message from ${message.author} (user ${message.authorId}) in chat_id ${message.channelId}, message_id ${message.messageId}; answer with your reply tool] ${message.content}`);
}

/**
 * Wake-on-message: messages for a session that is down are queued on disk (`<state>/wake-queue/`),
 * the session is woken, and once its prompt shows they are typed in, in order, each removed from the
 * queue only after it was typed. Work per channel is serialised; the queue survives daemon restarts.
 * Nothing is typed while a dialog has the keyboard (text would answer it: trust the folder, or exit
 * Claude Code): the messages stay queued, the session's WAITING condition is recorded, the owner is
 * told once, and delivery resumes when kicked again (`/session send`, or the periodic retry).
 */
export class WakeDelivery {
  private readonly chains = new Map<string, Promise<void>>();
  /** Channels whose last delivery stopped at a dialog, with its condition. */
  private readonly held = new Map<string, Condition>();
  /** The condition each channel's owner was last told about from here (`state\ncause`). */
  private readonly told = new Map<string, string>();

  constructor(private readonly deps: WakeDeps) {}

  queueDir(channelId: string): string {
    return join(this.deps.manager.stateDir(channelId), 'wake-queue');
  }

  /** True while messages for this channel are being held or delivered. */
  isBusy(channelId: string): boolean {
    return this.chains.has(channelId) || listQueue(this.queueDir(channelId)).length > 0;
  }

  /** Queues a message and makes sure delivery runs. Resolves when this channel's queue was worked through. */
  async accept(message: PendingMessage, options: KickOptions = {}): Promise<void> {
    enqueue(this.queueDir(message.channelId), message, this.deps.clock.now());
    return this.kick(message.channelId, options);
  }

  /** The dialog condition the channel's last delivery stopped at, if it did. */
  heldAt(channelId: string): Condition | undefined {
    return this.held.get(channelId);
  }

  /** Starts (or joins) delivery for a channel. */
  kick(channelId: string, options: KickOptions = {}): Promise<void> {
    const previous = this.chains.get(channelId) ?? Promise.resolve();
    const next = previous.then(() => this.drain(channelId, options)).catch((error) => {
      this.deps.log.error(`delivery to ${this.deps.manager.tmuxName(channelId)} failed, will retry: ${formatError(error)}`);
    });
    this.chains.set(channelId, next);
    void next.finally(() => {
      if (this.chains.get(channelId) === next) this.chains.delete(channelId);
    });
    return next;
  }

  /** Delivers whatever was left queued when the daemon last stopped. */
  resumeAll(): Promise<void[]> {
    const ids = Object.keys(this.deps.manager.registry()).filter((id) => listQueue(this.queueDir(id)).length > 0);
    return Promise.all(ids.map((id) => this.kick(id)));
  }

  private async drain(channelId: string, options: KickOptions): Promise<void> {
    const { manager, log } = this.deps;
    const dir = this.queueDir(channelId);
    this.held.delete(channelId);
    if (listQueue(dir).length === 0) return;
    const tmuxName = manager.tmuxName(channelId);
    const info = (await manager.liveSessions()).get(tmuxName);
    if (!info || info.dead) {
      const result = await manager.wake(channelId);
      log.info(`WOKE  ${tmuxName} for ${listQueue(dir).length} waiting message(s) (${result.mode === '--resume' ? 'resumed' : 'new conversation'})`);
    }
    if (!(await this.waitForPrompt(channelId, tmuxName, options))) return;
    let first = true;
    for (const { name, item } of listQueue<PendingMessage>(dir)) {
      if (!first) {
        // Typing the last message may have brought up a dialog (a usage-limit choice, a permission).
        const reading = classifyPane(await manager.deps.tmux.capturePane(tmuxName).catch(() => ''), { now: this.deps.clock.now() });
        if (reading.dialog) return this.hold(channelId, tmuxName, reading, options);
      }
      first = false;
      await submitLine(manager.deps.tmux, tmuxName, formatDelivery(item));
      dequeue(dir, name);
      log.info(`DELIVERED  message ${item.messageId} from ${item.author} to ${tmuxName}`);
    }
  }

  /** True once the prompt shows; false when a dialog has the keyboard (delivery is then held). */
  private async waitForPrompt(channelId: string, tmuxName: string, options: KickOptions): Promise<boolean> {
    const { manager, clock } = this.deps;
    const deadline = clock.now() + (this.deps.readyTimeoutMs ?? READY_TIMEOUT_MS);
    let dialogSince: number | undefined;
    for (;;) {
      const screen = await manager.deps.tmux.capturePane(tmuxName).catch(() => '');
      const reading = classifyPane(screen, { now: clock.now() });
      if (reading.dialog) {
        dialogSince ??= clock.now();
        if (clock.now() - dialogSince >= (this.deps.dialogSettleMs ?? DIALOG_SETTLE_MS)) {
          await this.hold(channelId, tmuxName, reading, options);
          return false;
        }
      } else {
        dialogSince = undefined;
        if (PROMPT_READY.test(screen) && !BUSY.test(screen)) return true;
      }
      if (clock.now() > deadline) throw new Error(`the prompt of ${tmuxName} did not appear`);
      await Bun.sleep(READY_POLL_MS);
    }
  }

  /** Leaves the queue as it is, records the dialog as the session's condition and tells the owner once. */
  private async hold(channelId: string, tmuxName: string, reading: PaneReading, options: KickOptions): Promise<void> {
    const { manager, log, clock } = this.deps;
    const dir = manager.stateDir(channelId);
    const count = listQueue(this.queueDir(channelId)).length;
    const condition = recordCondition(dir, 'pane', { ...reading.condition!, since: clock.now() });
    this.held.set(channelId, condition);
    log.info(`HELD  ${count} message(s) for ${tmuxName}: ${condition.cause}`);
    const key = `${condition.state}\n${condition.cause}`;
    // Whoever tells first claims it, so the watchdog does not tell the same again.
    const fresh = claimNotice(dir, 'pane', condition);
    if (options.quiet || !this.deps.post || (!fresh && this.told.get(channelId) === key)) return;
    this.told.set(channelId, key);
    const name = manager.registry()[channelId]?.name ?? channelId;
    const text = `${formatConditionNotice(name, condition)}\n${count === 1 ? 'A message waits' : `${count} messages wait`} and will be typed in once it is answered.`;
    await this.deps.post(channelId, text).catch((error) => log.warn(`could not tell the owner of ${tmuxName} about the dialog: ${formatError(error)}`));
  }
}
