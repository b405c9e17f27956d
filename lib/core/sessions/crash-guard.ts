import { join } from 'node:path';
import { readOptionalFile } from '../config/config.ts';
import { writeFileAtomic } from '../store/fs-atomic.ts';
import { retryDelay } from '../util/retry.ts';

/** A session that dies sooner than this after its start counts as a quick death. */
export const QUICK_DEATH_MS = 10_000;
/** Quick deaths in a row after which respawns back off and the session shows CRASHLOOP. */
export const CRASH_LOOP_DEATHS = 3;
export const BACKOFF_BASE_MS = 30_000;
export const BACKOFF_MAX_MS = 15 * 60_000;

/** Per-session start/death bookkeeping, kept in `<state dir>/.crash.json`. */
export interface CrashState {
  /** When the running (or last) process was started; null once its death is recorded. */
  startedAt: number | null;
  quickDeaths: number;
  /** No respawn before this time (ms since the epoch); 0 = none. */
  backoffUntil: number;
}

export const NO_CRASHES: CrashState = { startedAt: null, quickDeaths: 0, backoffUntil: 0 };

/** The wait after the n-th quick death in a row: 30 s, 1 min, 2 min, … capped at 15 min. */
export function backoffDelay(quickDeaths: number): number {
  return retryDelay(quickDeaths - CRASH_LOOP_DEATHS + 1, { baseMs: BACKOFF_BASE_MS, maxMs: BACKOFF_MAX_MS });
}

export function recordStart(state: CrashState, now: number): CrashState {
  return { ...state, startedAt: now };
}

/** Records one death; a long run before it clears the streak. Recording the same death twice is a no-op. */
export function recordDeath(state: CrashState, diedAt: number): CrashState {
  if (state.startedAt === null) return state;
  const quick = diedAt - state.startedAt < QUICK_DEATH_MS;
  const quickDeaths = quick ? state.quickDeaths + 1 : 0;
  const delay = backoffDelay(quickDeaths);
  return { startedAt: null, quickDeaths, backoffUntil: delay ? diedAt + delay : 0 };
}

export function isCrashLooping(state: CrashState): boolean {
  return state.quickDeaths >= CRASH_LOOP_DEATHS;
}

export function loadCrashState(stateDir: string): CrashState {
  try {
    const data = JSON.parse(readOptionalFile(join(stateDir, '.crash.json')) ?? 'null');
    if (data && typeof data.quickDeaths === 'number') {
      return { startedAt: typeof data.startedAt === 'number' ? data.startedAt : null, quickDeaths: data.quickDeaths, backoffUntil: Number(data.backoffUntil) || 0 };
    }
  } catch {}
  return NO_CRASHES;
}

export function saveCrashState(stateDir: string, state: CrashState): void {
  writeFileAtomic(join(stateDir, '.crash.json'), `${JSON.stringify(state)}\n`);
}
