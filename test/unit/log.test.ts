import { describe, expect, test } from 'bun:test';
import { type Logger, createLogger, createStderrLogger } from '../../lib/core/util/log.ts';

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
