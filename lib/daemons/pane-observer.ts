import { join } from 'node:path';
import type { ConsolaInstance } from 'consola';
import { type Condition, claimNotice, isSameCondition, readCondition, writeCondition } from '../core/store/condition.ts';
import { expandHome, loadProfiles, resolveProfile } from '../core/config/config.ts';
import { formatError } from '../core/util/errors.ts';
import type { SessionManager } from '../core/sessions/manager.ts';
import type { ConditionNotify } from '../platforms/notify.ts';
import { CHAT_COMMANDS, type PaneReading, classifyPane } from '../core/host/pane.ts';
import { findChannelOffKeys, findSessionChannelOffKeys, formatChannelOffKeys, loadSettingsEnv } from '../core/host/preflight.ts';
import { sortedEntries } from '../core/store/registry.ts';
import { readState } from '../core/store/state.ts';

/** A pane is captured at most this often, however busy it is. */
export const MIN_CAPTURE_MS = 2000;
/** The manager answers the development-channel dialog itself; only one that stays longer is a condition. */
export const DEV_DIALOG_GRACE_MS = 15_000;
/** A limit on the screen waits this long for the session's StopFailure hook (then the router tells it). */
const LIMIT_HOOK_WAIT_MS = 15_000;


export interface PaneObserverDeps {
  manager: SessionManager;
  log: ConsolaInstance;
  now: () => number;
  notify: ConditionNotify;
  minCaptureMs?: number;
  devDialogGraceMs?: number;
}

/** What the observer remembers of one running pane. */
interface PaneMemo {
  panePid: number;
  created: number;
  /** tmux activity (seconds) when it was last captured. */
  activity: number;
  capturedAt: number;
  reading: PaneReading;
  /** Since when the current kind of screen shows. */
  kindSince: number;
  /** Channels-off seen on this pane: the notice scrolls away, the deafness stays until a restart. */
  deaf?: Omit<Condition, 'since'>;
  /** The owner was told of that deafness (a dialog in between does not make it news again). */
  deafTold?: boolean;
  /** The development-channel confirmation was answered by the observer (once per pane). */
  devAnswered?: boolean;
  /** The usage-limit line first seen and its reset: a date-less reset time read again later would move a day on. */
  limit?: { cause: string; until?: number };
  /** The condition last made to agree with the file (and told), as `state\ncause`; undefined = check the file. */
  synced?: string | null;
  /** The last failure to record, logged once. */
  error?: string;
}

const CLEAR: PaneReading = { kind: 'clear', dialog: false };

/**
 * Reads the screens of running sessions and keeps their 'pane' condition (lib/condition.ts) in step:
 * one tmux listing per pass, a capture only of panes that are new or changed since they were last
 * read (at most one per `MIN_CAPTURE_MS` each), and the owner told once of each new condition.
 */
export class PaneObserver {
  private readonly memos = new Map<string, PaneMemo>();

  constructor(private readonly deps: PaneObserverDeps) {}

  /** One pass over every registered session; returns the ids whose pane was captured. */
  async tick(): Promise<string[]> {
    const { manager } = this.deps;
    const live = await manager.liveSessions();
    const captured: string[] = [];
    const seen = new Set<string>();
    for (const [id, entry] of sortedEntries(manager.registry())) {
      const info = live.get(entry.tmux);
      if (!info || info.dead) continue;
      seen.add(id);
      let memo = this.memos.get(id);
      if (!memo || memo.panePid !== info.panePid || memo.created !== info.created) {
        const restarted = memo !== undefined;
        memo = { panePid: info.panePid, created: info.created, activity: -1, capturedAt: Number.NEGATIVE_INFINITY, reading: CLEAR, kindSince: this.deps.now() };
        // A pane first seen (the watchdog restarted) keeps what was recorded of it; a restarted one starts clean.
        const recorded = restarted ? undefined : readCondition(manager.stateDir(id), 'pane');
        if (recorded?.state === 'DEAF') Object.assign(memo, { deaf: recorded, deafTold: recorded.notified === true });
        if (recorded?.state === 'LIMITED') memo.limit = { cause: recorded.cause, until: recorded.until };
        this.memos.set(id, memo);
      }
      const now = this.deps.now();
      // Activity has a resolution of one second: a capture within that second may have missed a change.
      const unseen = info.activity !== memo.activity || memo.capturedAt < (info.activity + 1) * 1000;
      if (unseen && now - memo.capturedAt >= (this.deps.minCaptureMs ?? MIN_CAPTURE_MS)) {
        const screen = await manager.deps.tmux.capturePane(entry.tmux).catch(() => null);
        if (screen !== null) {
          this.read(id, memo, screen, now);
          memo.activity = info.activity;
          memo.capturedAt = now;
          memo.synced = undefined;
          captured.push(id);
        }
      }
      // The development-channel confirmation is ours to answer; the start answers it, and if that start
      // could not wait for it (or missed it), the observer does once it has stayed for the grace.
      if (memo.reading.kind === 'dev-channels-dialog' && !memo.devAnswered && now - memo.kindSince >= (this.deps.devDialogGraceMs ?? DEV_DIALOG_GRACE_MS)) {
        memo.devAnswered = true;
        await manager.deps.tmux.sendKeys(entry.tmux, ['Enter']).catch(() => {});
        this.deps.log.info(`answered the development-channel confirmation of ${entry.tmux}`);
        continue;
      }
      try {
        await this.sync({ id, name: entry.name, tmux: entry.tmux }, memo, now);
      } catch (error) {
        // One session's state dir must not stop the others; the next pass tries again.
        memo.synced = undefined;
        if (memo.error !== formatError(error)) this.deps.log.warn(`condition of ${entry.tmux} not recorded: ${formatError(error)}`);
        memo.error = formatError(error);
      }
    }
    for (const id of this.memos.keys()) if (!seen.has(id)) this.memos.delete(id);
    return captured;
  }

  private read(id: string, memo: PaneMemo, screen: string, now: number): void {
    let reading = classifyPane(screen, { platform: this.deps.manager.platform.key, now });
    const limit = reading.condition?.state === 'LIMITED' ? reading.condition : undefined;
    if (limit && memo.limit?.cause === limit.cause) {
      const { until, ...rest } = limit;
      reading = { ...reading, condition: { ...rest, ...(memo.limit.until !== undefined ? { until: memo.limit.until } : {}) } };
    } else if (limit) memo.limit = { cause: limit.cause, until: limit.until };
    if (reading.kind !== memo.reading.kind) memo.kindSince = now;
    memo.reading = reading;
    if (reading.condition?.state === 'DEAF' && !memo.deaf) {
      memo.deaf = reading.kind === 'channels-off' ? { ...reading.condition, fix: this.channelsOffFix(id) ?? reading.condition.fix } : reading.condition;
    }
  }

  /** What the pane's condition is now: a dialog, login or limit first, else a deafness seen since the start. */
  private desired(memo: PaneMemo, now: number): Omit<Condition, 'since'> | undefined {
    const condition = memo.reading.condition;
    const graceOver = now - memo.kindSince >= (this.deps.devDialogGraceMs ?? DEV_DIALOG_GRACE_MS);
    // A limit that has reset is over, unless its options dialog still has the keyboard.
    const expired = condition?.until !== undefined && condition.until <= now && !memo.reading.dialog;
    if (condition && condition.state !== 'DEAF' && !expired && (memo.reading.kind !== 'dev-channels-dialog' || graceOver)) return condition;
    return memo.deaf;
  }

  /** Makes the condition file say what the pane shows, and tells the owner of a new condition once. */
  private async sync(session: { id: string; name: string; tmux: string }, memo: PaneMemo, now: number): Promise<void> {
    const { manager, log } = this.deps;
    const want = this.desired(memo, now);
    const key = want ? `${want.state}\n${want.cause}` : null;
    if (memo.synced === key) return;
    const dir = manager.stateDir(session.id);
    const recorded = readCondition(dir, 'pane');
    if (!want) {
      if (recorded) {
        writeCondition(dir, 'pane', undefined);
        log.info(`CLEARED  ${session.tmux}: no longer ${recorded.state}`);
      }
      memo.synced = null;
      return;
    }
    if (!isSameCondition(recorded, want)) {
      const told = want === memo.deaf && memo.deafTold ? { notified: true } : {};
      writeCondition(dir, 'pane', { state: want.state, cause: want.cause, fix: want.fix, since: now, ...(want.until ? { until: want.until } : {}), ...told });
      log.warn(`${want.state}  ${session.tmux}: ${want.cause}`);
    }
    memo.synced = key;
    // A permission request waiting in the chat already asks the owner (with its buttons): the terminal's
    // prompt for it is not told a second time.
    if (want.state === 'WAITING' && readCondition(dir, 'router')?.state === 'WAITING') return void claimNotice(dir, 'pane', want);
    // A usage limit whose failed turn the hooks reported is told by the router, in one message for all
    // sessions. The hook may come a moment after the screen: a limit is told here only when none came.
    if (want.state === 'LIMITED') {
      if (readCondition(dir, 'hook')?.state === 'LIMITED') return void claimNotice(dir, 'pane', want);
      const since = readCondition(dir, 'pane')?.since ?? now;
      if (now - since < LIMIT_HOOK_WAIT_MS) return void (memo.synced = undefined);
    }
    if (!claimNotice(dir, 'pane', want)) return;
    if (want === memo.deaf) memo.deafTold = true;
    try {
      await this.deps.notify(session, readCondition(dir, 'pane') ?? { ...want, since: now });
    } catch (error) {
      log.warn(`could not tell the owner of ${session.tmux} that it is ${want.state}: ${formatError(error)}`);
    }
  }

  /** The fix for channels off, naming the keys this session is given and where they are set. */
  private channelsOffFix(id: string): string | undefined {
    const { manager } = this.deps;
    try {
      const profileName = readState(manager.stateDir(id), 'profile') || 'default';
      const profiles = loadProfiles(manager.paths, manager.deps.env);
      const found = findSessionChannelOffKeys(manager.config(), profiles, profileName, manager.paths.profilesFile);
      const profile = resolveProfile(profiles, profileName, manager.paths.profilesFile);
      const configDir = profile.CLAUDE_CONFIG_DIR ? expandHome(profile.CLAUDE_CONFIG_DIR, manager.paths.home) : manager.paths.root;
      const settings = join(configDir, 'settings.json');
      found.push(...findChannelOffKeys(loadSettingsEnv(settings), `the env of ${settings}`));
      if (!found.length) return undefined;
      return `remove ${formatChannelOffKeys(found)}, then ${CHAT_COMMANDS[manager.platform.key].restart}`;
    } catch {
      return undefined;
    }
  }
}
