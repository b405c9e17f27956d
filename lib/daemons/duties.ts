import type { ConsolaInstance } from 'consola';
import { createAuthorizer } from '../core/control/authorize.ts';
import { formatBackoff, formatSpawn } from '../core/sessions/format.ts';
import type { DiscordApi } from '../platforms/discord/api.ts';
import { cleanupStale, discoverChannels, discoverThreads, setStatus } from '../platforms/discord/sessions.ts';
import type { SessionManager } from '../core/sessions/manager.ts';
import type { ConditionNotify } from '../platforms/notify.ts';
import { PaneObserver } from './pane-observer.ts';
import type { Duty } from './scheduler.ts';

/** The liveness check runs this often at most: one tmux call, so a dead session is back within about a second. */
export const LIVENESS_CHECK_MS = 500;
/** How often the pane observer looks (one tmux listing; captures only of changed panes). */
export const PANE_CHECK_MS = 1000;
/** Idle sessions are looked for this often (or every cleanup interval when shorter). */
export const SUSPEND_CHECK_MS = 60_000;

export interface DutyDeps {
  manager: SessionManager;
  log: ConsolaInstance;
  now: () => number;
}

/**
 * Passes on each subject's failure once while it repeats (a start refused as root fails again every
 * tick); a different error, or a pass without that subject failing, lets the next one through again.
 */
export function createRepeatFilter(): <T extends { key: string; error: string }>(failures: T[]) => T[] {
  let last = new Map<string, string>();
  return (failures) => {
    const previous = last;
    last = new Map(failures.map((f) => [f.key, f.error]));
    return failures.filter((f) => previous.get(f.key) !== f.error);
  };
}

/** While sessions cannot start, one line says so this often (each failure is logged when it begins). */
export const START_FAILURE_SUMMARY_MS = 10 * 60_000;
/** Sessions named in one such line, before "and N more". */
const SUMMARY_NAMES = 10;

/** `dc-1, dc-2, … and 3 more`. */
function formatNames(names: string[]): string {
  const shown = names.slice(0, SUMMARY_NAMES).join(', ');
  return names.length > SUMMARY_NAMES ? `${shown} and ${names.length - SUMMARY_NAMES} more` : shown;
}

/** Failures grouped by their error, in first-seen order: `[error, tmux names]`. */
function byError(failures: Array<{ tmux: string; error: string }>): Array<[string, string[]]> {
  const groups = new Map<string, string[]>();
  for (const f of failures) groups.set(f.error, [...(groups.get(f.error) ?? []), f.tmux]);
  return [...groups];
}

/**
 * Respawns dead sessions (crash-loop guarded). Runs every half second, or faster if the config says so.
 * A session that cannot start (Claude Code missing, refused as root) is logged when that begins, one
 * line for all that fail alike; then, while any still fail, one summary line every START_FAILURE_SUMMARY_MS.
 */
export function respawnDuty({ manager, log, now }: DutyDeps): Duty {
  const reported = new Set<string>();
  let failing = new Map<string, { tmux: string; error: string }>();
  let summaryAt = 0;
  return {
    name: 'respawn',
    everyMs: () => Math.min(LIVENESS_CHECK_MS, manager.config().watchdogIntervalS * 1000),
    async run() {
      const report = await manager.respawnDead();
      for (const result of report.respawned) for (const line of formatSpawn(result)) log.info(line.replace(/^SPAWNED/, 'RESPAWNED'));
      const fresh = report.failed.filter((f) => failing.get(f.id)?.error !== f.error);
      for (const [error, names] of byError(fresh)) log.error(`respawn ${formatNames(names)} failed: ${error}`);
      if (failing.size === 0 || fresh.length) summaryAt = now() + START_FAILURE_SUMMARY_MS;
      failing = new Map(report.failed.map((f) => [f.id, f]));
      if (failing.size && now() >= summaryAt) {
        const groups = byError([...failing.values()]).map(([error, names]) => `${formatNames(names)}: ${error}`);
        log.error(`${failing.size} session${failing.size === 1 ? '' : 's'} still cannot start: ${groups.join('; ')}`);
        summaryAt = now() + START_FAILURE_SUMMARY_MS;
      }
      // A backoff is logged once, when it starts (the next try time changes only then).
      for (const b of report.backoff) {
        if (!reported.has(`${b.id}:${b.until}`)) log.warn(formatBackoff(b));
        reported.add(`${b.id}:${b.until}`);
      }
    },
  };
}

/**
 * Reads the screens of running sessions: a dialog, a login or usage limit, or channels off become the
 * session's condition (shown by list/status), and the owner is told once through `notify`.
 */
export function paneDuty({ manager, log, now }: DutyDeps, notify: ConditionNotify): Duty {
  const observer = new PaneObserver({ manager, log, now, notify });
  return {
    name: 'pane observer',
    everyMs: () => Math.min(PANE_CHECK_MS, manager.config().watchdogIntervalS * 1000),
    async run() {
      await observer.tick();
    },
  };
}

/**
 * Discovers new channels and threads (only threads an owner created; another's is logged once), then
 * refreshes the status topic when one is configured.
 */
export function discoverDuty({ manager, log, now }: DutyDeps, api: () => DiscordApi): Duty {
  const newFailures = createRepeatFilter();
  const authorize = createAuthorizer(manager, log, { once: true });
  return {
    name: 'discover',
    everyMs: () => manager.config().discoverIntervalS * 1000,
    async run() {
      const deps = { manager, api: api(), authorize };
      const failures: Array<{ key: string; error: string; name: string }> = [];
      for (const report of [await discoverChannels(deps), await discoverThreads(deps)]) {
        for (const line of report.lines) {
          if (line.kind === 'NEW') log.info(`NEW  ${line.name} (${line.id})  ${line.detail ?? ''}`.trimEnd());
          if (line.kind === 'ERROR') failures.push({ key: line.id, error: line.detail ?? '', name: line.name });
        }
      }
      for (const f of newFailures(failures)) log.error(`spawn ${f.name} (${f.key}) failed: ${f.error}`);
      if (manager.config().statusChannelId) await setStatus({ ...deps, now: new Date(now()) });
    },
  };
}

/** Cleans up sessions of deleted/archived channels; a failed check is logged once while it repeats. */
export function cleanupDuty({ manager, log }: DutyDeps, api: () => DiscordApi): Duty {
  const newFailures = createRepeatFilter();
  return {
    name: 'cleanup',
    everyMs: () => manager.config().cleanupIntervalS * 1000,
    async run() {
      const report = await cleanupStale({ manager, api: api() });
      for (const line of report.lines) {
        if (line.kind === 'STALE') log.info(`STALE  ${line.name} (${line.id}): ${line.detail}, session removed`);
      }
      const failures = report.lines.filter((l) => l.kind === 'ERROR').map((l) => ({ key: l.id, error: l.detail ?? '', name: l.name }));
      for (const f of newFailures(failures)) log.error(`stale check of ${f.name} (${f.key}) failed: ${f.error}`);
    },
  };
}

/** Suspends idle sessions, within a minute of their idle timeout (one listing; only idle panes are read). */
export function suspendDuty({ manager, log }: DutyDeps): Duty {
  return {
    name: 'suspend-idle',
    everyMs: () => Math.min(SUSPEND_CHECK_MS, manager.config().cleanupIntervalS * 1000),
    async run() {
      const idle = await manager.suspendIdle();
      for (const id of idle.suspended) log.info(`SUSPENDED  ${manager.tmuxName(id)} (idle)`);
    },
  };
}
