import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readOptionalFile } from '../config/config.ts';
import { LOGGED_OUT_FIX, limitReset } from '../host/pane.ts';
import { writeCondition } from './condition.ts';
import { writeFileAtomic } from './fs-atomic.ts';

const TURN_FILE = '.turn.json';

/** What a session's Claude Code is doing, from its hooks: working on a turn, idle, or its last turn failed. */
export interface TurnState {
  state: 'busy' | 'idle' | 'failed';
  /** Since when (ms since the epoch). */
  since: number;
  /** Why the last turn failed (StopFailure's `error`: rate_limit, authentication_failed, …). */
  error?: string;
}

/** The hook events that tell a session's turns (`UserPromptSubmit`, `Stop`, `StopFailure`). */
export interface TurnHookInput {
  hook_event_name?: string;
  error?: string;
  last_assistant_message?: string;
}

/**
 * A running turn changes its pane at least every second (Claude Code's spinner counts the seconds, also
 * while a tool runs); a turn marked busy whose pane has been still this long ended without its Stop hook
 * (an interrupt) or hangs. A question waiting for the owner is a condition (WAITING), not a running turn.
 */
export const TURN_QUIET_MS = 10_000;

/** Whether a session's turn is under way: busy by its hooks, and its pane (last change `activityMs`) not still for long. */
export function turnRunning(turn: TurnState | undefined, activityMs: number, now: number): boolean {
  return turn?.state === 'busy' && now - Math.max(turn.since, activityMs) < TURN_QUIET_MS;
}

export function readTurn(stateDir: string): TurnState | undefined {
  try {
    const data = JSON.parse(readOptionalFile(join(stateDir, TURN_FILE)) ?? 'null') as TurnState | null;
    return data && (data.state === 'busy' || data.state === 'idle' || data.state === 'failed') && typeof data.since === 'number' ? data : undefined;
  } catch {
    return undefined;
  }
}

/** Fixes for a turn that failed, by StopFailure's error. */
const FAILURES: Record<string, { state: 'LIMITED' | 'LOGGED_OUT'; fix: string }> = {
  rate_limit: { state: 'LIMITED', fix: 'nothing: messages wait, and the session continues by itself after the reset' },
  billing_error: { state: 'LIMITED', fix: 'check the account’s billing or credits; messages wait' },
  authentication_failed: { state: 'LOGGED_OUT', fix: LOGGED_OUT_FIX },
};

/**
 * Records what a turn hook says: a turn started or ended (its failure, if any, is over), or it failed —
 * a usage limit becomes LIMITED and a failed login LOGGED_OUT (condition source `hook`), other
 * failures only the turn state. Returns the new turn state.
 */
export function recordTurnHook(stateDir: string, input: TurnHookInput, now: number): TurnState | undefined {
  // A session removed (or never ours) while its Claude Code still ran: nothing to record.
  if (!existsSync(stateDir)) return undefined;
  let turn: TurnState;
  switch (input.hook_event_name) {
    case 'UserPromptSubmit':
      turn = { state: 'busy', since: now };
      writeCondition(stateDir, 'hook', undefined);
      break;
    case 'Stop':
      turn = { state: 'idle', since: now };
      writeCondition(stateDir, 'hook', undefined);
      break;
    case 'StopFailure': {
      const error = (input.error ?? 'unknown').slice(0, 60);
      turn = { state: 'failed', since: now, error };
      const failure = FAILURES[error];
      if (failure) {
        const said = (input.last_assistant_message ?? '').replace(/\s+/g, ' ').trim().slice(0, 200);
        // A subscription's limit names its reset (`… · resets 9:50am (UTC)`); the router finds it on the screen otherwise.
        const until = failure.state === 'LIMITED' ? limitReset(said, now) : undefined;
        writeCondition(stateDir, 'hook', { state: failure.state, cause: said || `Claude Code's turn failed (${error})`, fix: failure.fix, since: now, ...(until ? { until } : {}) });
      }
      break;
    }
    default:
      return undefined;
  }
  writeFileAtomic(join(stateDir, TURN_FILE), `${JSON.stringify(turn)}\n`);
  return turn;
}

/** A session that (re)starts has no turn yet. */
export function clearTurn(stateDir: string): void {
  rmSync(join(stateDir, TURN_FILE), { force: true });
}
