import { closeSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { CrsError, errnoCode } from '../util/errors.ts';
import { retryDelay } from '../util/retry.ts';

const LOCK_TIMEOUT_MS = 15_000;
const LOCK_STALE_MS = 60_000;

/**
 * Whether a process with this pid runs (signal 0 probes without sending anything). One that has exited
 * but was not reaped yet (a zombie) does not: when tmux exits with its last session, the killed pane
 * process goes to pid 1, which may reap it seconds later (an init of a container or VM) or never.
 */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if (errnoCode(error) !== 'EPERM') return false;
  }
  return !isZombie(pid);
}

/** Linux's process state `Z` (or `X`) in /proc; elsewhere (no /proc) false. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return /^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

function tryAcquire(file: string): boolean {
  try {
    const fd = openSync(file, 'wx', 0o644);
    writeSync(fd, String(process.pid));
    closeSync(fd);
    return true;
  } catch (error) {
    if (errnoCode(error) === 'EEXIST') return false;
    throw new CrsError(`Cannot create lock file ${file}: ${(error as Error).message}.`, { cause: error });
  }
}

/** Removes a lock whose holder died (or that is far too old), without removing one taken meanwhile. */
function breakIfStale(file: string): void {
  let holder: number;
  let age: number;
  try {
    holder = Number(readFileSync(file, 'utf8').trim());
    age = Date.now() - statSync(file).mtimeMs;
  } catch {
    return;
  }
  if (isProcessAlive(holder) && age < LOCK_STALE_MS) return;
  if (holder === 0 && age < 1000) return; // being written right now
  const aside = `${file}.stale.${process.pid}`;
  try {
    renameSync(file, aside);
  } catch {
    return;
  }
  // If another process re-took the lock between our read and the rename, put its lock back.
  const moved = Number(readFileSync(aside, 'utf8').trim());
  if (moved !== holder) {
    try {
      renameSync(aside, file);
    } catch {}
    return;
  }
  unlinkSync(aside);
}

/** Runs `fn` while holding an exclusive lock file (O_EXCL create; stale locks of dead processes are broken). */
export async function withLock<T>(file: string, fn: () => T | Promise<T>): Promise<T> {
  const deadline = Date.now() + LOCK_TIMEOUT_MS;
  let tries = 0;
  while (!tryAcquire(file)) {
    breakIfStale(file);
    if (Date.now() > deadline) {
      throw new CrsError(`Timed out waiting for the lock ${file}.`, {
        hint: 'Another command is still running; if none is, delete the file.',
      });
    }
    const delay = retryDelay(++tries, { baseMs: 2, maxMs: 50 });
    await Bun.sleep(delay + Math.random() * delay);
  }
  try {
    return await fn();
  } finally {
    try {
      unlinkSync(file);
    } catch {}
  }
}
