/** A verb that fails changes nothing: a wake that cannot start keeps the session suspended, a kill that cannot be recorded kills nothing. */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FAKE_CLAUDE, type RunResult, Sandbox } from '../helpers.ts';

const ID = '550000000000000001';

function expectOk(result: RunResult): void {
  expect({ code: result.code, err: result.err }).toEqual({ code: 0, err: '' });
}

describe('wake', () => {
  let sb: Sandbox;
  const suspended = () => join(sb.sessionsDir, ID, '.suspended');

  beforeAll(async () => {
    sb = new Sandbox();
    expectOk(await sb.run('spawn', ID));
  }, 30_000);
  beforeEach(async () => {
    sb.env.CLAUDE_BIN = FAKE_CLAUDE;
    sb.env.CRS_UID = '1000';
    if (!existsSync(suspended())) await sb.context().ctx.manager.stop(ID);
  });
  afterAll(async () => {
    await sb.cleanup();
  });

  test.each<[string, () => void, RegExp]>([
    ['Claude Code is missing', () => void (sb.env.CLAUDE_BIN = join(sb.dir, 'no-such-claude')), /Claude Code \(`.*no-such-claude`\) was not found/],
    ['root refuses the permission mode', () => void (sb.env.CRS_UID = '0'), /root/],
    ['the bot token is gone', () => sb.write('channels/discord/.env', ''), /No Discord bot token/],
  ])('that fails because %s leaves the session suspended', async (_, breakIt, message) => {
    const mark = readFileSync(suspended(), 'utf8');
    breakIt();
    const result = await sb.run('wake', ID);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(message);
    expect(readFileSync(suspended(), 'utf8')).toBe(mark);
    expect(await sb.tmux.hasSession(`dc-${ID}`)).toBe(false);
    sb.write('channels/discord/.env', 'DISCORD_BOT_TOKEN=fake-bot-token-0123456789abcdef\n', 0o600);
    expect((JSON.parse((await sb.run('list', '--json')).out) as Array<{ status: string }>)[0]!.status).toBe('SUSPENDED');
  }, 20_000);

  test('that succeeds clears the mark', async () => {
    const result = await sb.run('wake', ID);
    expectOk(result);
    expect(result.out).toContain(`WOKE  dc-${ID}`);
    expect(existsSync(suspended())).toBe(false);
  }, 20_000);
});

describe('kill', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = new Sandbox();
    expectOk(await sb.run('spawn', ID));
  }, 30_000);
  afterAll(async () => {
    await sb.cleanup();
  });

  test.each([
    ['sessions.json', 'sessions.json is not valid JSON'],
    ['ignored.json', 'ignored.json is not valid JSON'],
  ])('with an unreadable %s fails and leaves the session running', async (file, message) => {
    const path = join(sb.sessionsDir, file);
    const before = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    writeFileSync(path, '{ broken');
    try {
      const result = await sb.run('kill', ID);
      expect(result.code).toBe(1);
      expect(result.err).toContain(message);
      expect(result.out).toBe('');
      const info = (await sb.tmux.listSessions()).get(`dc-${ID}`);
      expect(info?.dead).toBe(false);
      expect(existsSync(join(sb.sessionsDir, ID, '.stopping'))).toBe(false);
    } finally {
      if (before === undefined) writeFileSync(path, '{}');
      else writeFileSync(path, before);
    }
    expect(Object.keys(sb.registry())).toEqual([ID]);
  }, 20_000);

  test('that succeeds kills and deregisters', async () => {
    expectOk(await sb.run('kill', ID));
    expect(await sb.tmux.hasSession(`dc-${ID}`)).toBe(false);
    expect(sb.registry()).toEqual({});
  }, 20_000);
});
