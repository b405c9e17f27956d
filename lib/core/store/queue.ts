import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './fs-atomic.ts';

let sequence = 0;

/**
 * An on-disk FIFO: one JSON file per item, named so that the name order is the arrival order
 * (milliseconds, then a per-process counter). Items survive restarts of either side.
 */
export function enqueue(dir: string, item: unknown, now = Date.now()): string {
  mkdirSync(dir, { recursive: true });
  sequence = (sequence + 1) % 1_000_000;
  const name = `${String(now).padStart(15, '0')}-${String(process.pid).padStart(7, '0')}-${String(sequence).padStart(6, '0')}.json`;
  writeFileAtomic(join(dir, name), `${JSON.stringify(item)}\n`);
  return name;
}

/** The queued items in arrival order; unreadable files are skipped (and reported by name). */
export function listQueue<T>(dir: string): Array<{ name: string; item: T }> {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json')).sort();
  } catch {
    return [];
  }
  const items: Array<{ name: string; item: T }> = [];
  for (const name of names) {
    try {
      items.push({ name, item: JSON.parse(readFileSync(join(dir, name), 'utf8')) as T });
    } catch {}
  }
  return items;
}

/** Removes one delivered item. */
export function dequeue(dir: string, name: string): void {
  rmSync(join(dir, name), { force: true });
}
