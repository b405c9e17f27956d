import { appendFileSync, chmodSync, closeSync, copyFileSync, fstatSync, ftruncateSync, openSync, readFileSync, readSync, readlinkSync, renameSync, statSync, writeSync } from 'node:fs';
import { type ConsolaInstance, type LogObject, createConsola } from 'consola/core';
import type { Clock } from './clock.ts';
import { cleanLines } from './text.ts';

/** A log file is rotated past this size (to `<file>.1`, `.1` to `.2`, …), so a daemon left for weeks stays bounded. */
export const MAX_LOG_BYTES = 5 * 1024 * 1024;
/** Rotated generations kept beside the log: `<file>.1` … `<file>.3`. */
export const LOG_GENERATIONS = 3;

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

/** How a line is stamped: not at all, `[HH:MM:SS]` (a terminal), or the full local date and time (a file). */
export type LogStamp = false | 'time' | 'date';

export interface LoggerOptions {
  /** Prefix lines with `[HH:MM:SS]` (daemons), or with the full date when stderr is a file. */
  timestamps?: boolean;
  /** Also append every line to this file, stamped with the date, rotated past MAX_LOG_BYTES. */
  file?: string;
  write?: (line: string) => void;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** `2026-03-20T14:05:33+01:00`: local time with its offset (ISO 8601), so a line is placed whenever it is read. */
export function formatLogDate(date: Date): string {
  const offset = -date.getTimezoneOffset();
  const zone = `${offset < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
  const day = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
  return `${day}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}${zone}`;
}

/** `[HH:MM:SS] error: message`: one plain line per entry, no colours, boxes or hidden characters. */
export function formatLogLine(entry: Pick<LogObject, 'type' | 'args' | 'date'>, stamp: LogStamp | boolean): string {
  const time =
    stamp === 'date'
      ? `[${formatLogDate(entry.date)}] `
      : stamp
        ? `[${pad(entry.date.getHours())}:${pad(entry.date.getMinutes())}:${pad(entry.date.getSeconds())}] `
        : '';
  const level = entry.type === 'error' || entry.type === 'fatal' ? 'error: ' : entry.type === 'warn' ? 'warning: ' : '';
  const text = entry.args.map((a) => (a instanceof Error ? (a.stack ?? a.message) : typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
  return `${time}${level}${cleanLines(text)}`;
}

/**
 * A logger without consola: `[HH:MM:SS] warning: text` lines (as `createLogger` writes them) on stderr,
 * debug lines only with CRS_DEBUG.
 */
export function createStderrLogger(options: Omit<LoggerOptions, 'file'> & { debug?: boolean } = {}): Logger {
  const write = options.write ?? writeStderr;
  const debug = options.debug ?? Boolean(process.env.CRS_DEBUG);
  const stamp: LogStamp = options.timestamps ? 'time' : false;
  const at = (type: string) => (...args: unknown[]) => write(formatLogLine({ type: type as LogObject['type'], args, date: new Date() }, stamp));
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

/** Moves `<file>.N` to `.N+1` (the oldest is dropped) and `file` to `.1`. */
export function rotateLog(file: string, move: (from: string, to: string) => void = renameSync): void {
  for (let n = LOG_GENERATIONS - 1; n >= 1; n--) {
    try {
      renameSync(`${file}.${n}`, `${file}.${n + 1}`);
    } catch {}
  }
  move(file, `${file}.1`);
}

/** Appends a line to a log file (created 0600), rotating it first when it is past MAX_LOG_BYTES. */
function appendRotating(file: string, line: string, state: { checked?: boolean }): void {
  try {
    const stat = statSync(file, { throwIfNoEntry: false });
    if (stat && !state.checked && (stat.mode & 0o077) !== 0) chmodSync(file, 0o600);
    state.checked = true;
    if ((stat?.size ?? 0) > MAX_LOG_BYTES) rotateLog(file);
    appendFileSync(file, `${line}\n`, { mode: 0o600 });
  } catch {
    // Logging must never take a daemon down.
  }
}

/** The identity of fd 2 when it is a regular file (a service's log), else undefined. */
function stderrFile(): { dev: number; ino: number; path?: string } | undefined {
  try {
    const stat = fstatSync(2);
    if (!stat.isFile()) return undefined;
    let path: string | undefined;
    try {
      path = readlinkSync('/proc/self/fd/2');
    } catch {}
    return { dev: stat.dev, ino: stat.ino, path: path?.startsWith('/') ? path : undefined };
  } catch {
    return undefined;
  }
}

function isSameFile(a: { dev: number; ino: number } | undefined, file: string): boolean {
  const stat = statSync(file, { throwIfNoEntry: false });
  return Boolean(a && stat && a.dev === stat.dev && a.ino === stat.ino);
}

/** Keeps a log that is our stderr (opened by launchd or systemd, in append mode) bounded: copied to `.1`, then emptied. */
function truncateStderrLog(path: string): void {
  try {
    if (fstatSync(2).size <= MAX_LOG_BYTES) return;
    rotateLog(path, copyFileSync);
    ftruncateSync(2, 0);
  } catch {}
}

/**
 * The logger of every program: messages to stderr (data goes to stdout elsewhere). A daemon's
 * (`timestamps`) lines carry the time, and the full date where they land in a file: its `file`, or
 * stderr itself when a service manager points it at one. A line is written once even when the file
 * is also stderr.
 */
export function createLogger(options: LoggerOptions = {}): ConsolaInstance {
  const toFile = options.timestamps && !options.write ? stderrFile() : undefined;
  const fileIsStderr = Boolean(options.file && isSameFile(toFile, options.file));
  const stderrStamp: LogStamp = options.timestamps ? (toFile ? 'date' : 'time') : false;
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const fileState = {};
  // consola/core without the fancy reporters: a full `consola` import costs ~45 ms at every start.
  return createConsola({
    level: process.env.CRS_DEBUG ? 4 : 3,
    reporters: [
      {
        log(entry) {
          if (options.file) appendRotating(options.file, formatLogLine(entry, 'date'), fileState);
          if (fileIsStderr) return;
          write(formatLogLine(entry, stderrStamp));
          if (toFile?.path) truncateStderrLog(toFile.path);
        },
      },
    ],
  });
}

/** How often `followLog` looks for new lines. */
const FOLLOW_POLL_MS = 500;

function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/**
 * The last `count` lines of a log, reaching into its rotated generations when the current file is
 * shorter, each cleaned for a terminal. Undefined when there is no log at all.
 */
export function readLogTail(file: string, count: number): string[] | undefined {
  let lines: string[] = [];
  let found = false;
  for (const path of [file, ...Array.from({ length: LOG_GENERATIONS }, (_, i) => `${file}.${i + 1}`)]) {
    if (found && lines.length >= count) break;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      continue;
    }
    found = true;
    lines = [...splitLines(text), ...lines];
  }
  return found ? lines.slice(Math.max(0, lines.length - count)).map(cleanLines) : undefined;
}

/**
 * Writes each line appended to a log from its current end on (as `tail -F`: a rotated or recreated
 * file is read from its start), until `signal` aborts.
 */
export async function followLog(file: string, write: (line: string) => void, clock: Pick<Clock, 'sleep'>, signal: AbortSignal): Promise<void> {
  let at = statSync(file, { throwIfNoEntry: false });
  let offset = at?.size ?? 0;
  let pending = Buffer.alloc(0);
  while (!signal.aborted) {
    await clock.sleep(FOLLOW_POLL_MS, signal);
    const now = statSync(file, { throwIfNoEntry: false });
    if (!now) continue;
    if (!at || now.ino !== at.ino || now.size < offset) {
      offset = 0;
      pending = Buffer.alloc(0);
    }
    at = now;
    if (now.size <= offset) continue;
    const buffer = Buffer.alloc(now.size - offset);
    const fd = openSync(file, 'r');
    try {
      offset += readSync(fd, buffer, 0, buffer.length, offset);
    } finally {
      closeSync(fd);
    }
    // Only whole lines are written (a UTF-8 character is never cut in two).
    const chunk = Buffer.concat([pending, buffer]);
    const end = chunk.lastIndexOf(10);
    pending = end < 0 ? chunk : chunk.subarray(end + 1);
    if (end >= 0) for (const line of chunk.subarray(0, end).toString('utf8').split('\n')) write(cleanLines(line));
  }
}
