import { z } from 'zod';

/**
 * The link between a platform's router and the bridges of its sessions: one JSON object per line
 * over a Unix socket, every line validated. Version 1. A bridge proves which session it serves with
 * that session's secret (`.link-secret` in its state folder, 0600), so nothing else on the machine
 * can pose as a session or read its messages.
 */
export const LINK_VERSION = 1;

const id = z.string().regex(/^-?[0-9]{1,20}$/);
const meta = z.record(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/), z.string());

export const BridgeToRouter = z.discriminatedUnion('type', [
  /** First line: which session, and its secret. */
  z.object({ v: z.literal(LINK_VERSION), type: z.literal('hello'), session: id, secret: z.string().min(32).max(128), pid: z.number().int() }),
  /** Claude Code took the message (it leaves the inbox). */
  z.object({ v: z.literal(LINK_VERSION), type: z.literal('taken'), id }),
  /** It was not taken: `deaf` (Claude Code did not take it), `stopping` (the session is being stopped). It stays queued. */
  z.object({ v: z.literal(LINK_VERSION), type: z.literal('not-taken'), id, reason: z.enum(['deaf', 'stopping']) }),
  z.object({ v: z.literal(LINK_VERSION), type: z.literal('ping') }),
]);
export type BridgeToRouter = z.infer<typeof BridgeToRouter>;

export const RouterToBridge = z.discriminatedUnion('type', [
  /** The hello was accepted: messages follow. */
  z.object({ v: z.literal(LINK_VERSION), type: z.literal('welcome') }),
  z.object({ v: z.literal(LINK_VERSION), type: z.literal('message'), id, content: z.string(), meta }),
  z.object({ v: z.literal(LINK_VERSION), type: z.literal('pong') }),
]);
export type RouterToBridge = z.infer<typeof RouterToBridge>;

/** Distributes `Omit` over a union, so each frame keeps its own fields. */
type WithoutVersion<T> = T extends unknown ? Omit<T, 'v'> : never;

export function encodeFrame(frame: WithoutVersion<BridgeToRouter> | WithoutVersion<RouterToBridge>): string {
  return `${JSON.stringify({ v: LINK_VERSION, ...frame })}\n`;
}

/** A line longer than this ends the connection (a message is capped well below it). */
const MAX_LINE_BYTES = 1 << 20;

/**
 * Splits a byte stream into frames and validates each. A line that is not valid JSON or not a frame
 * of this version is reported through `onInvalid` (the caller closes the connection).
 */
export class FrameDecoder<T> {
  private buffer = '';
  private readonly decoder = new TextDecoder();

  constructor(
    private readonly schema: z.ZodType<T>,
    private readonly onInvalid: (reason: string) => void,
  ) {}

  push(chunk: Uint8Array | string): T[] {
    this.buffer += typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    if (this.buffer.length > MAX_LINE_BYTES && !this.buffer.includes('\n')) {
      this.buffer = '';
      this.onInvalid('a line over 1 MiB');
      return [];
    }
    const lines = this.buffer.split('\n');
    this.buffer = lines.pop() ?? '';
    const frames: T[] = [];
    for (const line of lines) {
      if (!line.trim()) continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        this.onInvalid('a line that is not JSON');
        continue;
      }
      const parsed = this.schema.safeParse(value);
      if (parsed.success) frames.push(parsed.data);
      else this.onInvalid(`an invalid frame (${parsed.error.issues[0]?.message ?? 'unknown'})`);
    }
    return frames;
  }
}
