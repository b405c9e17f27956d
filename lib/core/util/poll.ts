import { type Clock, systemClock } from './clock.ts';

export interface PollOptions {
  /** Gives up after this long. */
  timeoutMs: number;
  /** The pause between two checks. */
  intervalMs: number;
  clock?: Clock;
  /** Gives up when it aborts. */
  signal?: AbortSignal;
}

/**
 * Checks `check` (at once, then after every pause) until it holds: true, or false once `timeoutMs`
 * has passed or `signal` aborted. The number of checks is bounded too, so a clock that stands still
 * (a test's) cannot make it wait forever.
 */
export async function pollUntil(check: () => boolean | Promise<boolean>, options: PollOptions): Promise<boolean> {
  const { timeoutMs, intervalMs, clock = systemClock, signal } = options;
  const deadline = clock.now() + timeoutMs;
  for (let pauses = Math.ceil(timeoutMs / Math.max(1, intervalMs)); ; pauses--) {
    if (await check()) return true;
    if (pauses <= 0 || signal?.aborted || clock.now() >= deadline) return false;
    await clock.sleep(intervalMs, signal);
  }
}
