import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { readOptionalFile } from '../config/config.ts';
import { writeFileAtomic } from './fs-atomic.ts';

/**
 * What keeps a RUNNING session from working, with what the owner must do about it. `list`, `status`,
 * `--json` and the chat status show it in place of UP.
 * - WAITING: a dialog (workspace trust, bypass warning) needs the owner.
 * - DEAF: the session runs but does not take channel messages (channels off, bridge not taking).
 * - LIMITED: a usage limit; `until` when the screen or the API said when it resets.
 * - LOGGED_OUT: Claude Code is not logged in.
 */
export type ConditionState = 'WAITING' | 'DEAF' | 'LIMITED' | 'LOGGED_OUT';

/**
 * Who saw it: the router (a permission request waiting for the owner), the session's Claude Code hooks
 * (a turn that failed: a usage limit, a login), the pane observer (screen text) or the session's bridge
 * (messages not taken).
 */
export type ConditionSource = 'pane' | 'router' | 'hook' | 'bridge';

export interface Condition {
  state: ConditionState;
  /** What was seen, one line ("workspace trust dialog for /home/me/x"). */
  cause: string;
  /** What the owner does about it, one line ("/session send 1 to trust it"). */
  fix: string;
  /** When it was first seen (ms since the epoch). */
  since: number;
  /** Reset time of a usage limit (ms since the epoch), when known. */
  until?: number;
  /** Whether the owner was told in the chat (told once per condition). */
  notified?: boolean;
  /** A usage limit: when the session was told to continue after the reset (it is continued once). */
  continuedAt?: number;
}

const FILES: Record<ConditionSource, string> = { pane: '.condition-pane.json', router: '.condition-router.json', hook: '.condition-hook.json', bridge: '.condition-bridge.json' };

/** One source's condition of a session, or undefined (absent or unreadable). */
export function readCondition(stateDir: string, source: ConditionSource): Condition | undefined {
  try {
    const data = JSON.parse(readOptionalFile(join(stateDir, FILES[source])) ?? 'null');
    if (data && typeof data.state === 'string' && typeof data.cause === 'string') return data as Condition;
  } catch {}
  return undefined;
}

/** Sets (or with `undefined` clears) one source's condition. */
export function writeCondition(stateDir: string, source: ConditionSource, condition: Condition | undefined): void {
  const file = join(stateDir, FILES[source]);
  if (condition) writeFileAtomic(file, `${JSON.stringify(condition)}\n`);
  else rmSync(file, { force: true });
}

/**
 * The condition that counts for a running session: a permission request waiting for the owner first,
 * then the pane's (a dialog blocks everything; a limit there has its reset time), then a failed turn
 * the hooks reported, then the bridge's.
 */
export function currentCondition(stateDir: string): Condition | undefined {
  return readCondition(stateDir, 'router') ?? readCondition(stateDir, 'pane') ?? readCondition(stateDir, 'hook') ?? readCondition(stateDir, 'bridge');
}

/** Clears both sources (a session that stopped or restarted starts with a clean slate). */
export function clearConditions(stateDir: string): void {
  for (const source of Object.keys(FILES) as ConditionSource[]) writeCondition(stateDir, source, undefined);
}

/** Whether two conditions are the same finding (state and cause), whatever their times and flags. */
export function isSameCondition(a: Pick<Condition, 'state' | 'cause'> | undefined, b: Pick<Condition, 'state' | 'cause'> | undefined): boolean {
  return a?.state === b?.state && a?.cause === b?.cause;
}

/** The condition that counts at `now`: a usage limit whose reset time has passed no longer does. */
export function activeCondition(stateDir: string, now: number): Condition | undefined {
  const condition = currentCondition(stateDir);
  // A limit whose reset passed no longer counts, unless its failed turn still waits to be continued.
  if (condition?.state === 'LIMITED' && condition.until !== undefined && condition.until <= now) {
    const failed = readCondition(stateDir, 'hook');
    return failed?.state === 'LIMITED' && failed.continuedAt === undefined ? { ...failed, until: condition.until } : readCondition(stateDir, 'bridge');
  }
  return condition;
}

/**
 * Records a condition unless the same one is already recorded (its `since` and `notified` are kept).
 * Returns what is recorded now.
 */
export function recordCondition(stateDir: string, source: ConditionSource, condition: Omit<Condition, 'notified'>): Condition {
  const previous = readCondition(stateDir, source);
  if (previous && isSameCondition(previous, condition)) return previous;
  writeCondition(stateDir, source, condition);
  return condition;
}

/**
 * Claims the telling of a condition: marks it `notified` and returns true, unless it was told already
 * (or is no longer recorded). Every teller claims first, so the owner hears of a condition once.
 */
export function claimNotice(stateDir: string, source: ConditionSource, condition: Pick<Condition, 'state' | 'cause'>): boolean {
  const recorded = readCondition(stateDir, source);
  if (!recorded || recorded.notified || !isSameCondition(recorded, condition)) return false;
  writeCondition(stateDir, source, { ...recorded, notified: true });
  return true;
}
