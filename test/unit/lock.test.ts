import { afterAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { isProcessAlive, parseHolder, processStartTime, withLock } from '../../lib/core/store/lock.ts';
import { sweepTempFiles, tempFileOf, writeFileAtomic } from '../../lib/core/store/fs-atomic.ts';
import { waitFor } from '../helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'crs-lock-'));
/** A live process that is not this one: a lock or pid file may name it. */
const other = Bun.spawn(['sleep', '60'], { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' });
afterAll(() => {
  other.kill();
  rmSync(dir, { recursive: true, force: true });
});

/** Sets a file's times `ms` into the past. */
function age(file: string, ms: number): void {
  const old = new Date(Date.now() - ms);
  utimesSync(file, old, old);
}

/** A pid that is certainly not running (above any pid_max). */
const DEAD_PID = 2 ** 30;

describe('isProcessAlive', () => {
  test.each<[string, number, boolean]>([
    ['this process', process.pid, true],
    ['pid 1', 1, true],
    ['a pid above pid_max', DEAD_PID, false],
    ['zero', 0, false],
    ['negative', -5, false],
    ['NaN', Number.NaN, false],
    ['a fraction', 1.5, false],
  ])('%s → %p', (_, pid, alive) => {
    expect(isProcessAlive(pid)).toBe(alive);
  });

  test('a process that exited but was not reaped (a zombie) is not alive', async () => {
    // `sh` starts `true` in the background and becomes `sleep`, which never reaps it.
    const parent = Bun.spawn(['sh', '-c', 'true & echo $!; exec sleep 30'], { stdout: 'pipe' });
    try {
      const reader = parent.stdout.getReader();
      const zombie = Number(new TextDecoder().decode((await reader.read()).value).trim());
      const state = () => {
        const stat = readFileSync(`/proc/${zombie}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      };
      await waitFor(() => state() === 'Z', 5000, `pid ${zombie} to become a zombie`);
      expect(isProcessAlive(zombie)).toBe(false);
      expect(isProcessAlive(parent.pid)).toBe(true);
    } finally {
      parent.kill();
      await parent.exited;
    }
  });
});

describe('withLock', () => {
  test('holds the lock file with our pid and start time while fn runs, removes it after, returns its value', async () => {
    const file = join(dir, 'a.lock');
    const value = await withLock(file, () => {
      expect(parseHolder(readFileSync(file, 'utf8'))).toEqual({ pid: process.pid, start: processStartTime(process.pid)! });
      return 42;
    });
    expect(value).toBe(42);
    expect(existsSync(file)).toBe(false);
  });

  test('releases the lock when fn throws', async () => {
    const file = join(dir, 'b.lock');
    await expect(withLock(file, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(existsSync(file)).toBe(false);
  });

  test('a second holder waits until the first releases', async () => {
    const file = join(dir, 'c.lock');
    const events: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const first = withLock(file, async () => {
      events.push('first in');
      await gate;
      events.push('first out');
    });
    const second = withLock(file, () => {
      events.push('second in');
    });
    // The second one is polling; let the event loop turn a few times before opening the gate.
    for (let i = 0; i < 5; i++) await Bun.sleep(1);
    expect(events).toEqual(['first in']);
    release();
    await Promise.all([first, second]);
    expect(events).toEqual(['first in', 'first out', 'second in']);
  });

  test('many concurrent holders never overlap', async () => {
    const file = join(dir, 'd.lock');
    let inside = 0;
    let maxInside = 0;
    let count = 0;
    await Promise.all(
      Array.from({ length: 25 }, () =>
        withLock(file, async () => {
          inside++;
          maxInside = Math.max(maxInside, inside);
          await Bun.sleep(0);
          count++;
          inside--;
        }),
      ),
    );
    expect(count).toBe(25);
    expect(maxInside).toBe(1);
  });

  test('a lock left by a dead process is broken', async () => {
    const file = join(dir, 'e.lock');
    writeFileSync(file, String(DEAD_PID));
    expect(parseHolder(await withLock(file, () => readFileSync(file, 'utf8')))?.pid).toBe(process.pid);
    expect(existsSync(file)).toBe(false);
    expect(existsSync(`${file}.stale.${process.pid}`)).toBe(false);
  });

  test('a lock naming a live pid with another start time (a reused pid) is broken at once', async () => {
    const file = join(dir, 'reused.lock');
    writeFileSync(file, `${other.pid}\n1\n`);
    expect(await withLock(file, () => 'got it', { timeoutMs: 2000 })).toBe('got it');
  });

  test('garbage in a lock file does not block anyone', async () => {
    for (const [name, text] of [['garbage.lock', 'not a pid at all\n'], ['binary.lock', '\u0000\u0001\u00ff'], ['negative.lock', '-4\n']]) {
      const file = join(dir, name!);
      writeFileSync(file, text!);
      expect(await withLock(file, () => 'got it', { timeoutMs: 2000 })).toBe('got it');
      expect(existsSync(file)).toBe(false);
    }
  });

  test('a live holder keeps its lock however old it is: the waiter gives up naming it', async () => {
    const file = join(dir, 'held.lock');
    writeFileSync(file, `${other.pid}\n${processStartTime(other.pid)}\n`);
    age(file, 10 * 60_000);
    await expect(withLock(file, () => 'stolen', { timeoutMs: 300 })).rejects.toThrow(`(held by pid ${other.pid})`);
    expect(parseHolder(readFileSync(file, 'utf8'))?.pid).toBe(other.pid);
  });

  test('a very old lock of an older version (no start time) is broken even if its pid is alive', async () => {
    const file = join(dir, 'f.lock');
    writeFileSync(file, '1');
    age(file, 120_000);
    expect(await withLock(file, () => 'got it')).toBe('got it');
  });

  test('an old empty lock (a writer died before writing its pid) is broken', async () => {
    const file = join(dir, 'g.lock');
    writeFileSync(file, '');
    age(file, 5_000);
    expect(await withLock(file, () => 'got it')).toBe('got it');
  });

  test('a lock in a missing folder is an error naming the file', async () => {
    const file = join(dir, 'missing', 'h.lock');
    await expect(withLock(file, () => 1)).rejects.toThrow(`Cannot create lock file ${file}`);
  });
});

describe('processStartTime', () => {
  test("tells two live processes apart and is stable for one; none for a dead pid", () => {
    const own = processStartTime(process.pid);
    expect(own).toBeTruthy();
    expect(processStartTime(process.pid)).toBe(own!);
    expect(processStartTime(other.pid)).toBeTruthy();
    expect(processStartTime(other.pid)).not.toBe(own!);
    expect(processStartTime(DEAD_PID)).toBeUndefined();
  });
});

describe('temp files of killed writers', () => {
  test('a write clears the temp files of dead writers and old ones, keeps a live writer\'s fresh one', () => {
    const folder = join(dir, 'tmp-sweep');
    mkdirSync(folder);
    const dead = `state.json.crs-${DEAD_PID}-abc123.tmp`;
    const live = `state.json.crs-${other.pid}-def456.tmp`;
    const old = `inbox.crs-${other.pid}-ghi789.tmp`;
    // What older versions left: the same, without the crs- mark.
    const legacy = `sessions.json.${DEAD_PID}.x1y2z3.tmp`;
    const unrelated = 'notes.tmp';
    for (const name of [dead, live, old, legacy, unrelated]) writeFileSync(join(folder, name), 'partial');
    age(join(folder, old), 20 * 60_000);
    writeFileAtomic(join(folder, 'state.json'), '{}\n');
    expect(readdirSync(folder).sort()).toEqual([live, unrelated, 'state.json'].sort());
  });

  test('a temp file is named after the file and its writer, so the sweep finds it', () => {
    const folder = join(dir, 'tmp-name');
    mkdirSync(folder);
    writeFileSync(join(folder, 'x'), '');
    // A writer killed between its temp file and the rename leaves exactly this shape behind.
    const leftover = basename(tempFileOf(join(folder, 'x'))).replace(`-${process.pid}-`, `-${DEAD_PID}-`);
    writeFileSync(join(folder, leftover), 'half');
    expect(sweepTempFiles(folder)).toEqual([leftover]);
  });

  test('files are written owner-only by default', () => {
    const file = join(dir, 'private.json');
    writeFileAtomic(file, '{}');
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });
});
