/**
 * `kill` keeps a Discord channel without a session: discovery (the CLI's and the watchdog's) leaves
 * a killed channel alone until `spawn` or `wake` of it.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { discordApi } from '../../lib/commands/_context.ts';
import { discoverDuty } from '../../lib/daemons/duties.ts';
import { FakeDiscord, type FakeChannel } from '../fakes/discord.ts';
import { type RunResult, Sandbox } from '../helpers.ts';

function expectOk(result: RunResult): void {
  expect({ code: result.code, err: result.err }).toEqual({ code: 0, err: '' });
}

describe('a killed channel stays without a session', () => {
  let fake: FakeDiscord;
  let sb: Sandbox;
  let quiet: FakeChannel;
  let busy: FakeChannel;
  let ignoredFile: string;

  const ignored = () => (existsSync(ignoredFile) ? JSON.parse(readFileSync(ignoredFile, 'utf8')) : {});
  const tmuxNames = async () => [...(await sb.tmux.listSessions()).keys()].sort();

  beforeAll(async () => {
    fake = new FakeDiscord().start();
    quiet = fake.addChannel('quiet');
    busy = fake.addChannel('busy');
    sb = new Sandbox({ env: { DISCORD_API_URL: fake.url }, token: fake.token });
    ignoredFile = join(sb.sessionsDir, 'ignored.json');
    expectOk(await sb.run('discover'));
    expect(Object.keys(sb.registry()).sort()).toEqual([quiet.id, busy.id].sort());
  }, 30_000);
  afterAll(async () => {
    await sb.cleanup();
    await fake.stop();
  });

  test('kill records the channel in ignored.json and says how to undo it; list shows it', async () => {
    const result = await sb.run('kill', quiet.id);
    expectOk(result);
    expect(result.out).toBe(`KILLED  dc-${quiet.id}\nIGNORED  ${quiet.id}: discovery starts no session for it until \`discord-session-manager spawn ${quiet.id}\` (or wake, or a message of yours there).`);
    expect(ignored()).toEqual({ [quiet.id]: 'quiet' });
    expect(Object.keys(sb.registry())).toEqual([busy.id]);
    const list = await sb.run('list');
    expect(list.out).toMatch(new RegExp(`^  \\[IGNORED\\]  dc-${quiet.id}\\s+quiet  \\(killed`, 'm'));
    const status = await sb.run('status', '--json');
    expect(JSON.parse(status.out).ignored).toEqual([{ id: quiet.id, name: 'quiet' }]);
    expect((await sb.run('status')).out).toMatch(new RegExp(`^  \\[IGNORED\\]  dc-${quiet.id}\\s+quiet  \\(killed`, 'm'));
  }, 20_000);

  test('discover and discover-all leave it alone and say so', async () => {
    for (const verb of ['discover', 'discover-all']) {
      const result = await sb.run(verb);
      expectOk(result);
      expect(result.out).toMatch(new RegExp(`^  IGNORED quiet\\s+\\(${quiet.id}\\)  killed by the owner`, 'm'));
      expect(result.out).toContain('spawned 0 new session(s)');
    }
    expect(await tmuxNames()).toEqual([`dc-${busy.id}`]);
    expect(Object.keys(sb.registry())).toEqual([busy.id]);
  }, 20_000);

  test("the watchdog's discover duty leaves it alone too", async () => {
    const { ctx } = sb.context();
    const logged: string[] = [];
    const log = Object.assign(Object.create(ctx.io.log), { info: (text: string) => logged.push(text), error: (text: string) => logged.push(text) });
    await discoverDuty({ manager: ctx.manager, log, now: () => Date.now() }, () => discordApi(ctx)).run();
    expect(logged).toEqual([]);
    expect(await tmuxNames()).toEqual([`dc-${busy.id}`]);
  }, 20_000);

  test('spawn of it starts it again and lifts the mark; discovery then finds it as usual', async () => {
    const result = await sb.run('spawn', quiet.id);
    expectOk(result);
    expect(result.out).toContain(`SPAWNED  dc-${quiet.id}  name=quiet`);
    expect(ignored()).toEqual({});
    expect((await sb.run('list')).out).not.toContain('IGNORED');
    expect((await sb.run('discover')).out).toMatch(new RegExp(`^  EXISTS  quiet\\s+\\(${quiet.id}\\)`, 'm'));
  }, 20_000);

  test('wake of a killed channel starts it again and lifts the mark', async () => {
    expectOk(await sb.run('kill', busy.id));
    expect(ignored()).toEqual({ [busy.id]: 'busy' });
    const result = await sb.run('wake', busy.id);
    expectOk(result);
    expect(result.out).toContain(`WOKE  dc-${busy.id}  name=busy`);
    expect(ignored()).toEqual({});
    expect(await tmuxNames()).toEqual([`dc-${busy.id}`, `dc-${quiet.id}`].sort());
  }, 20_000);

  test('a session cleaned up as stale is not marked ignored', async () => {
    fake.channels.delete(busy.id);
    expectOk(await sb.run('cleanup-stale'));
    expect(Object.keys(sb.registry())).toEqual([quiet.id]);
    expect(ignored()).toEqual({});
  }, 20_000);
});
