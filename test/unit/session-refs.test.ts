/**
 * Which session a verb acts on: ids (a Telegram group's is negative), `dc-<id>`/`tg-<id>`, and a
 * session's name with or without `#`.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TELEGRAM } from '../../lib/core/config/platform.ts';
import { type RunResult, Sandbox } from '../helpers.ts';

const GROUP = '-1001234567890';
const OTHER_GROUP = '-1009876543210';

function expectOk(result: RunResult): void {
  expect({ code: result.code, err: result.err }).toEqual({ code: 0, err: '' });
}

describe('a negative Telegram chat id (every group) reaches every verb that takes one', () => {
  let sb: Sandbox;
  beforeAll(() => {
    sb = new Sandbox({ platform: TELEGRAM, config: 'TELEGRAM_ALLOWED_USER_ID="123456789"\nTELEGRAM_SESSION_WORKDIR="$HOME/work"' });
  });
  afterAll(async () => {
    await sb.cleanup();
  });

  test('spawn, with options before or after the id', async () => {
    const result = await sb.run('spawn', GROUP, '--name', 'team');
    expectOk(result);
    expect(result.out).toContain(`SPAWNED  tg-${GROUP}  name=team`);
    expect(await sb.tmux.hasSession(`tg-${GROUP}`)).toBe(true);
    const other = await sb.run('spawn', '--name', 'ops', OTHER_GROUP);
    expectOk(other);
    expect(other.out).toContain(`SPAWNED  tg-${OTHER_GROUP}  name=ops`);
    expect(Object.keys(sb.registry()).sort()).toEqual([GROUP, OTHER_GROUP].sort());
  }, 20_000);

  test('pin, unpin, wake and attach', async () => {
    expect((await sb.run('pin', GROUP)).out).toBe(`PINNED  tg-${GROUP}`);
    expect(existsSync(join(sb.sessionsDir, GROUP, '.no-idle'))).toBe(true);
    expect((await sb.run('unpin', GROUP)).out).toBe(`UNPINNED  tg-${GROUP}`);
    expect(existsSync(join(sb.sessionsDir, GROUP, '.no-idle'))).toBe(false);
    expect((await sb.run('wake', GROUP)).out).toBe(`ALIVE  tg-${GROUP}`);
    expectOk(await sb.run('attach', GROUP));
  }, 20_000);

  test('kill, also after --, and by its tmux name', async () => {
    expect((await sb.run('kill', GROUP)).out).toBe(`KILLED  tg-${GROUP}`);
    expect(await sb.tmux.hasSession(`tg-${GROUP}`)).toBe(false);
    expect((await sb.run('kill', '--', OTHER_GROUP)).out).toBe(`KILLED  tg-${OTHER_GROUP}`);
    expect(sb.registry()).toEqual({});
    expectOk(await sb.run('spawn', GROUP));
    expect((await sb.run('kill', `tg-${GROUP}`)).out).toBe(`KILLED  tg-${GROUP}`);
  }, 20_000);

  test('a negative id where Discord takes none is refused as an id, not a flag', async () => {
    const discord = new Sandbox();
    try {
      const result = await discord.run('kill', '-123456');
      expect(result.code).toBe(2);
      expect(result.err).toContain('Invalid Discord id "-123456"');
    } finally {
      await discord.cleanup();
    }
  }, 20_000);
});

describe('a session by #name, name or dc-<id>', () => {
  let sb: Sandbox;
  const GENERAL = '440000000000000001';
  const API_LOWER = '440000000000000002';
  const API_UPPER = '440000000000000003';
  const TWIN_A = '440000000000000004';
  const TWIN_B = '440000000000000005';

  beforeAll(async () => {
    sb = new Sandbox();
    for (const [id, name] of [[GENERAL, 'general'], [API_LOWER, 'api'], [API_UPPER, 'API'], [TWIN_A, 'twin'], [TWIN_B, 'twin']] as const) {
      expectOk(await sb.run('spawn', id, '--name', name));
    }
  }, 30_000);
  afterAll(async () => {
    await sb.cleanup();
  }, 30_000);

  test.each([
    ['#general', GENERAL],
    ['general', GENERAL],
    ['GENERAL', GENERAL],
    [`dc-${GENERAL}`, GENERAL],
    ['api', API_LOWER],
    ['API', API_UPPER],
  ])('pin %s pins dc-%s', async (ref, id) => {
    expect((await sb.run('pin', ref)).out).toBe(`PINNED  dc-${id}`);
    expect((await sb.run('unpin', ref)).out).toBe(`UNPINNED  dc-${id}`);
  }, 20_000);

  test('spawn, wake and attach take a name too', async () => {
    expect((await sb.run('spawn', '#general')).out).toBe(`ALIVE  dc-${GENERAL}`);
    expect((await sb.run('wake', 'api')).out).toBe(`ALIVE  dc-${API_LOWER}`);
    expectOk(await sb.run('attach', '#API'));
  }, 20_000);

  test('an ambiguous name is a one-line usage error listing the matches, and nothing is killed', async () => {
    const result = await sb.run('kill', 'twin');
    expect(result.code).toBe(2);
    expect(result.out).toBe('');
    expect(result.err.split('\n')).toHaveLength(1);
    expect(result.err).toContain(`"twin" is the name of 2 sessions: twin (${TWIN_A}), twin (${TWIN_B}). Give the id instead.`);
    expect(await sb.tmux.hasSession(`dc-${TWIN_A}`)).toBe(true);
    expect(await sb.tmux.hasSession(`dc-${TWIN_B}`)).toBe(true);
  }, 20_000);

  test('an unknown name says what is expected and where to look', async () => {
    const result = await sb.run('wake', '#nowhere');
    expect(result.code).toBe(2);
    expect(result.err).toContain('Invalid Discord id "#nowhere": expected a numeric Discord id (snowflake), dc-<id> or the name of a session.');
    expect(result.err).toContain('Run `discord-session-manager list` for names and ids.');
  }, 20_000);

  test('kill by name; the killed channel is still found by its name to spawn it again', async () => {
    expect((await sb.run('kill', '#general')).out.split('\n')[0]).toBe(`KILLED  dc-${GENERAL}`);
    expect(await sb.tmux.hasSession(`dc-${GENERAL}`)).toBe(false);
    const again = await sb.run('spawn', '#general');
    expectOk(again);
    expect(again.out).toContain(`SPAWNED  dc-${GENERAL}  name=general`);
  }, 20_000);
});
