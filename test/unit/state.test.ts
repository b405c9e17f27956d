import { afterAll, beforeEach, describe, expect, test } from 'bun:test';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolvePaths, stateDirOf, tmuxNameOf } from '../../lib/core/config/paths.ts';
import { DISCORD, TELEGRAM } from '../../lib/core/config/platform.ts';
import { CrsError } from '../../lib/core/util/errors.ts';
import { STATE_FILES, ensureStateDir, hasState, readState, removeState, touchState, writeAccess, writeState } from '../../lib/core/store/state.ts';

const root = mkdtempSync(join(tmpdir(), 'crs-state-'));
let dir: string;
afterAll(() => rmSync(root, { recursive: true, force: true }));
beforeEach(() => {
  dir = mkdtempSync(join(root, 's-'));
});

describe('state files', () => {
  test.each(Object.keys(STATE_FILES) as (keyof typeof STATE_FILES)[])('%s: write, read (trimmed), has, remove', (file) => {
    expect(readState(dir, file)).toBeUndefined();
    expect(hasState(dir, file)).toBe(false);
    writeState(dir, file, '  value\n');
    expect(readFileSync(join(dir, STATE_FILES[file]), 'utf8')).toBe('  value\n');
    expect(readState(dir, file)).toBe('value');
    expect(readState(dir, file, false)).toBe('  value\n');
    expect(hasState(dir, file)).toBe(true);
    removeState(dir, file);
    expect(hasState(dir, file)).toBe(false);
    removeState(dir, file);
  });

  test('touchState makes an empty marker and its folder', () => {
    const nested = join(dir, 'new');
    touchState(nested, 'suspended');
    expect(readFileSync(join(nested, '.suspended'), 'utf8')).toBe('');
    expect(hasState(nested, 'suspended')).toBe(true);
    touchState(nested, 'pinned', 'why\n');
    expect(readState(nested, 'pinned')).toBe('why');
  });
});

describe('writeAccess', () => {
  test('writes the plugin access.json with mode 600', () => {
    writeAccess(dir, { allowFrom: ['1', '2'], groups: ['111111', '222222'] });
    const file = join(dir, 'access.json');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({
      dmPolicy: 'allowlist',
      allowFrom: ['1', '2'],
      groups: {
        '111111': { requireMention: false, allowFrom: ['1', '2'] },
        '222222': { requireMention: false, allowFrom: ['1', '2'] },
      },
      pending: {},
    });
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  test('rewrites the managed keys from configuration, keeps the user’s other keys', () => {
    const file = join(dir, 'access.json');
    writeFileSync(
      file,
      JSON.stringify({ dmPolicy: 'pairing', allowFrom: ['1', 'intruder'], groups: { '999999': { allowFrom: [] } }, pending: { x: 1 }, ackReaction: '👀', textChunkLimit: 1000 }),
    );
    writeAccess(dir, { allowFrom: ['1'], groups: ['111111'] });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({
      dmPolicy: 'allowlist',
      allowFrom: ['1'],
      groups: { '111111': { requireMention: false, allowFrom: ['1'] } },
      pending: {},
      ackReaction: '👀',
      textChunkLimit: 1000,
    });
  });

  test.each(['{not json', '[]', 'null', '"x"'])('an unusable access.json (%s) is replaced', (text) => {
    writeFileSync(join(dir, 'access.json'), text);
    writeAccess(dir, { allowFrom: ['1'], groups: ['111111'] });
    expect(JSON.parse(readFileSync(join(dir, 'access.json'), 'utf8')).allowFrom).toEqual(['1']);
  });

  test('a group never admits anyone when the owner list is empty', () => {
    writeAccess(dir, { allowFrom: [], groups: ['111111'] });
    const access = JSON.parse(readFileSync(join(dir, 'access.json'), 'utf8'));
    expect(access.allowFrom).toEqual([]);
    expect(access.groups['111111'].allowFrom).toEqual([]);
  });
});

describe('ensureStateDir', () => {
  test('creates approved/, inbox/ and the .env link to the token file; repairs a wrong link or file', () => {
    const token = join(root, 'token.env');
    ensureStateDir(dir, token);
    expect(lstatSync(join(dir, 'approved')).isDirectory()).toBe(true);
    expect(lstatSync(join(dir, 'inbox')).isDirectory()).toBe(true);
    expect(readlinkSync(join(dir, '.env'))).toBe(token);
    ensureStateDir(dir, token);
    expect(readlinkSync(join(dir, '.env'))).toBe(token);

    rmSync(join(dir, '.env'));
    symlinkSync('/elsewhere', join(dir, '.env'));
    ensureStateDir(dir, token);
    expect(readlinkSync(join(dir, '.env'))).toBe(token);

    rmSync(join(dir, '.env'));
    writeFileSync(join(dir, '.env'), 'DISCORD_BOT_TOKEN=stale');
    ensureStateDir(dir, token);
    expect(lstatSync(join(dir, '.env')).isSymbolicLink()).toBe(true);
  });

  test('keeps what is already in inbox/', () => {
    mkdirSync(join(dir, 'inbox'));
    writeFileSync(join(dir, 'inbox', 'm1.json'), '{}');
    ensureStateDir(dir, '/t');
    expect(readFileSync(join(dir, 'inbox', 'm1.json'), 'utf8')).toBe('{}');
  });
});

describe('ids as paths and tmux names', () => {
  const paths = resolvePaths(DISCORD, { HOME: '/h', CLAUDE_CONFIG_DIR: '/c' });

  test('a valid id maps into the sessions dir and to dc-<id>', () => {
    expect(stateDirOf(DISCORD, paths, '123456789012345678')).toBe('/c/discord-sessions/123456789012345678');
    expect(tmuxNameOf(DISCORD, '123456789012345678')).toBe('dc-123456789012345678');
    expect(tmuxNameOf(TELEGRAM, '-100123')).toBe('tg--100123');
  });

  test.each(['..', '../123456', '123456/../x', 'abc', '', '123456;', '12345 6', '=dc-123456'])('%j is refused as a usage error', (id) => {
    for (const fn of [() => stateDirOf(DISCORD, paths, id), () => tmuxNameOf(DISCORD, id)]) {
      try {
        fn();
        throw new Error('accepted');
      } catch (error) {
        expect(error).toBeInstanceOf(CrsError);
        expect((error as CrsError).exitCode).toBe(2);
        expect((error as CrsError).message).toStartWith('Invalid Discord id');
        expect((error as CrsError).hint).toContain('Developer Mode');
      }
    }
  });
});
