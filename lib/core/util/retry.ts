export interface RetryDelayOptions {
  /** The wait before the first retry. */
  baseMs: number;
  /** The longest wait. */
  maxMs: number;
}

/** The wait before retry number `attempt` (1 = the first): `baseMs`, doubling, at most `maxMs`; 0 before any. */
export function retryDelay(attempt: number, { baseMs, maxMs }: RetryDelayOptions): number {
  if (attempt < 1) return 0;
  return Math.min(maxMs, baseMs * 2 ** (attempt - 1));
}
