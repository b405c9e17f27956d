import { appendFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { type ConsolaInstance, type LogObject, createConsola } from 'consola/core';

/** A log file is rotated to `<file>.1` past this size, so a daemon left for weeks stays bounded. */
const MAX_LOG_BYTES = 5 * 1024 * 1024;

/**
 * What code that only logs needs: the four levels. A `ConsolaInstance` satisfies it, and so does
 * `createStderrLogger`'s, which the bridge uses: it runs once per session, and creating the Node
 * stream behind `process.stderr` alone costs it ~3 MB.
 */
export interface Logger {
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
  /** Shown only with CRS_DEBUG set. */
  debug(...args: unknown[]): void;
}

export interface LoggerOptions {
  /** Prefix lines with `[HH:MM:SS]` (daemons). */
  timestamps?: boolean;
  /** Also append every line to this file. */
  file?: string;
  write?: (line: string) => void;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** `[HH:MM:SS] error: message`: one plain line per entry, no colours or boxes. */
export function formatLogLine(entry: Pick<LogObject, 'type' | 'args' | 'date'>, timestamps: boolean): string {
  const time = timestamps ? `[${pad(entry.date.getHours())}:${pad(entry.date.getMinutes())}:${pad(entry.date.getSeconds())}] ` : '';
  const level = entry.type === 'error' || entry.type === 'fatal' ? 'error: ' : entry.type === 'warn' ? 'warning: ' : '';
  const text = entry.args.map((a) => (a instanceof Error ? (a.stack ?? a.message) : typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
  return `${time}${level}${text}`;
}

/**
 * A logger without consola: `[HH:MM:SS] warning: text` lines (as `createLogger` writes them) on stderr,
 * debug lines only with CRS_DEBUG.
 */
export function createStderrLogger(options: Omit<LoggerOptions, 'file'> & { debug?: boolean } = {}): Logger {
  const write = options.write ?? writeStderr;
  const debug = options.debug ?? Boolean(process.env.CRS_DEBUG);
  const timestamps = Boolean(options.timestamps);
  const at = (type: string) => (...args: unknown[]) => write(formatLogLine({ type: type as LogObject['type'], args, date: new Date() }, timestamps));
  return { info: at('info'), warn: at('warn'), error: at('error'), debug: debug ? at('debug') : () => {} };
}

/** A synchronous write to fd 2 (process.stderr is a Node stream that costs ~3 MB to create); never throws. */
function writeStderr(line: string): void {
  try {
    writeSync(2, `${line}\n`);
  } catch {
    // A full or closed stderr must not take the process down.
  }
}

function appendRotating(file: string, line: string): void {
  try {
    if ((statSync(file, { throwIfNoEntry: false })?.size ?? 0) > MAX_LOG_BYTES) renameSync(file, `${file}.1`);
    appendFileSync(file, `${line}\n`);
  } catch {
    // Logging must never take a daemon down.
  }
}

/** The logger of every program: messages to stderr (data goes to stdout elsewhere). */
export function createLogger(options: LoggerOptions = {}): ConsolaInstance {
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  // consola/core without the fancy reporters: a full `consola` import costs ~45 ms at every start.
  return createConsola({
    level: process.env.CRS_DEBUG ? 4 : 3,
    reporters: [
      {
        log(entry) {
          const line = formatLogLine(entry, Boolean(options.timestamps));
          write(line);
          if (options.file) appendRotating(options.file, formatLogLine(entry, true));
        },
      },
    ],
  });
}
