import { describe, expect, test } from 'bun:test';
import type { Clock } from '../../lib/core/util/clock.ts';
import { createKeyedSerial } from '../../lib/core/util/keyed-serial.ts';
import { pollUntil } from '../../lib/core/util/poll.ts';
import { retryDelay } from '../../lib/core/util/retry.ts';

/** A clock whose sleep moves its time on at once (`step`: how much of each sleep it counts). */
function steppingClock(step = 1): Clock & { sleeps: number[] } {
  let now = 1_000_000;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: async (ms) => {
      // A poll that never ends would spin here without yielding to the test's timeout.
      if (sleeps.length > 10_000) throw new Error('the poll does not end');
      sleeps.push(ms);
      now += ms * step;
    },
  };
}

describe('retryDelay', () => {
  test.each([
    [0, 0],
    [1, 1000],
    [2, 2000],
    [3, 4000],
    [6, 32_000],
    [7, 60_000],
    [50, 60_000],
  ])('retry %i waits %i ms (1 s doubling, at most 60 s)', (attempt, ms) => {
    expect(retryDelay(attempt, { baseMs: 1000, maxMs: 60_000 })).toBe(ms);
  });
});

describe('pollUntil', () => {
  test('checks at once, then after each pause, until the check holds', async () => {
    const clock = steppingClock();
    let checks = 0;
    expect(await pollUntil(() => ++checks === 4, { timeoutMs: 1000, intervalMs: 50, clock })).toBe(true);
    expect(checks).toBe(4);
    expect(clock.sleeps).toEqual([50, 50, 50]);
  });

  test('takes an async check', async () => {
    let checks = 0;
    expect(await pollUntil(async () => ++checks > 1, { timeoutMs: 1000, intervalMs: 10, clock: steppingClock() })).toBe(true);
  });

  test('gives up (false) once the time is over', async () => {
    const clock = steppingClock();
    let checks = 0;
    expect(await pollUntil(() => (checks++, false), { timeoutMs: 200, intervalMs: 50, clock })).toBe(false);
    expect(checks).toBe(5);
  });

  test('ends under a clock that stands still: the number of checks is bounded too', async () => {
    const clock = steppingClock(0);
    let checks = 0;
    expect(await pollUntil(() => (checks++, false), { timeoutMs: 1000, intervalMs: 100, clock })).toBe(false);
    expect(checks).toBe(11);
  });

  test('gives up when the signal aborts', async () => {
    const controller = new AbortController();
    let checks = 0;
    const check = () => {
      if (++checks === 2) controller.abort();
      return false;
    };
    expect(await pollUntil(check, { timeoutMs: 60_000, intervalMs: 10, clock: steppingClock(), signal: controller.signal })).toBe(false);
    expect(checks).toBe(2);
  });

  test('a real wait: resolves once a timer makes the check hold', async () => {
    let done = false;
    setTimeout(() => (done = true), 30);
    expect(await pollUntil(() => done, { timeoutMs: 5000, intervalMs: 5 })).toBe(true);
  });
});

describe('createKeyedSerial', () => {
  /** Work that records its start and end, and ends when `release` is called. */
  function gate(log: string[], name: string) {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const work = async () => {
      log.push(`start ${name}`);
      await released;
      log.push(`end ${name}`);
      return name;
    };
    return { work, release };
  }

  test('work for one key runs in the order queued, one at a time', async () => {
    const serial = createKeyedSerial();
    const log: string[] = [];
    const a = gate(log, 'a');
    const b = gate(log, 'b');
    const first = serial('chan', a.work);
    const second = serial('chan', b.work);
    await Bun.sleep(0);
    expect(log).toEqual(['start a']);
    b.release();
    await Bun.sleep(0);
    expect(log).toEqual(['start a']);
    a.release();
    expect(await first).toBe('a');
    expect(await second).toBe('b');
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b']);
  });

  test('work for different keys runs side by side', async () => {
    const serial = createKeyedSerial();
    const log: string[] = [];
    const a = gate(log, 'a');
    const b = gate(log, 'b');
    const first = serial('one', a.work);
    const second = serial('two', b.work);
    await Bun.sleep(0);
    expect(log).toEqual(['start a', 'start b']);
    b.release();
    expect(await second).toBe('b');
    a.release();
    expect(await first).toBe('a');
  });

  test('a failure rejects its own promise only; the next work for the key still runs', async () => {
    const serial = createKeyedSerial();
    const failed = serial('chan', async () => {
      throw new Error('boom');
    });
    const next = serial('chan', async () => 'next');
    await expect(failed).rejects.toThrow('boom');
    expect(await next).toBe('next');
  });
});
