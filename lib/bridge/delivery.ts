import { basename, dirname } from 'node:path';
import type { Clock } from '../core/util/clock.ts';
import { pollUntil } from '../core/util/poll.ts';
import { findTranscript, TranscriptWatch } from '../core/host/transcript.ts';
import type { McpServer } from './mcp.ts';

/** After the handshake, how long the CLI's own first tools/list may take before probing starts anyway. */
const INITIAL_LISTING_MS = 2000;
/** How long one readiness probe waits for the tools/list it should cause. */
const PROBE_MS = 250;
/** Give up waiting for readiness after this long (deliveries are then tried and confirmed anyway). */
const READY_TIMEOUT_MS = 30_000;
/**
 * How long a pushed message may take to show as taken. The CLI flushes transcript lines every 100 ms;
 * a conversation that has no transcript yet holds them back until its first turn starts (~0.5 s).
 */
const CONFIRM_MS = 3000;
const CONFIRM_NEW_TRANSCRIPT_MS = 10_000;
/** Pushes of one message before it counts as not taken (each after a fresh readiness probe). */
const MAX_PUSHES = 3;
const POLL_MS = 25;

/** One inbound chat message as the channel notification carries it. */
export interface ChannelMessage {
  content: string;
  /** String values only; must hold `chat_id` and `message_id` (the transcript shows them back). */
  meta: Record<string, string>;
}

/** `stopping`: not pushed, the session is being stopped (it stays queued for the next start). */
export type DeliveryOutcome = 'taken' | 'already-taken' | 'not-taken' | 'stopping';

/**
 * Hands channel messages to Claude Code and tells whether it TOOK them.
 *
 * Claude Code drops, without a word, channel notifications that arrive before it registered its
 * channel handler (0.15–0.6 s after the MCP handshake), and never acknowledges one. Two things make
 * delivery certain:
 * - readiness: the CLI registers its `tools/list_changed` handler in the same step as the channel
 *   handler, so a `notifications/tools/list_changed` that makes it list our tools again proves the
 *   channel handler is in place. Until then nothing is pushed.
 * - confirmation: a message counts as delivered only once the session's transcript shows the
 *   `queue-operation` enqueue line naming its chat_id and message_id; one that does not show is pushed
 *   again (after a new probe), and one that already shows (taken before a bridge restart) is never
 *   pushed again.
 */
export class ChannelDelivery {
  private listings = 0;
  private ready = false;
  readonly watch: TranscriptWatch;

  constructor(
    private readonly server: Pick<McpServer, 'notify' | 'sendToolListChanged'>,
    /** The transcript path the session recorded (`.transcript` in its state dir). */
    transcriptPath: string,
    private readonly clock: Clock,
  ) {
    // Where it will be; else under any project folder of the same config dir (the id is the file name).
    const configDir = dirname(dirname(dirname(transcriptPath)));
    const sessionId = basename(transcriptPath, '.jsonl');
    this.watch = new TranscriptWatch(transcriptPath, () => findTranscript([configDir], sessionId));
  }

  /** Call from the server's tools/list handler. */
  noteToolsListed(): void {
    this.listings++;
  }

  get isReady(): boolean {
    return this.ready;
  }

  /** Resolves true once Claude Code takes channel messages, false on timeout or abort. */
  async waitReady(signal: AbortSignal, timeoutMs = READY_TIMEOUT_MS): Promise<boolean> {
    if (this.ready) return true;
    await this.until(() => this.listings > 0, INITIAL_LISTING_MS, signal);
    const deadline = this.clock.now() + timeoutMs;
    while (!signal.aborted && this.clock.now() < deadline) {
      if (await this.probe(signal)) return (this.ready = true);
    }
    return false;
  }

  /**
   * Pushes a message unless it was taken before, and confirms it from the transcript. `isStopping`
   * is asked before every push: a stopping Claude Code would take the message and lose it.
   */
  async deliver(message: ChannelMessage, signal: AbortSignal, isStopping: () => boolean = () => false): Promise<DeliveryOutcome> {
    const { chat_id: chatId = '', message_id: messageId = '' } = message.meta;
    const taken = () => this.watch.hasTaken(chatId, messageId);
    if (taken()) return 'already-taken';
    for (let push = 1; push <= MAX_PUSHES && !signal.aborted; push++) {
      if (push > 1) {
        await this.probe(signal);
        if (taken()) return 'taken';
      }
      if (isStopping()) return 'stopping';
      const wait = this.watch.file ? CONFIRM_MS : CONFIRM_NEW_TRANSCRIPT_MS;
      await this.server.notify('notifications/claude/channel', { content: message.content, meta: message.meta });
      if (await this.until(taken, wait, signal)) return 'taken';
    }
    return 'not-taken';
  }

  /** One `tools/list_changed`; true when the CLI listed our tools again within the probe window. */
  private async probe(signal: AbortSignal): Promise<boolean> {
    const before = this.listings;
    await this.server.sendToolListChanged().catch(() => {});
    return this.until(() => this.listings > before, PROBE_MS, signal);
  }

  private until(check: () => boolean, ms: number, signal: AbortSignal): Promise<boolean> {
    return pollUntil(check, { timeoutMs: ms, intervalMs: POLL_MS, clock: this.clock, signal });
  }
}
