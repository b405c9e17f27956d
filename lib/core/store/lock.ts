import { closeSync, existsSync, linkSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { CrsError, errnoCode } from '../util/errors.ts';
import { retryDelay } from '../util/retry.ts';

const LOCK_TIMEOUT_MS = 15_000;
/** A holder whose start time cannot be checked (a lock of an older version) is trusted this long. */
const LOCK_UNVERIFIED_MS = 60_000;
/** An empty lock file this young may be one an older version is still writing. */
const LOCK_EMPTY_GRACE_MS = 1000;

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

/**
 * When a process started, as the system tells it (Linux: field 22 of /proc/<pid>/stat; elsewhere
 * `ps -o lstart=`): with the pid it names one process, so a reused pid is told apart. Undefined when
 * the process does not exist or the system cannot say.
 */
export function processStartTime(pid: number): string | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 1).trim().split(/\s+/)[19];
  } catch (error) {
    if (errnoCode(error) === 'ENOENT' && process.platform === 'linux') return undefined;
  }
  try {
    const result = Bun.spawnSync(['ps', '-o', 'lstart=', '-p', String(pid)], { stdout: 'pipe', stderr: 'ignore' });
    return result.exitCode === 0 ? result.stdout.toString().trim() || undefined : undefined;
  } catch {
    return undefined;
  }
}

let ownStart: string | undefined;

/** `<pid>\n<start time>\n`: what a lock or pid file records of its holder (this process). */
export function formatHolder(): string {
  ownStart ??= processStartTime(process.pid) ?? '';
  return ownStart ? `${process.pid}\n${ownStart}\n` : `${process.pid}\n`;
}

/** A lock or pid file's holder: its pid, and its start time when recorded. Undefined when the text is not one. */
export function parseHolder(text: string | undefined): { pid: number; start?: string } | undefined {
  const [pid, start] = (text ?? '').trim().split('\n', 2).map((s) => s.trim());
  if (!pid || !/^[1-9][0-9]{0,9}$/.test(pid)) return undefined;
  return start ? { pid: Number(pid), start } : { pid: Number(pid) };
}

/**
 * Whether the holder a lock or pid file names runs: its pid is alive and, when a start time was
 * recorded, that process started then (so a reused pid is not taken for it). `undefined` when the
 * pid is alive but nothing tells whether it is the same process.
 */
export function isHolderAlive(holder: { pid: number; start?: string } | undefined): boolean | undefined {
  if (!holder || !isProcessAlive(holder.pid)) return false;
  if (!holder.start) return undefined;
  const start = processStartTime(holder.pid);
  return start === undefined ? undefined : start === holder.start;
}

function tryAcquire(file: string): boolean {
  if (existsSync(file)) return false;
  // The holder is written in full before the lock exists (a hard link to a finished temp file), so no
  // reader ever sees a lock without its holder.
  const temp = `${file}.crs-${process.pid}-${Math.random().toString(36).slice(2, 8)}.tmp`;
  try {
    const fd = openSync(temp, 'wx', 0o600);
    try {
      writeSync(fd, formatHolder());
    } finally {
      closeSync(fd);
    }
    linkSync(temp, file);
    return true;
  } catch (error) {
    if (errnoCode(error) === 'EEXIST') return false;
    throw new CrsError(`Cannot create lock file ${file}: ${(error as Error).message}.`, { cause: error });
  } finally {
    try {
      unlinkSync(temp);
    } catch {}
  }
}

/** The lock's holder text, or undefined when it is gone. */
function readLock(file: string): { text: string; age: number } | undefined {
  try {
    return { text: readFileSync(file, 'utf8'), age: Date.now() - statSync(file).mtimeMs };
  } catch {
    return undefined;
  }
}

/**
 * Removes a lock whose holder is gone (dead, or its pid reused by another process) or whose text
 * names no holder at all, without removing one taken meanwhile. A live holder keeps its lock however
 * long it holds it. Returns the live holder's pid, if any.
 */
function breakIfStale(file: string): number | undefined {
  const lock = readLock(file);
  if (!lock) return undefined;
  const holder = parseHolder(lock.text);
  if (holder) {
    const alive = isHolderAlive(holder);
    if (alive || (alive === undefined && lock.age < LOCK_UNVERIFIED_MS)) return holder.pid;
  } else if (lock.text === '' && lock.age < LOCK_EMPTY_GRACE_MS) {
    return undefined;
  }
  const aside = `${file}.stale.${process.pid}`;
  try {
    renameSync(file, aside);
  } catch {
    return undefined;
  }
  // If another process re-took the lock between our read and the rename, put its lock back.
  let moved: string | undefined;
  try {
    moved = readFileSync(aside, 'utf8');
  } catch {}
  if (moved !== lock.text) {
    try {
      linkSync(aside, file);
    } catch {}
  }
  try {
    unlinkSync(aside);
  } catch {}
  return undefined;
}

/**
 * Runs `fn` while holding an exclusive lock file. Locks of dead processes, of reused pids and garbage
 * are broken; a live holder's lock never is: after LOCK_TIMEOUT_MS this gives up with an error naming it.
 */
export async function withLock<T>(file: string, fn: () => T | Promise<T>, options: { timeoutMs?: number } = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? LOCK_TIMEOUT_MS);
  let tries = 0;
  while (!tryAcquire(file)) {
    const holder = breakIfStale(file);
    if (Date.now() > deadline) {
      throw new CrsError(`Timed out waiting for the lock ${file}${holder ? ` (held by pid ${holder})` : ''}.`, {
        hint: holder ? `Another command (pid ${holder}) is still running: wait for it, or stop it.` : 'Another command is still running; if none is, delete the file.',
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
