import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readOptionalFile } from '../core/config/config.ts';
import { writeFileAtomic } from '../core/store/fs-atomic.ts';

/** Platform message ids remembered per session to refuse a second copy (a re-fetched update, a backfill). */
const SEEN_KEEP = 1000;
const SEEN_FILE = '.seen';
const ID_PATTERN = /^[0-9]{1,20}$/;

/** One chat message waiting for its session, as the bridge will push it. */
export interface InboxEntry {
  /** The platform message id (Discord snowflake, Telegram message_id): the entry's key and its order. */
  id: string;
  content: string;
  /** The channel notification's meta (string values; `chat_id` and `message_id` among them). */
  meta: Record<string, string>;
  /** When it was queued (ms since the epoch). */
  at: number;
}

/** Orders platform ids (decimal strings of any length) numerically. */
export function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * A session's durable inbox: one 0600 file per message in a 0700 folder, named by its platform
 * message id so the folder's order is the chat's order. A message leaves only when Claude Code took
 * it (`remove`), and a platform id queued once is refused again (`add` returns false), also after the
 * entry left and after restarts: the last 1000 ids are kept in `.seen`.
 */
export class Inbox {
  constructor(readonly dir: string) {}

  /**
   * Queues a message unless its id was queued before. Throws when it cannot be written (a full disk,
   * a permission): then nothing is queued and the caller must not confirm the message to the platform.
   */
  add(entry: InboxEntry): boolean {
    if (!ID_PATTERN.test(entry.id)) throw new Error(`not a platform message id: ${JSON.stringify(entry.id.slice(0, 30))}`);
    const seen = this.seen();
    if (seen.includes(entry.id) || this.has(entry.id)) return false;
    this.ensureDir();
    writeFileAtomic(this.file(entry.id), `${JSON.stringify(entry)}\n`, 0o600);
    // Remembered after the entry exists: a crash in between leaves the entry, which `has` still sees.
    seen.push(entry.id);
    writeFileAtomic(join(this.dir, SEEN_FILE), `${seen.slice(-SEEN_KEEP).join('\n')}\n`, 0o600);
    return true;
  }

  /** The queued messages, oldest (lowest id) first; an unreadable file is skipped. */
  list(): InboxEntry[] {
    const entries: InboxEntry[] = [];
    for (const name of this.names()) {
      try {
        const entry = JSON.parse(readFileSync(join(this.dir, name), 'utf8')) as InboxEntry;
        if (entry && typeof entry.id === 'string' && typeof entry.content === 'string') entries.push(entry);
      } catch {}
    }
    return entries;
  }

  /** The oldest queued message, if any. */
  first(): InboxEntry | undefined {
    return this.list()[0];
  }

  get size(): number {
    return this.names().length;
  }

  has(id: string): boolean {
    return ID_PATTERN.test(id) && this.names().includes(this.fileName(id));
  }

  /** Takes a message out (Claude Code took it, or it was answered as undeliverable). */
  remove(id: string): void {
    if (ID_PATTERN.test(id)) rmSync(this.file(id), { force: true });
  }

  /**
   * Takes in the entries of the earlier queue format (`<ms>-<pid>-<seq>.json` holding `{content, meta}`),
   * keyed by their `meta.message_id`; returns how many. Run once when a router starts.
   */
  adoptLegacy(now: number): number {
    let names: string[];
    try {
      names = readdirSync(this.dir).filter((name) => /^[0-9]{15}-[0-9]{7}-[0-9]{6}\.json$/.test(name)).sort();
    } catch {
      return 0;
    }
    let adopted = 0;
    for (const name of names) {
      const file = join(this.dir, name);
      try {
        const item = JSON.parse(readFileSync(file, 'utf8')) as { content?: unknown; meta?: Record<string, string> };
        const id = item.meta?.message_id ?? '';
        if (typeof item.content === 'string' && item.meta && ID_PATTERN.test(id) && this.add({ id, content: item.content, meta: item.meta, at: now })) adopted++;
      } catch {}
      rmSync(file, { force: true });
    }
    return adopted;
  }

  /** The highest id ever queued here: where a catch-up of missed messages starts. */
  lastId(): string | undefined {
    return [...this.seen()].sort(compareIds).at(-1);
  }

  private seen(): string[] {
    return (readOptionalFile(join(this.dir, SEEN_FILE)) ?? '').split('\n').filter((id) => ID_PATTERN.test(id));
  }

  private names(): string[] {
    try {
      return readdirSync(this.dir).filter((name) => /^[0-9]{20}\.json$/.test(name)).sort();
    } catch {
      return [];
    }
  }

  private fileName(id: string): string {
    return `${id.padStart(20, '0')}.json`;
  }

  private file(id: string): string {
    return join(this.dir, this.fileName(id));
  }

  private ensureDir(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.dir, 0o700);
  }
}
