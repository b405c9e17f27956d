import { describe, expect, test } from 'bun:test';
import { createConsola } from 'consola';
import type { Clock } from '../../lib/core/util/clock.ts';
import { type Duty, Scheduler } from '../../lib/daemons/scheduler.ts';

function fakeClock(): Clock & { advance(ms: number): void } {
  let now = 1_000_000;
  return { now: () => now, sleep: async () => {}, advance: (ms) => void (now += ms) };
}

function recordingLog(lines: string[]) {
  return createConsola({ level: 4, reporters: [{ log: (e) => lines.push(`${e.type}: ${e.args.join(' ')}`) }] });
}

describe('Scheduler', () => {
  test('runs each duty when its interval has passed, all of them on the first tick', async () => {
    const clock = fakeClock();
    const runs: string[] = [];
    const duty = (name: string, everyMs: number): Duty => ({ name, everyMs: () => everyMs, run: async () => void runs.push(name) });
    const scheduler = new Scheduler([duty('fast', 1000), duty('slow', 60_000)], { clock, log: recordingLog([]) });
    expect(await scheduler.tick()).toEqual(['fast', 'slow']);
    clock.advance(999);
    expect(await scheduler.tick()).toEqual([]);
    clock.advance(1);
    expect(await scheduler.tick()).toEqual(['fast']);
    clock.advance(59_000);
    expect(await scheduler.tick()).toEqual(['fast', 'slow']);
    expect(runs).toEqual(['fast', 'slow', 'fast', 'fast', 'slow']);
  });

  test('a failing duty is logged once per distinct error, retried next time, and its recovery logged', async () => {
    const clock = fakeClock();
    const lines: string[] = [];
    let failing = true;
    const flaky: Duty = { name: 'discover', everyMs: () => 1000, run: async () => { if (failing) throw new Error('Discord is down'); } };
    const other: Duty = { name: 'respawn', everyMs: () => 1000, run: async () => void lines.push('respawned') };
    const scheduler = new Scheduler([flaky, other], { clock, log: recordingLog(lines) });
    for (let i = 0; i < 5; i++) {
      await scheduler.tick();
      clock.advance(1000);
    }
    expect(lines.filter((l) => l.startsWith('error:'))).toEqual(['error: discover failed: Discord is down']);
    expect(lines.filter((l) => l === 'respawned')).toHaveLength(5);
    failing = false;
    await scheduler.tick();
    expect(lines.slice(-2)).toEqual(['info: discover: recovered', 'respawned']);
  });

  test('run() stops when its signal aborts', async () => {
    const controller = new AbortController();
    let ticks = 0;
    const clock: Clock = { now: () => 0, sleep: async () => { if (++ticks === 3) controller.abort(); } };
    await new Scheduler([], { clock, log: recordingLog([]) }).run(controller.signal);
    expect(ticks).toBe(3);
  });
});
