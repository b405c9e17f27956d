import { join } from 'node:path';
import type { ConsolaInstance } from 'consola';
import type { Clock } from '../clock.ts';
import { formatError } from '../errors.ts';
import type { SessionManager } from '../manager.ts';
import { dequeue, enqueue, listQueue } from '../queue.ts';
import { BUSY, PROMPT_READY } from './slash/pane.ts';
import { oneLine } from './slash/keys.ts';

/** How long a woken session may take to show its prompt before delivery is retried later. */
export const READY_TIMEOUT_MS = 90_000;
const READY_POLL_MS = 200;

/** A chat message kept for a session that was down when it arrived. */
export interface PendingMessage {
  channelId: string;
  messageId: string;
  authorId: string;
  author: string;
  content: string;
  ts: string;
}

export interface WakeDeps {
  manager: SessionManager;
  clock: Clock;
  log: ConsolaInstance;
  readyTimeoutMs?: number;
}

/** What the session sees: who wrote, where to answer (chat_id), then the text on one line. */
export function formatDelivery(message: PendingMessage): string {
  return oneLine(`[Discord message from ${message.author} (user ${message.authorId}) in chat_id ${message.channelId}, message_id ${message.messageId}; answer with your reply tool] ${message.content}`);
}

/**
 * Wake-on-message: messages for a session that is down are queued on disk (`<state>/wake-queue/`),
 * the session is woken, and once its prompt shows they are typed in, in order, each removed from the
 * queue only after it was typed. Work per channel is serialised; the queue survives daemon restarts.
 */
export class WakeDelivery {
  private readonly chains = new Map<string, Promise<void>>();

  constructor(private readonly deps: WakeDeps) {}

  queueDir(channelId: string): string {
    return join(this.deps.manager.stateDir(channelId), 'wake-queue');
  }

  /** True while messages for this channel are being held or delivered. */
  isBusy(channelId: string): boolean {
    return this.chains.has(channelId) || listQueue(this.queueDir(channelId)).length > 0;
  }

  /** Queues a message and makes sure delivery runs. Resolves when this channel's queue was worked through. */
  async accept(message: PendingMessage): Promise<void> {
    enqueue(this.queueDir(message.channelId), message, this.deps.clock.now());
    return this.kick(message.channelId);
  }

  /** Starts (or joins) delivery for a channel. */
  kick(channelId: string): Promise<void> {
    const previous = this.chains.get(channelId) ?? Promise.resolve();
    const next = previous.then(() => this.drain(channelId)).catch((error) => {
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

  private async drain(channelId: string): Promise<void> {
    const { manager, log } = this.deps;
    const dir = this.queueDir(channelId);
    if (listQueue(dir).length === 0) return;
    const tmuxName = manager.tmuxName(channelId);
    const info = (await manager.liveSessions()).get(tmuxName);
    if (!info || info.dead) {
      const result = await manager.wake(channelId);
      log.info(`WOKE  ${tmuxName} for ${listQueue(dir).length} waiting message(s) (${result.mode === '--resume' ? 'resumed' : 'new conversation'})`);
    }
    await this.waitForPrompt(tmuxName);
    for (const { name, item } of listQueue<PendingMessage>(dir)) {
      await manager.deps.tmux.sendKeys(tmuxName, [formatDelivery(item)], true);
      await manager.deps.tmux.sendKeys(tmuxName, ['Enter']);
      dequeue(dir, name);
      log.info(`DELIVERED  message ${item.messageId} from ${item.author} to ${tmuxName}`);
    }
  }

  private async waitForPrompt(tmuxName: string): Promise<void> {
    const { manager, clock } = this.deps;
    const deadline = clock.now() + (this.deps.readyTimeoutMs ?? READY_TIMEOUT_MS);
    for (;;) {
      const screen = await manager.deps.tmux.capturePane(tmuxName).catch(() => '');
      if (PROMPT_READY.test(screen) && !BUSY.test(screen)) return;
      if (clock.now() > deadline) throw new Error(`the prompt of ${tmuxName} did not appear`);
      await Bun.sleep(READY_POLL_MS);
    }
  }
}
