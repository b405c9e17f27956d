/** Exit codes shared by every program: 0 success or clean stop, 1 failure, 2 usage. */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export interface CrsErrorOptions {
  exitCode?: number;
  hint?: string;
  cause?: unknown;
}

/** The one error class domain code throws; a program's wrapper prints `message` and `hint`. */
export class CrsError extends Error {
  readonly exitCode: number;
  readonly hint?: string;

  constructor(message: string, options: CrsErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = 'CrsError';
    this.exitCode = options.exitCode ?? EXIT_FAILURE;
    this.hint = options.hint;
  }
}

/** A usage error (exit 2): the caller passed something malformed. */
export function usageError(message: string, hint?: string): CrsError {
  return new CrsError(message, { exitCode: EXIT_USAGE, hint });
}

/** One line for a user: the message, then the hint if there is one. */
export function formatError(error: unknown): string {
  if (error instanceof CrsError) return error.hint ? `${error.message} ${error.hint}` : error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

/** The code of a Node-style system error (`ENOENT`, `EEXIST`, ...), if it is one. */
export function errnoCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
}
