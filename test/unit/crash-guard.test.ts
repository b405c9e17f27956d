import { describe, expect, test } from 'bun:test';
import { BACKOFF_MAX_MS, NO_CRASHES, backoffDelay, isCrashLooping, recordDeath, recordStart } from '../../lib/core/sessions/crash-guard.ts';

describe('crash guard', () => {
  test.each([
    [1, 0],
    [2, 0],
    [3, 30_000],
    [4, 60_000],
    [5, 120_000],
    [7, 480_000],
    [8, BACKOFF_MAX_MS],
    [20, BACKOFF_MAX_MS],
  ])('after %i quick deaths in a row the next start waits %i ms', (deaths, delay) => {
    expect(backoffDelay(deaths)).toBe(delay);
  });

  test('three deaths within 10 s of their start make a crash loop; a long run clears it', () => {
    let state = NO_CRASHES;
    let now = 1_000_000;
    for (let i = 0; i < 3; i++) {
      state = recordStart(state, now);
      now += 2_000;
      state = recordDeath(state, now);
    }
    expect(isCrashLooping(state)).toBe(true);
    expect(state.backoffUntil).toBe(now + 30_000);
    state = recordStart(state, state.backoffUntil);
    state = recordDeath(state, state.backoffUntil + 3_600_000);
    expect(state).toEqual({ startedAt: null, quickDeaths: 0, backoffUntil: 0 });
  });

  test('a death is counted once, even when seen by several passes', () => {
    const started = recordStart(NO_CRASHES, 0);
    const once = recordDeath(started, 1000);
    expect(recordDeath(once, 2000)).toEqual(once);
    expect(once.quickDeaths).toBe(1);
  });
});
