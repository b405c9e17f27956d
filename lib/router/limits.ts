import type { Logger } from '../core/util/log.ts';
import { type Condition, readCondition, writeCondition } from '../core/store/condition.ts';
import { classifyPane, submitLine } from '../core/host/pane.ts';
import type { SessionManager } from '../core/sessions/manager.ts';
import type { TmuxSessionInfo } from '../core/host/tmux.ts';
import type { Clock } from '../core/util/clock.ts';
import { formatError } from '../core/util/errors.ts';

/** With no reset time on the screen (an API-key account), a limited session is tried again after this. */
export const LIMIT_RETRY_MS = 5 * 60_000;
/**
 * A session continues this long after its limit's reset time: the screen gives the time to the minute
 * (`resets 2:07pm`), so the real reset may be up to a minute later.
 */
export const CONTINUE_AFTER_RESET_MS = 60_000;
/** Sessions that hit a limit within this of the first are told about in one message. */
const ANNOUNCE_GATHER_MS = 10_000;
/** How long a told reset time is remembered: a session paused until the same time later is not told again. */
const ANNOUNCED_KEPT_MS = 6 * 60 * 60_000;
/** What a session whose turn a usage limit stopped is told at the reset (our words, typed at its prompt). */
export const CONTINUE_TEXT = 'The usage limit has reset. Please continue where you stopped.';

export interface LimitKeeperOptions {
  manager: SessionManager;
  log: Logger;
  clock: Clock;
  /** One message to the owner about the whole fleet (a DM, the status channel, the owner's private chat). */
  notifyOwners(text: string): Promise<void>;
  /** A session was continued: its queued messages may go. */
  onContinued(session: string): void;
  /** Test seam: the wait after a reset before continuing. */
  continueAfterResetMs?: number;
}

/**
 * Usage limits for all sessions at once. A session whose turn a limit stopped (its StopFailure hook
 * recorded LIMITED) keeps its messages queued; the owner gets ONE message for every session paused until
 * the same reset; at the reset each such session is told to continue, once, and its messages go.
 */
export class LimitKeeper {
  /** Sessions seen limited but not told about yet, gathered for one message. */
  private gathering: { since: number; sessions: Array<{ id: string; name: string; until: number }> } | undefined;
  /** Reset times the owner was told of (the limit is the account's: a later session until the same time adds nothing). */
  private readonly announced = new Set<number>();

  constructor(private readonly options: LimitKeeperOptions) {}

  /** Whether a session's messages wait: its turn failed on a limit and it was not continued yet. */
  holds(session: string): boolean {
    const failed = readCondition(this.options.manager.stateDir(session), 'hook');
    return failed?.state === 'LIMITED' && failed.continuedAt === undefined;
  }

  /** One pass over the running sessions (the router's sweep): reset times, the owner's message, continuations. */
  async check(registry: Record<string, { name: string; tmux: string }>, live: Map<string, TmuxSessionInfo>): Promise<void> {
    const { manager, clock, log } = this.options;
    const now = clock.now();
    for (const [id, entry] of Object.entries(registry)) {
      const info = live.get(entry.tmux);
      if (!info || info.dead) continue;
      const dir = manager.stateDir(id);
      let failed = readCondition(dir, 'hook');
      if (failed?.state !== 'LIMITED' || failed.continuedAt !== undefined) continue;
      try {
        if (failed.until === undefined) failed = await this.findReset(id, entry.tmux, failed, now);
        if (!failed.notified) this.gather(id, entry.name, failed.until!, now);
        if (now >= failed.until! + (this.options.continueAfterResetMs ?? CONTINUE_AFTER_RESET_MS)) await this.continueSession(id, entry.tmux, failed);
      } catch (error) {
        log.warn(`usage limit of ${entry.tmux}: ${formatError(error)}`);
      }
    }
    await this.announce(now);
  }

  /** The reset time as the screen shows it (`resets 2:00pm (UTC)`), else a retry a few minutes on. */
  private async findReset(id: string, tmuxName: string, failed: Condition, now: number): Promise<Condition> {
    const { manager } = this.options;
    const screen = await manager.deps.tmux.capturePane(tmuxName).catch(() => '');
    const fromScreen = classifyPane(screen, { platform: manager.platform.key, now }).condition;
    const onPane = readCondition(manager.stateDir(id), 'pane');
    const until = (fromScreen?.state === 'LIMITED' ? fromScreen.until : undefined) ?? (onPane?.state === 'LIMITED' ? onPane.until : undefined) ?? failed.since + LIMIT_RETRY_MS;
    const updated = { ...failed, until };
    writeCondition(manager.stateDir(id), 'hook', updated);
    return updated;
  }

  private gather(id: string, name: string, until: number, now: number): void {
    if (this.announced.has(until)) {
      markTold(this.options.manager.stateDir(id));
      this.options.log.warn(`LIMITED  ${name} until ${new Date(until).toISOString()} (the owner was told of this reset)`);
      return;
    }
    this.gathering ??= { since: now, sessions: [] };
    if (!this.gathering.sessions.some((s) => s.id === id)) this.gathering.sessions.push({ id, name, until });
  }

  /** One message for the sessions gathered, once they stopped coming in; each is marked told. */
  private async announce(now: number): Promise<void> {
    const batch = this.gathering;
    if (!batch || now - batch.since < ANNOUNCE_GATHER_MS) return;
    this.gathering = undefined;
    const { manager, log } = this.options;
    const until = Math.max(...batch.sessions.map((s) => s.until));
    const names = batch.sessions.map((s) => s.name).sort();
    const count = names.length === 1 ? '1 session' : `${names.length} sessions`;
    const text = `⏳ ${count} paused by a usage limit until ${formatClock(until)} UTC (${names.join(', ')}). ${names.length === 1 ? 'It continues' : 'They continue'} by ${names.length === 1 ? 'itself' : 'themselves'} then; messages sent meanwhile wait.`;
    for (const session of batch.sessions) {
      markTold(manager.stateDir(session.id));
      this.announced.add(session.until);
    }
    for (const told of this.announced) if (told < now - ANNOUNCED_KEPT_MS) this.announced.delete(told);
    log.warn(`LIMITED  ${names.length} session(s) until ${new Date(until).toISOString()}: ${names.join(', ')}`);
    await this.options.notifyOwners(text).catch((error) => log.warn(`telling the owner about the usage limit failed: ${formatError(error)}`));
  }

  /**
   * Tells a session whose turn the limit stopped to continue, once: closes the limit-options dialog
   * ("Stop and wait for limit to reset"), then types our line at its prompt. Its turn hook clears the
   * limit when the turn starts; a new limit is a new failure, continued after its own reset.
   */
  private async continueSession(id: string, tmuxName: string, failed: Condition): Promise<void> {
    const { manager, log, clock } = this.options;
    const tmux = manager.deps.tmux;
    let reading = classifyPane(await tmux.capturePane(tmuxName).catch(() => ''), { platform: manager.platform.key });
    if (reading.kind === 'limit-dialog') {
      await tmux.sendKeys(tmuxName, ['1']);
      await Bun.sleep(300);
      reading = classifyPane(await tmux.capturePane(tmuxName).catch(() => ''), { platform: manager.platform.key });
    }
    // Another dialog has the keyboard: it is the owner's to answer; the session continues afterwards.
    if (reading.dialog) return;
    writeCondition(manager.stateDir(id), 'hook', { ...failed, continuedAt: clock.now() });
    await submitLine(tmux, tmuxName, CONTINUE_TEXT);
    log.info(`CONTINUED  ${tmuxName} after the usage limit reset`);
    this.options.onContinued(id);
  }
}

function formatClock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 16);
}

/** The owner knows of this session's limit. */
function markTold(dir: string): void {
  const failed = readCondition(dir, 'hook');
  if (failed?.state === 'LIMITED') writeCondition(dir, 'hook', { ...failed, notified: true });
}
