import { afterAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isProcessAlive, withLock } from '../../lib/core/store/lock.ts';
import { waitFor } from '../helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'crs-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

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
  test('holds the lock file with our pid while fn runs, removes it after, returns its value', async () => {
    const file = join(dir, 'a.lock');
    const value = await withLock(file, () => {
      expect(readFileSync(file, 'utf8')).toBe(String(process.pid));
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
    expect(await withLock(file, () => readFileSync(file, 'utf8'))).toBe(String(process.pid));
    expect(existsSync(file)).toBe(false);
    expect(existsSync(`${file}.stale.${process.pid}`)).toBe(false);
  });

  test('a very old lock is broken even if its pid is alive (pid reuse)', async () => {
    const file = join(dir, 'f.lock');
    writeFileSync(file, '1');
    const old = new Date(Date.now() - 120_000);
    utimesSync(file, old, old);
    expect(await withLock(file, () => 'got it')).toBe('got it');
  });

  test('an old empty lock (a writer died before writing its pid) is broken', async () => {
    const file = join(dir, 'g.lock');
    writeFileSync(file, '');
    const old = new Date(Date.now() - 5_000);
    utimesSync(file, old, old);
    expect(await withLock(file, () => 'got it')).toBe('got it');
  });

  test('a lock in a missing folder is an error naming the file', async () => {
    const file = join(dir, 'missing', 'h.lock');
    await expect(withLock(file, () => 1)).rejects.toThrow(`Cannot create lock file ${file}`);
  });
});
