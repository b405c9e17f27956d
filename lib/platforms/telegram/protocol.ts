import { join } from 'node:path';
import type { Paths } from '../../core/config/paths.ts';

/** The MCP server name sessions load as a development channel. */
export const BRIDGE_SERVER_NAME = 'crs-telegram';

/** The router's Unix socket, inside the sessions dir (owner-only by the dir's permissions). */
export function routerSocketPath(paths: Paths): string {
  return join(paths.sessionsDir, 'router.sock');
}

/** What flows between `serve` (the router) and a session's bridge: one JSON object per line. */
/** `ack`: Claude Code took the message (it leaves the queue); `nack`: it did not (it stays queued). */
export type BridgeToRouter = { type: 'hello'; chat: string; pid: number } | { type: 'ack'; id: string } | { type: 'nack'; id: string; reason: string };
export type RouterToBridge = { type: 'message'; id: string; content: string; meta: Record<string, string> };

/** Splits a byte stream into JSON lines; incomplete tails are kept for the next chunk. */
export class LineDecoder<T> {
  private buffer = '';
  private readonly decoder = new TextDecoder();

  push(chunk: Uint8Array | string): T[] {
    this.buffer += typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    const lines = this.buffer.split('\n');
    this.buffer = lines.pop() ?? '';
    const items: T[] = [];
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        items.push(JSON.parse(line) as T);
      } catch {
        // A garbled line is dropped; the sender re-sends anything unacknowledged.
      }
    }
    return items;
  }
}

export function encodeLine(value: BridgeToRouter | RouterToBridge): string {
  return `${JSON.stringify(value)}\n`;
}
