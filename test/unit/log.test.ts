import { afterAll, describe, expect, test } from 'bun:test';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../../lib/core/util/clock.ts';
import {
  LOG_GENERATIONS,
  type Logger,
  MAX_LOG_BYTES,
  createLogger,
  createStderrLogger,
  followLog,
  formatLogDate,
  readLogTail,
  rotateLog,
} from '../../lib/core/util/log.ts';
import { waitFor } from '../helpers.ts';

describe('createStderrLogger', () => {
  test('writes one plain line per entry, with the level as createLogger writes it', () => {
    const lines: string[] = [];
    const log = createStderrLogger({ write: (line) => lines.push(line), debug: false });
    log.info('started', 3);
    log.warn('slow');
    log.error(new Error('boom'));
    log.debug('hidden');
    expect(lines.slice(0, 2)).toEqual(['started 3', 'warning: slow']);
    expect(lines[2]).toStartWith('error: Error: boom');
    expect(lines).toHaveLength(3);
  });

  test('timestamps and debug lines when asked', () => {
    const lines: string[] = [];
    const log = createStderrLogger({ write: (line) => lines.push(line), timestamps: true, debug: true });
    log.debug({ a: 1 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\[\d\d:\d\d:\d\d\] \{"a":1\}$/);
  });

  test('a consola logger is a Logger too', () => {
    const lines: string[] = [];
    const log: Logger = createLogger({ write: (line) => lines.push(line) });
    log.warn('careful');
    expect(lines).toEqual(['warning: careful']);
  });
});

describe('log files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'crs-log-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('a file line carries the full local date and time with its offset; the terminal line the time', () => {
    const file = join(dir, 'dated.log');
    const lines: string[] = [];
    const log = createLogger({ timestamps: true, file, write: (line) => lines.push(line) });
    log.warn('slow');
    const [fileLine] = readFileSync(file, 'utf8').trim().split('\n');
    expect(fileLine).toMatch(/^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d\] warning: slow$/);
    expect(Date.parse(fileLine!.slice(1, 26))).toBeLessThanOrEqual(Date.now());
    expect(Math.abs(Date.parse(fileLine!.slice(1, 26)) - Date.now())).toBeLessThan(60_000);
    expect(lines).toEqual([expect.stringMatching(/^\[\d\d:\d\d:\d\d\] warning: slow$/)]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  test('a daemon whose stderr is a file (a service manager’s log) writes dated lines there, each once', async () => {
    const file = join(dir, 'service.log');
    const script = `import { createLogger } from ${JSON.stringify(join(import.meta.dir, '../../lib/core/util/log.ts'))};
const [, , file] = process.argv;
createLogger({ timestamps: true }).info('plain');
createLogger({ timestamps: true, file }).info('also to the file');`;
    const proc = Bun.spawn(['bun', '-e', script, file], { stdin: 'ignore', stdout: 'ignore', stderr: Bun.file(file) });
    expect(await proc.exited).toBe(0);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).toEqual([expect.stringMatching(/^\[\d{4}-\d\d-\d\dT[^\]]+\] plain$/), expect.stringMatching(/^\[\d{4}-\d\d-\d\dT[^\]]+\] also to the file$/)]);
  });

  test('formatLogDate is ISO 8601 with the offset of the zone', () => {
    const date = new Date('2026-03-20T14:05:33Z');
    const text = formatLogDate(date);
    expect(Date.parse(text)).toBe(date.getTime());
    expect(text).toMatch(/^2026-03-2\dT\d\d:\d\d:33[+-]\d\d:\d\d$/);
  });

  test('an existing log readable by others is made owner-only', () => {
    const file = join(dir, 'open.log');
    writeFileSync(file, 'old\n', { mode: 0o644 });
    createLogger({ timestamps: true, file, write: () => {} }).info('new');
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  test('hidden characters (controls, bidi overrides) never reach a log line', () => {
    const lines: string[] = [];
    createLogger({ write: (line) => lines.push(line) }).info('thread \u202Egnp.exe\u202C by \u001b[31mred\u0007 ok');
    expect(lines).toEqual(['thread gnp.exe by [31mred ok']);
  });

  test('past MAX_LOG_BYTES the file rotates to .1, .1 to .2 …, keeping LOG_GENERATIONS', () => {
    const file = join(dir, 'big.log');
    const big = `${'x'.repeat(MAX_LOG_BYTES)}\n`;
    const log = createLogger({ timestamps: true, file, write: () => {} });
    writeFileSync(file, '');
    for (let generation = 1; generation <= LOG_GENERATIONS + 1; generation++) {
      appendFileSync(file, big);
      log.info(`after rotation ${generation}`);
    }
    const head = (path: string) => readFileSync(path, 'utf8').slice(0, 60);
    expect(head(file)).toMatch(/^\[[^\]]+\] after rotation 4\n$/);
    expect(head(`${file}.1`)).toMatch(/^\[[^\]]+\] after rotation 3\nxxx/);
    expect(head(`${file}.3`)).toMatch(/^\[[^\]]+\] after rotation 1\nxxx/);
    expect(existsSync(`${file}.${LOG_GENERATIONS + 1}`)).toBe(false);
  });

  test('readLogTail reads back into the rotated generations, oldest first; undefined with no log', () => {
    const file = join(dir, 'tail.log');
    writeFileSync(`${file}.2`, 'a1\na2\n');
    writeFileSync(`${file}.1`, 'b1\nb2\n');
    writeFileSync(file, 'c1\n\u202Ec2\n');
    expect(readLogTail(file, 3)).toEqual(['b2', 'c1', 'c2']);
    expect(readLogTail(file, 10)).toEqual(['a1', 'a2', 'b1', 'b2', 'c1', 'c2']);
    expect(readLogTail(file, 0)).toEqual([]);
    expect(readLogTail(join(dir, 'none.log'), 5)).toBeUndefined();
  });

  test('followLog prints whole lines as they are appended, and a rotated file from its start', async () => {
    const file = join(dir, 'follow.log');
    writeFileSync(file, 'before\n');
    const seen: string[] = [];
    const stop = new AbortController();
    const following = followLog(file, (line) => seen.push(line), { sleep: (ms, signal) => systemClock.sleep(10, signal) }, stop.signal);
    await Bun.sleep(30);
    appendFileSync(file, 'one\ntw');
    await waitFor(() => seen.length === 1);
    appendFileSync(file, 'o\n');
    await waitFor(() => seen.length === 2);
    rotateLog(file);
    writeFileSync(file, 'fresh\n');
    await waitFor(() => seen.length === 3);
    stop.abort();
    await following;
    expect(seen).toEqual(['one', 'two', 'fresh']);
  });
});
