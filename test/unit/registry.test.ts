import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CrsError } from '../../lib/core/util/errors.ts';
import { resolvePaths } from '../../lib/core/config/paths.ts';
import { DISCORD, TELEGRAM } from '../../lib/core/config/platform.ts';
import {
  type Registry,
  formatCreated,
  formatRegistryMarkdown,
  loadRegistry,
  sortedEntries,
  updateRegistry,
  validateRegistry,
} from '../../lib/core/store/registry.ts';
import { ROOT, Sandbox } from '../helpers.ts';

let sb: Sandbox;
let config: string;
beforeAll(() => {
  sb = new Sandbox();
  config = sb.read('discord-sessions/config.env');
});
beforeEach(() => {
  rmSync(sb.sessionsDir, { recursive: true, force: true });
  sb.write('discord-sessions/config.env', config);
});
afterAll(async () => {
  await sb.cleanup();
});

const paths = () => resolvePaths(DISCORD, sb.env);

function entry(name: string, created: string, extra: Record<string, unknown> = {}) {
  return { type: 'channel' as const, name, tmux: 'ignored', parent: null, created, ...extra };
}

async function thrown(fn: () => unknown): Promise<CrsError> {
  try {
    await fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CrsError);
    return error as CrsError;
  }
  throw new Error('expected a CrsError');
}

describe('sessions.json', () => {
  test('a missing or empty file is an empty registry', () => {
    expect(loadRegistry(paths(), DISCORD)).toEqual({});
    sb.write('discord-sessions/sessions.json', '\n');
    expect(loadRegistry(paths(), DISCORD)).toEqual({});
  });

  test('round trip: written atomically with SESSIONS.md, read back, extra keys kept', async () => {
    const result = await updateRegistry(paths(), DISCORD, (registry) => {
      registry['111111111111111111'] = entry('general', '2026-03-20T14:05:33', { tmux: 'dc-111111111111111111', topic: 'kept' });
      registry['222222222222222222'] = { ...entry('a thread', '2026-03-21T09:00:00'), type: 'thread', tmux: 'dc-222222222222222222', parent: '111111111111111111' };
      return 'done';
    });
    expect(result).toBe('done');
    const onDisk = JSON.parse(sb.read('discord-sessions/sessions.json'));
    expect(onDisk['111111111111111111']).toEqual({ type: 'channel', name: 'general', tmux: 'dc-111111111111111111', parent: null, created: '2026-03-20T14:05:33', topic: 'kept' });
    const loaded = loadRegistry(paths(), DISCORD);
    expect(loaded['111111111111111111']).toMatchObject({ tmux: 'dc-111111111111111111', topic: 'kept' });
    expect(loaded['222222222222222222']).toEqual({ type: 'thread', name: 'a thread', tmux: 'dc-222222222222222222', parent: '111111111111111111', created: '2026-03-21T09:00:00' });
    expect(sb.read('discord-sessions/SESSIONS.md')).toContain('| 222222222222222222 | thread | `dc-222222222222222222` | a thread | 111111111111111111 | 2026-03-21T09:00:00 |');
    // No temp files or lock left behind.
    const left = Array.from(new Bun.Glob('*').scanSync({ cwd: sb.sessionsDir, dot: true })).sort();
    expect(left).toEqual(['SESSIONS.md', 'config.env', 'sessions.json']);
  });

  test('an update that changes nothing does not rewrite the file', async () => {
    const compact = '{"111111111111111111":{"type":"channel","name":"g","tmux":"dc-111111111111111111","parent":null,"created":"x"}}';
    sb.write('discord-sessions/sessions.json', compact);
    expect(await updateRegistry(paths(), DISCORD, (registry) => Object.keys(registry))).toEqual(['111111111111111111']);
    expect(sb.read('discord-sessions/sessions.json')).toBe(compact);
  });

  test('the first update creates the file even without a change', async () => {
    await updateRegistry(paths(), DISCORD, () => undefined);
    expect(sb.read('discord-sessions/sessions.json')).toBe('{}\n');
    expect(sb.read('discord-sessions/SESSIONS.md')).toStartWith('# Active Discord Sessions');
  });

  test('a change that throws leaves the file as it was and releases the lock', async () => {
    await updateRegistry(paths(), DISCORD, (r) => {
      r['111111111111111111'] = entry('g', 'c');
    });
    const before = sb.read('discord-sessions/sessions.json');
    await expect(
      updateRegistry(paths(), DISCORD, (r) => {
        delete r['111111111111111111'];
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(sb.read('discord-sessions/sessions.json')).toBe(before);
    expect(existsSync(paths().lockFile)).toBe(false);
  });

  test.each([
    ['not JSON', '{"111111111111111111": {"type": "channel", '],
    ['JSON with a trailing comma', '{"111111111111111111": {"type": "channel", "name": "g"},}'],
    ['a binary blob', '\u0000\u0001\u0002garbage'],
  ])('a corrupt file (%s) is an error and is left byte for byte, also by an update', async (_, text) => {
    const file = sb.write('discord-sessions/sessions.json', text);
    sb.write('discord-sessions/SESSIONS.md', 'old table\n');
    const error = await thrown(() => loadRegistry(paths(), DISCORD));
    expect(error.message).toStartWith(`${file} is not valid JSON (`);
    expect(error.hint).toContain(`mv ${file} ${file}.bad`);
    expect(error.hint).toContain('discover-all');
    const update = await thrown(() =>
      updateRegistry(paths(), DISCORD, (r) => {
        r['333333333333333333'] = entry('new', 'c');
      }),
    );
    expect(update.message).toBe(error.message);
    expect(readFileSync(file, 'utf8')).toBe(text);
    expect(sb.read('discord-sessions/SESSIONS.md')).toBe('old table\n');
    expect(existsSync(paths().lockFile)).toBe(false);
  });

  test('the CLI reports a corrupt registry and does not replace it', async () => {
    const file = sb.write('discord-sessions/sessions.json', '{oops');
    const list = await sb.run('list');
    expect(list.code).toBe(1);
    expect(list.err).toContain(`${file} is not valid JSON`);
    const spawn = await sb.run('spawn', '333333333333333333');
    expect(spawn.code).toBe(1);
    expect(readFileSync(file, 'utf8')).toBe('{oops');
  });
});

describe('validateRegistry', () => {
  test.each<[string, unknown, string]>([
    ['an array', [], 'expected a JSON object'],
    ['null', null, 'expected a JSON object'],
    ['a string', 'x', 'expected a JSON object'],
    ['a non-numeric key', { general: entry('g', 'c') }, 'key "general" is not a numeric Discord id (snowflake)'],
    ['a path-like key', { '../111111': entry('g', 'c') }, 'key "../111111" is not a numeric Discord id'],
    ['an entry that is not an object', { '111111111111111111': 'general' }, 'entry 111111111111111111 is not an object'],
    ['a null entry', { '111111111111111111': null }, 'entry 111111111111111111 is not an object'],
    ['an unknown type', { '111111111111111111': { ...entry('g', 'c'), type: 'voice' } }, 'entry 111111111111111111 has type "voice"'],
    ['a missing type', { '111111111111111111': { name: 'g' } }, 'entry 111111111111111111 has type undefined'],
    ['a missing name', { '111111111111111111': { type: 'channel' } }, 'entry 111111111111111111 has no name'],
    ['a numeric name', { '111111111111111111': { type: 'channel', name: 5 } }, 'entry 111111111111111111 has no name'],
    ['a numeric parent', { '111111111111111111': { ...entry('g', 'c'), parent: 5 } }, 'entry 111111111111111111 has a bad parent'],
  ])('refuses %s', (_, data, what) => {
    try {
      validateRegistry(data, '/x/sessions.json', DISCORD);
      throw new Error('accepted');
    } catch (error) {
      expect(error).toBeInstanceOf(CrsError);
      expect((error as CrsError).message).toStartWith(`/x/sessions.json is not a valid session registry: ${what}`);
    }
  });

  test('fills in tmux, parent and created for entries of the original skill', () => {
    const registry = validateRegistry({ '111111111111111111': { type: 'thread', name: 'x', tmux: 'evil;', created: 7 } }, 'f', DISCORD);
    expect(registry['111111111111111111']).toEqual({ type: 'thread', name: 'x', tmux: 'dc-111111111111111111', parent: null, created: '' });
  });

  test('telegram ids may be negative and use the tg- prefix', () => {
    const registry = validateRegistry({ '-1001234567890': { type: 'chat', name: 'group' } }, 'f', TELEGRAM);
    expect(registry['-1001234567890']!.tmux).toBe('tg--1001234567890');
  });
});

describe('SESSIONS.md', () => {
  test('escapes pipes, newlines and backticks in names and sorts by creation', () => {
    const registry: Registry = validateRegistry(
      {
        '222222222222222222': entry('b|c\nd\r\ne `x`', '2026-01-02T00:00:00'),
        '111111111111111111': { ...entry('thread', '2026-01-03T00:00:00'), type: 'thread', parent: '222222222222222222' },
        '333333333333333333': entry('first', '2026-01-01T00:00:00'),
      },
      'f',
      DISCORD,
    );
    expect(formatRegistryMarkdown(registry, DISCORD)).toBe(
      [
        '# Active Discord Sessions\n',
        '| Channel/Thread ID | Type | tmux Session | Name | Parent | Created |',
        '|---|---|---|---|---|---|',
        '| 333333333333333333 | channel | `dc-333333333333333333` | first | - | 2026-01-01T00:00:00 |',
        "| 222222222222222222 | channel | `dc-222222222222222222` | b\\|c d e 'x' | - | 2026-01-02T00:00:00 |",
        '| 111111111111111111 | thread | `dc-111111111111111111` | thread | 222222222222222222 | 2026-01-03T00:00:00 |',
        '',
      ].join('\n'),
    );
  });

  test('every row has the same number of cells whatever the name', () => {
    const names = ['a|b|c', '|', 'x\n|y', 'back\\|slash', 'plain'];
    const data = Object.fromEntries(names.map((name, i) => [`11111111111111111${i}`, entry(name, `c${i}`)]));
    const rows = formatRegistryMarkdown(validateRegistry(data, 'f', DISCORD), DISCORD).split('\n').filter((l) => l.startsWith('| 1'));
    expect(rows).toHaveLength(names.length);
    for (const row of rows) expect(row.split(/(?<!\\)\|/).length).toBe(8);
  });

  test('sortedEntries: by created, then by id', () => {
    const registry = validateRegistry({ '30000': entry('c', 'b'), '20000': entry('b', 'a'), '10000': entry('a', 'b') }, 'f', DISCORD);
    expect(sortedEntries(registry).map(([id]) => id)).toEqual(['20000', '10000', '30000']);
  });

  test('formatCreated is local time without a zone, as the original skill wrote it', () => {
    const date = new Date(2026, 2, 5, 4, 3, 2);
    expect(formatCreated(date)).toBe('2026-03-05T04:03:02');
  });
});

describe('concurrent writers', () => {
  test('3 processes spawning 20 sessions each at once: 60 entries, 60 live sessions', async () => {
    // Start the tmux server first so the three processes do not race to create it.
    await sb.tmux.newSession({ name: 'keeper', cwd: sb.home, argv: ['sleep', '1000'], env: {} });
    // This test is about the registry, so the stand-in claude only idles (the full one costs ~10 forks a start).
    const idle = join(sb.dir, 'idle-claude');
    writeFileSync(idle, '#!/bin/sh\nexec sleep 2147483647\n', { mode: 0o755 });
    const batches = [0, 1, 2].map((p) => Array.from({ length: 20 }, (_, i) => `9${p}000000000000000${String(i).padStart(2, '0')}`));
    const procs = batches.map((ids) =>
      Bun.spawn(['bun', join(ROOT, 'test/fakes/spawn-many.ts'), ...ids], {
        env: { ...sb.env, CLAUDE_BIN: idle } as Record<string, string>,
        stdin: 'ignore',
        stdout: 'pipe',
        stderr: 'pipe',
      }),
    );
    const results = await Promise.all(
      procs.map(async (proc) => {
        const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
        return { out, err, code };
      }),
    );
    for (const [i, r] of results.entries()) {
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(r.out.trim().split('\n').sort()).toEqual(batches[i]!.map((id) => `SPAWNED ${id}`));
    }
    const all = batches.flat().sort();
    const registry = sb.registry();
    expect(Object.keys(registry).sort()).toEqual(all);
    expect(Object.values(registry).every((e) => typeof e.name === 'string' && String(e.name).startsWith('load-'))).toBe(true);
    const live = await sb.tmux.listSessions();
    const up = all.filter((id) => live.get(`dc-${id}`)?.dead === false);
    expect(up).toHaveLength(60);
    const table = sb.read('discord-sessions/SESSIONS.md').split('\n').filter((l) => /^\| 9/.test(l));
    expect(table).toHaveLength(60);
  }, 30_000);
});
