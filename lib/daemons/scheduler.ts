import type { ConsolaInstance } from 'consola';
import type { Clock } from '../core/util/clock.ts';
import { formatError } from '../core/util/errors.ts';

/** How often the loop wakes up to see which duties are due. */
export const TICK_MS = 250;
/** A duty that keeps failing with the same error is logged again after this long. */
const REPEAT_ERROR_LOG_MS = 5 * 60_000;

/** One periodic job of a daemon. `everyMs` is read before each check, so config edits apply. */
export interface Duty {
  name: string;
  everyMs: () => number;
  run: () => Promise<void>;
}

/** Runs duties when due over an injectable clock; a failing duty is logged and retried next time. */
export class Scheduler {
  private readonly lastRun = new Map<string, number>();
  private readonly lastError = new Map<string, { message: string; at: number; count: number }>();

  constructor(
    private readonly duties: Duty[],
    private readonly deps: { clock: Clock; log: ConsolaInstance },
  ) {}

  /** Runs every duty that is due now (all of them on the first tick), one after the other. */
  async tick(): Promise<string[]> {
    const ran: string[] = [];
    for (const duty of this.duties) {
      const now = this.deps.clock.now();
      let every: number;
      try {
        every = duty.everyMs();
      } catch (error) {
        this.report(duty, error, now);
        continue;
      }
      const last = this.lastRun.get(duty.name);
      if (last !== undefined && now - last < every) continue;
      this.lastRun.set(duty.name, now);
      ran.push(duty.name);
      try {
        await duty.run();
        if (this.lastError.delete(duty.name)) this.deps.log.info(`${duty.name}: recovered`);
      } catch (error) {
        this.report(duty, error, this.deps.clock.now());
      }
    }
    return ran;
  }

  /** Ticks until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.tick();
      await this.deps.clock.sleep(TICK_MS, signal);
    }
  }

  private report(duty: Duty, error: unknown, now: number): void {
    const message = formatError(error);
    const previous = this.lastError.get(duty.name);
    if (previous && previous.message === message && now - previous.at < REPEAT_ERROR_LOG_MS) {
      previous.count++;
      return;
    }
    const repeated = previous?.message === message ? ` (failed ${previous.count + 1} times in a row)` : '';
    this.deps.log.error(`${duty.name} failed: ${message}${repeated}`);
    this.lastError.set(duty.name, { message, at: now, count: 1 });
  }
}
