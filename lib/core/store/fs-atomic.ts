import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isProcessAlive } from './lock.ts';

/** A folder's leftover temp files are looked for at most this often (per process). */
const TEMP_SWEEP_MS = 10 * 60_000;
/** A temp file this old is left over whoever wrote it (a write takes milliseconds). */
const TEMP_STALE_MS = 10 * 60_000;
/** `<name>.crs-<pid>-<random>.tmp`: the temp files of writeFileAtomic (and of lock files); older versions wrote `<name>.<pid>.<random>.tmp`. */
const TEMP_NAME = /^.+\.(?:crs-([0-9]{1,10})-[a-z0-9]{1,8}|([0-9]{1,10})\.[a-z0-9]{1,6})\.tmp$/;

const lastSweep = new Map<string, number>();

/** The temp file a write of `path` goes through: named after it and its writer, so a leftover is found. */
export function tempFileOf(path: string): string {
  return `${path}.crs-${process.pid}-${Math.random().toString(36).slice(2, 8)}.tmp`;
}

/**
 * Removes the temp files a killed writer left in `dir`: those of a process that is gone, and any
 * older than TEMP_STALE_MS. Returns the names removed; never throws.
 */
export function sweepTempFiles(dir: string, now = Date.now()): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const match = TEMP_NAME.exec(name);
    if (!match) continue;
    const file = join(dir, name);
    try {
      if (isProcessAlive(Number(match[1] ?? match[2])) && now - statSync(file).mtimeMs < TEMP_STALE_MS) continue;
      unlinkSync(file);
      removed.push(name);
    } catch {}
  }
  return removed;
}

/**
 * Writes a file through a temp file in the same folder and a rename, so readers never see half of it.
 * Now and then (once per folder every TEMP_SWEEP_MS) it also clears the temp files killed writers left there.
 */
export function writeFileAtomic(path: string, data: string, mode = 0o600): void {
  const temp = tempFileOf(path);
  const fd = openSync(temp, 'w', mode);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(temp, path);
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch {}
    throw error;
  }
  const dir = dirname(path);
  const now = Date.now();
  if (now - (lastSweep.get(dir) ?? 0) >= TEMP_SWEEP_MS) {
    lastSweep.set(dir, now);
    sweepTempFiles(dir, now);
  }
}

/**
 * Creates a folder (and its missing parents) that only its owner can enter (0700), and narrows one
 * that exists with wider access, as an older version left it: queues, logs and state are private.
 */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    if ((statSync(dir).mode & 0o077) !== 0) chmodSync(dir, 0o700);
  } catch {}
}
