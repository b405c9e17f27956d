import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sessionIdFor } from '../../lib/core/host/session-id.ts';
import { discordApi } from '../../lib/commands/_context.ts';
import { cleanupDuty } from '../../lib/daemons/duties.ts';
import { FakeDiscord, type FakeChannel, snowflake } from '../fakes/discord.ts';
import { type ClaudeRun, OWNER_ID, type RunResult, Sandbox, flagValue, resumedId } from '../helpers.ts';

const GUILD_LINE = 'DISCORD_GUILD_ID="1100000000000000001"';
const BASE_CONFIG = [`DISCORD_ALLOWED_USER_ID="${OWNER_ID}"`, GUILD_LINE, 'DISCORD_SESSION_WORKDIR="$HOME/work"'];

/** The run of the stand-in claude that was started for a channel id (by its conversation id). */
function runFor(runs: ClaudeRun[], id: string): ClaudeRun {
  const sid = sessionIdFor(id);
  const run = runs.find((r) => r.argv.includes(sid));
  if (!run) throw new Error(`no claude run for ${id}`);
  return run;
}

/** Exit 0 with nothing on stderr (on failure the diff shows stderr and stdout). */
function expectOk(result: RunResult): void {
  expect({ code: result.code, err: result.err, out: result.code ? result.out : '' }).toEqual({ code: 0, err: '', out: '' });
}

/** Names of the tmux sessions that exist, sorted. */
async function tmuxNames(sb: Sandbox): Promise<string[]> {
  return [...(await sb.tmux.listSessions()).keys()].sort();
}

/** The ids of the NEW / EXISTS / STALE / OK lines of a report, in printed order. */
function reported(out: string, kind: string): string[] {
  return [...out.matchAll(new RegExp(`^  ${kind}\\s.*?\\((\\d+)\\)`, 'gm'))].map((m) => m[1]!);
}

/** Stores a message in a channel of the fake; `owner` writes as the owner (OWNER_ID), anyone else under a fresh id. */
function addMessage(fake: FakeDiscord, channelId: string, user: string, content: string, timestamp: string): void {
  if (user !== 'owner') return void fake.addMessage(channelId, user, content, timestamp);
  const list = fake.messages.get(channelId) ?? [];
  list.push({ id: snowflake(), content, timestamp, author: { id: OWNER_ID, username: 'owner' } });
  fake.messages.set(channelId, list);
}

function stateFile(sb: Sandbox, id: string, file: string): string {
  return readFileSync(join(sb.sessionsDir, id, file), 'utf8');
}

describe('discover', () => {
  let fake: FakeDiscord;
  let sb: Sandbox;
  let general: FakeChannel;
  let news: FakeChannel;
  let mapped: FakeChannel;
  let category: FakeChannel;
  let voice: FakeChannel;

  beforeAll(() => {
    fake = new FakeDiscord().start();
    // Insertion order differs from position order on purpose.
    general = fake.addChannel('general', { position: 3 });
    category = fake.addChannel('Projects', { type: 4, position: 0 });
    voice = fake.addChannel('Lounge', { type: 2, position: 1 });
    news = fake.addChannel('news', { type: 5, position: 0 });
    mapped = fake.addChannel('mapped', { position: 2 });
    sb = new Sandbox({ env: { DISCORD_API_URL: fake.url }, token: fake.token });
    mkdirSync(join(sb.home, 'proj'));
    sb.write('discord-sessions/workdir-map.json', JSON.stringify({ mapped: '$HOME/proj' }));
  });
  afterAll(async () => {
    await sb.cleanup();
    await fake.stop();
  });

  test('spawns text and announcement channels in position order and ignores categories and voice', async () => {
    const result = await sb.run('discover');
    expectOk(result);
    expect(reported(result.out, 'NEW')).toEqual([news.id, mapped.id, general.id]);
    expect(result.out).toContain('Discovered 3 channels, spawned 3 new session(s)');
    expect(result.out).not.toContain(category.id);
    expect(result.out).not.toContain(voice.id);
    expect(Object.keys(sb.registry()).sort()).toEqual([general.id, mapped.id, news.id].sort());
    expect(sb.registry()[news.id]).toMatchObject({ type: 'channel', name: 'news', parent: null });
    expect(await tmuxNames(sb)).toEqual([`dc-${general.id}`, `dc-${mapped.id}`, `dc-${news.id}`].sort());
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /guilds/${fake.guildId}/channels`]);
  });

  test('workdir-map.json ($VAR expanded) sets the cwd of a mapped channel; the others use the config workdir', async () => {
    const runs = await sb.waitForRuns(3);
    expect(runs).toHaveLength(3);
    expect(runFor(runs, mapped.id).cwd).toBe(join(sb.home, 'proj'));
    expect(flagValue(runFor(runs, mapped.id).argv, '--name')).toBe('mapped');
    expect(runFor(runs, general.id).cwd).toBe(join(sb.home, 'work'));
    expect(runFor(runs, news.id).cwd).toBe(join(sb.home, 'work'));
    expect(stateFile(sb, mapped.id, '.workdir')).toBe(join(sb.home, 'proj'));
  });

  test('a second run spawns nothing and says EXISTS for every channel', async () => {
    const before = sb.read('discord-sessions/sessions.json');
    const result = await sb.run('discover');
    expectOk(result);
    expect(reported(result.out, 'EXISTS')).toEqual([news.id, mapped.id, general.id]);
    expect(reported(result.out, 'NEW')).toEqual([]);
    expect(result.out).toContain('Discovered 3 channels, spawned 0 new session(s)');
    expect(sb.claudeRuns()).toHaveLength(3);
    expect(sb.read('discord-sessions/sessions.json')).toBe(before);
  });

  test('a channel added later is the only NEW one', async () => {
    const late = fake.addChannel('late', { position: 9 });
    const result = await sb.run('discover');
    expectOk(result);
    expect(reported(result.out, 'NEW')).toEqual([late.id]);
    expect(reported(result.out, 'EXISTS')).toHaveLength(3);
    const runs = await sb.waitForRuns(4);
    expect(runFor(runs, late.id).cwd).toBe(join(sb.home, 'work'));
  });
});

describe('discover-threads and discover-all', () => {
  let fake: FakeDiscord;
  let sb: Sandbox;

  beforeEach(() => {
    fake = new FakeDiscord().start();
    sb = new Sandbox({ env: { DISCORD_API_URL: fake.url }, token: fake.token });
  });
  afterEach(async () => {
    await sb.cleanup();
    await fake.stop();
  });

  test("discover-threads spawns the owners' active, unarchived threads with their parent and its context", async () => {
    const general = fake.addChannel('general');
    const active = fake.addThread(general.id, 'bug-hunt');
    const archived = fake.addThread(general.id, 'old', { thread_metadata: { archived: true } });
    const strangers = fake.addThread(general.id, 'free-for-all', { owner_id: '1999999999999999999' });
    addMessage(fake, general.id, 'owner', 'hello from the parent', '2026-03-20T14:05:33.000000+00:00');
    fake.addMessage(general.id, 'alice', 'and from someone else');

    const result = await sb.run('discover-threads');
    expect(result.code).toBe(0);
    expect(reported(result.out, 'NEW')).toEqual([active.id]);
    expect(result.out).not.toContain(archived.id);
    expect(result.out).not.toContain(strangers.id);
    expect(result.err).toContain(`REFUSED thread creation from user 1999999999999999999 in thread ${strangers.id} (free-for-all) of channel ${general.id}`);
    expect(result.out).toContain('Discovered 1 active threads, spawned 1 new session(s)');
    // Only the thread: discover-threads does not spawn channels.
    expect(Object.keys(sb.registry())).toEqual([active.id]);
    expect(sb.registry()[active.id]).toMatchObject({ type: 'thread', name: 'bug-hunt', parent: general.id });
    const [run] = await sb.waitForRuns(1);
    expect(flagValue(run!.argv, '--name')).toBe('bug-hunt');
    expect(flagValue(run!.argv, '--append-system-prompt-file')).toBe(join(sb.sessionsDir, active.id, '.system-prompt'));
    expect(stateFile(sb, active.id, '.system-prompt')).toContain('[2026-03-20T14:05:33] owner: hello from the parent');
    expect(stateFile(sb, active.id, '.system-prompt')).not.toContain('someone else');
    // On our bridge (router mode) nothing reads access.json, so none is written.
    expect(existsSync(join(sb.sessionsDir, active.id, 'access.json'))).toBe(false);

    const again = await sb.run('discover-threads');
    expect(again.code).toBe(0);
    expect(reported(again.out, 'EXISTS')).toEqual([active.id]);
    expect(again.out).toContain(`parent=${general.id}`);
    expect(sb.claudeRuns()).toHaveLength(1);
  });

  test('discover-all spawns the channels, then the threads', async () => {
    const general = fake.addChannel('general', { position: 0 });
    const news = fake.addChannel('news', { type: 5, position: 1 });
    fake.addChannel('Voice', { type: 2 });
    const thread = fake.addThread(news.id, 'release-notes');

    const result = await sb.run('discover-all');
    expectOk(result);
    expect(reported(result.out, 'NEW')).toEqual([general.id, news.id, thread.id]);
    expect(result.out).toContain('Discovered 2 channels, spawned 2 new session(s)');
    expect(result.out).toContain('Discovered 1 active threads, spawned 1 new session(s)');
    expect(sb.registry()[thread.id]).toMatchObject({ type: 'thread', parent: news.id });
    expect(await tmuxNames(sb)).toEqual([`dc-${general.id}`, `dc-${news.id}`, `dc-${thread.id}`].sort());
    const runs = await sb.waitForRuns(3);
    expect(flagValue(runFor(runs, thread.id).argv, '--append-system-prompt-file')).toBe(join(sb.sessionsDir, thread.id, '.system-prompt'));
    expect(flagValue(runFor(runs, general.id).argv, '--append-system-prompt-file')).toBeUndefined();

    const again = await sb.run('discover-all');
    expectOk(again);
    expect(reported(again.out, 'NEW')).toEqual([]);
    expect(reported(again.out, 'EXISTS')).toEqual([general.id, news.id, thread.id]);
  });

  test('a session whose Claude Code exits at once is reported failed with its last line, not NEW', async () => {
    const broken = fake.addChannel('broken', { position: 9 });
    const fine = fake.addChannel('fine', { position: 10 });
    sb.write(`discord-sessions/${broken.id}/fake-claude-exit`, 'Error: Invalid API key · Please run /login\n');
    const result = await sb.run('discover-all');
    expect(result.code).toBe(1);
    expect(reported(result.out, 'NEW')).toEqual([fine.id]);
    expect(result.out).toMatch(new RegExp(`^  ERROR   broken\\s+\\(${broken.id}\\)  Claude Code exited at once: Error: Invalid API key · Please run /login$`, 'm'));
    expect(result.out).toContain('Discovered 2 channels, spawned 1 new session(s), 1 failed');
    expect(result.err).toContain('1 session(s) could not be spawned.');
  });
});

describe('spawn-thread', () => {
  let fake: FakeDiscord;
  let sb: Sandbox;
  let parent: FakeChannel;
  let thread: FakeChannel;
  let parentWorkdir: string;

  beforeAll(async () => {
    fake = new FakeDiscord().start();
    parent = fake.addChannel('general');
    thread = fake.addThread(parent.id, 'side-quest');
    const messages: Array<[string, string]> = [
      ['owner', 'one'],
      ['bob', 'two'],
      ['owner', 'three'],
      ['bob', 'four'],
      ['owner', 'five: with "quotes" and $(not a command)'],
    ];
    messages.forEach(([user, text], i) => addMessage(fake, parent.id, user, text, `2026-03-20T14:0${i}:3${i}.123000+00:00`));
    sb = new Sandbox({ env: { DISCORD_API_URL: fake.url }, token: fake.token });
    parentWorkdir = join(sb.home, 'parent-project');
    mkdirSync(parentWorkdir);
    sb.write('discord-sessions/profiles.env', '[default]\nCLAUDE_EFFORT=low\n[work]\nCLAUDE_MODEL=opus\n');
    sb.write('discord-sessions/channel-profiles.json', JSON.stringify({ general: 'work' }));
    const spawned = await sb.run('spawn', parent.id, '--name', 'general', '--workdir', parentWorkdir);
    expectOk(spawned);
    await sb.waitForRuns(1);
  });
  afterAll(async () => {
    await sb.cleanup();
    await fake.stop();
  });

  test("hands claude the owners' messages among the parent's last N, oldest first, through --append-system-prompt-file", async () => {
    const result = await sb.run('spawn-thread', thread.id, parent.id, '--limit', '3');
    expectOk(result);
    expect(result.out).toContain(`SPAWNED  dc-${thread.id}`);
    expect(fake.requests.some((r) => r.method === 'GET' && r.path === `/channels/${parent.id}/messages?limit=3`)).toBe(true);

    const prompt = stateFile(sb, thread.id, '.system-prompt');
    const context = prompt.split('\n').filter((line) => line.startsWith('['));
    expect(context).toEqual(['[2026-03-20T14:02:32] owner: three', '[2026-03-20T14:04:34] owner: five: with "quotes" and $(not a command)']);
    expect(prompt).toContain('(1 message from others left out)');
    expect(prompt).not.toContain('bob');
    expect(prompt).toContain(`Discord channel ${parent.id}`);
    expect(prompt).toContain(`thread ${thread.id}`);

    const runs = await sb.waitForRuns(2);
    const run = runFor(runs, thread.id);
    const promptFile = join(sb.sessionsDir, thread.id, '.system-prompt');
    expect(flagValue(run.argv, '--append-system-prompt-file')).toBe(promptFile);
    expect(run.argv).not.toContain('--system-prompt');
    expect(run.argv).not.toContain('--append-system-prompt');
    expect(run.argv.join(' ')).not.toContain('five');
  });

  test('workdir and profile come from the parent; on our bridge no access.json is written', async () => {
    expect(existsSync(join(sb.sessionsDir, thread.id, 'access.json'))).toBe(false);
    expect(stateFile(sb, thread.id, '.workdir')).toBe(parentWorkdir);
    expect(stateFile(sb, thread.id, '.profile')).toBe('work');
    const run = runFor(sb.claudeRuns(), thread.id);
    expect(run.cwd).toBe(parentWorkdir);
    expect(flagValue(run.argv, '--model')).toBe('opus');
    expect(flagValue(run.argv, '--effort')).toBe('low');
    expect(sb.registry()[thread.id]).toMatchObject({ type: 'thread', parent: parent.id, name: `th-${thread.id.slice(-6)}` });
  });

  test('a live thread session is left alone (ALIVE) and its messages are not fetched again', async () => {
    const before = fake.requests.length;
    const result = await sb.run('spawn-thread', thread.id, parent.id);
    expectOk(result);
    expect(result.out).toBe(`ALIVE  dc-${thread.id}`);
    expect(fake.requests.length).toBe(before);
  });

  test('after the session dies, respawn-dead resumes it and still passes the prompt file', async () => {
    const tmuxName = `dc-${thread.id}`;
    await sb.waitForPane(tmuxName, /session .* \(new\)/);
    const prompt = stateFile(sb, thread.id, '.system-prompt');
    await sb.tmux.run(['kill-session', '-t', `=${tmuxName}`]);
    const result = await sb.run('respawn-dead');
    expectOk(result);
    expect(result.out).toContain(`RESPAWNED  ${tmuxName}`);
    expect(result.out).not.toContain(`dc-${parent.id}`);
    const runs = await sb.waitForRuns(3);
    const last = runs[2]!;
    expect(resumedId(last.argv)).toBe(sessionIdFor(thread.id));
    expect(last.argv).not.toContain('--session-id');
    expect(flagValue(last.argv, '--append-system-prompt-file')).toBe(join(sb.sessionsDir, thread.id, '.system-prompt'));
    expect(last.cwd).toBe(parentWorkdir);
    expect(stateFile(sb, thread.id, '.system-prompt')).toBe(prompt);
    await sb.waitForPane(tmuxName, /session .* \(resume\)/);
  });

  test('--limit 0 fetches nothing and says the parent has no messages', async () => {
    const other = fake.addThread(parent.id, 'quiet');
    const before = fake.requests.length;
    const result = await sb.run('spawn-thread', other.id, parent.id, '--limit', '0');
    expectOk(result);
    expect(fake.requests.slice(before)).toEqual([]);
    expect(stateFile(sb, other.id, '.system-prompt')).toContain('(the parent channel has no messages)');
  });
});

describe('create-channel', () => {
  let fake: FakeDiscord;
  let sb: Sandbox;

  beforeEach(() => {
    fake = new FakeDiscord().start();
    sb = new Sandbox({ env: { DISCORD_API_URL: fake.url }, token: fake.token });
  });
  afterEach(async () => {
    await sb.cleanup();
    await fake.stop();
  });

  test('creates the channel on Discord, records --workdir in workdir-map.json and spawns there', async () => {
    const workdir = join(sb.home, 'proj');
    mkdirSync(workdir);
    sb.write('discord-sessions/workdir-map.json', JSON.stringify({ other: '/somewhere' }));
    const result = await sb.run('create-channel', 'My Project', '--workdir', workdir);
    expectOk(result);
    const post = fake.requests.find((r) => r.method === 'POST');
    expect(post).toEqual({ method: 'POST', path: `/guilds/${fake.guildId}/channels`, body: { name: 'My Project', type: 0 } });
    const created = [...fake.channels.values()].find((c) => c.name === 'my-project')!;
    expect(created).toBeDefined();
    expect(result.out).toContain(`CREATED  #my-project (${created.id})`);
    expect(result.out).toContain(`SPAWNED  dc-${created.id}  name=my-project  workdir=${workdir}`);
    expect(JSON.parse(sb.read('discord-sessions/workdir-map.json'))).toEqual({ other: '/somewhere', 'my-project': workdir });
    const [run] = await sb.waitForRuns(1);
    expect(run!.cwd).toBe(workdir);
    expect(flagValue(run!.argv, '--name')).toBe('my-project');
    expect(sb.registry()[created.id]).toMatchObject({ type: 'channel', name: 'my-project' });
  });

  test('without --workdir it uses the configured workdir and leaves workdir-map.json alone', async () => {
    const result = await sb.run('create-channel', 'plain');
    expectOk(result);
    const [run] = await sb.waitForRuns(1);
    expect(run!.cwd).toBe(join(sb.home, 'work'));
    expect(existsSync(join(sb.sessionsDir, 'workdir-map.json'))).toBe(false);
  });

  test('a --workdir that does not exist fails before anything is created on Discord', async () => {
    const result = await sb.run('create-channel', 'doomed', '--workdir', join(sb.home, 'nope'));
    expect(result.code).toBe(1);
    expect(result.err.split('\n')).toHaveLength(1);
    expect(result.err).toContain(`Workdir ${join(sb.home, 'nope')} (from --workdir) does not exist`);
    expect(fake.requests).toEqual([]);
    expect(fake.channels.size).toBe(0);
    expect(existsSync(join(sb.sessionsDir, 'sessions.json'))).toBe(false);
    expect(existsSync(join(sb.sessionsDir, 'workdir-map.json'))).toBe(false);
    expect(await tmuxNames(sb)).toEqual([]);
  });
});

describe('cleanup-stale', () => {
  let fake: FakeDiscord;
  let sb: Sandbox;
  let live: FakeChannel;
  let gone: FakeChannel;
  let thread: FakeChannel;
  let closed: string;

  beforeAll(async () => {
    const probe = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('') });
    closed = `http://127.0.0.1:${probe.port}/api`;
    await probe.stop(true);
    fake = new FakeDiscord().start();
    live = fake.addChannel('live');
    gone = fake.addChannel('gone');
    thread = fake.addThread(live.id, 'finished');
    sb = new Sandbox({ env: { DISCORD_API_URL: fake.url }, token: fake.token });
    expectOk(await sb.run('discover-all'));
    expect(Object.keys(sb.registry())).toHaveLength(3);
  });
  afterEach(() => {
    fake.clearFailures();
    sb.env.DISCORD_API_URL = fake.url;
  });
  afterAll(async () => {
    await sb.cleanup();
    await fake.stop();
  });

  test('with nothing stale every session is OK and nothing changes', async () => {
    const registry = sb.read('discord-sessions/sessions.json');
    const result = await sb.run('cleanup-stale');
    expectOk(result);
    expect(reported(result.out, 'OK').sort()).toEqual([live.id, gone.id, thread.id].sort());
    expect(result.out).toContain('Checked 3 of 3 session(s), cleaned 0 stale');
    expect(sb.read('discord-sessions/sessions.json')).toBe(registry);
    expect(await tmuxNames(sb)).toHaveLength(3);
  });

  test.each<[string, () => void, RegExp]>([
    ['HTTP 401', () => fake.fail(/GET \/channels\//, 401), /HTTP 401.*bot token was rejected/],
    ['HTTP 403', () => fake.fail(/GET \/channels\//, 403), /HTTP 403.*lacks a permission/],
    ['HTTP 500', () => fake.fail(/GET \/channels\//, 500), /HTTP 500.*Discord is having trouble/],
    ['HTTP 503', () => fake.fail(/GET \/channels\//, 503), /HTTP 503/],
    ['HTTP 429 for a minute', () => fake.fail(/GET \/channels\//, 429, Number.POSITIVE_INFINITY, 60), /rate limited for 6\d s/],
    ['an unreachable API', () => void (sb.env.DISCORD_API_URL = closed), /Discord API unreachable at http:\/\/127\.0\.0\.1:\d+\/api\/v10\/channels\//],
  ])('%s is reported, exits non-zero and changes nothing', async (_label, breakIt, pattern) => {
    // One session is really stale: it must survive a sweep that could not complete.
    fake.channels.delete(gone.id);
    const registry = sb.read('discord-sessions/sessions.json');
    const sessions = await tmuxNames(sb);
    breakIt();
    const result = await sb.run('cleanup-stale');
    expect(result.code).toBe(1);
    expect(result.out).toMatch(pattern);
    expect(result.out).toMatch(/^  ERROR /m);
    expect(reported(result.out, 'STALE')).toEqual([]);
    expect(result.err.split('\n')).toHaveLength(1);
    expect(result.err).toContain('check(s) failed; those sessions were left as they are');
    expect(sb.read('discord-sessions/sessions.json')).toBe(registry);
    expect(await tmuxNames(sb)).toEqual(sessions);
  });

  test.each<[string, () => void]>([
    ['HTTP 404 without a Discord error code', () => fake.fail(/GET \/channels\//, 404)],
    ['a wrong DISCORD_API_URL (every path a 404)', () => void (sb.env.DISCORD_API_URL = `${fake.url}/wrong`)],
  ])('%s is no deleted channel: reported once, exit 1, and nothing is removed', async (_label, breakIt) => {
    fake.channels.delete(gone.id);
    const registry = sb.read('discord-sessions/sessions.json');
    const sessions = await tmuxNames(sb);
    breakIt();
    const result = await sb.run('cleanup-stale');
    expect(result.code).toBe(1);
    expect(result.out.match(/^  ERROR /gm)).toHaveLength(1);
    expect(result.out).toMatch(/HTTP 404: .*Check the id .*and DISCORD_API_URL\./);
    expect(reported(result.out, 'STALE')).toEqual([]);
    expect(sb.read('discord-sessions/sessions.json')).toBe(registry);
    expect(await tmuxNames(sb)).toEqual(sessions);

    // The watchdog's cleanup logs it once while it repeats, and removes nothing either.
    const { ctx } = sb.context();
    const errors: string[] = [];
    const log = Object.assign(Object.create(ctx.io.log), { error: (text: string) => errors.push(text), info: (text: string) => errors.push(text) });
    const duty = cleanupDuty({ manager: ctx.manager, log, now: () => Date.now() }, () => discordApi(ctx));
    await duty.run();
    await duty.run();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^stale check of .* failed: Discord GET .* HTTP 404/);
    expect(sb.read('discord-sessions/sessions.json')).toBe(registry);
  });

  test('kills and deregisters a deleted channel and an archived thread; a live channel is OK', async () => {
    fake.channels.delete(gone.id);
    fake.channels.get(thread.id)!.thread_metadata = { archived: true };
    const result = await sb.run('cleanup-stale');
    expectOk(result);
    expect(reported(result.out, 'STALE').sort()).toEqual([gone.id, thread.id].sort());
    expect(reported(result.out, 'OK')).toEqual([live.id]);
    expect(result.out).toMatch(new RegExp(`STALE.*\\(${gone.id}\\)  channel deleted \\(Unknown Channel\\)`));
    expect(result.out).toMatch(new RegExp(`STALE.*\\(${thread.id}\\)  thread archived`));
    expect(result.out).toContain('cleaned 2 stale');
    expect(Object.keys(sb.registry())).toEqual([live.id]);
    expect(await tmuxNames(sb)).toEqual([`dc-${live.id}`]);
    expect(sb.read('discord-sessions/SESSIONS.md')).not.toContain(gone.id);
  });
});

describe('set-status', () => {
  let fake: FakeDiscord;
  let sb: Sandbox;

  afterEach(async () => {
    await sb.cleanup();
    await fake.stop();
  });

  test('writes the session counts into the topic of DISCORD_STATUS_CHANNEL_ID', async () => {
    fake = new FakeDiscord().start();
    const status = fake.addChannel('status', { topic: 'old topic' });
    sb = new Sandbox({
      env: { DISCORD_API_URL: fake.url },
      token: fake.token,
      config: [...BASE_CONFIG, `DISCORD_STATUS_CHANNEL_ID="${status.id}"`].join('\n'),
    });
    expectOk(await sb.run('spawn', '200000000000000001', '--name', 'up-one'));
    expectOk(await sb.run('spawn', '200000000000000002', '--name', 'down-one'));
    await sb.tmux.run(['kill-session', '-t', '=dc-200000000000000002']);

    const result = await sb.run('set-status');
    expectOk(result);
    const topic = fake.channels.get(status.id)!.topic!;
    expect(topic).toMatch(/^🟢 1 up · 🔴 1 down · 💤 0 suspended · updated \d\d:\d\d UTC$/);
    expect(result.out).toBe(`STATUS  ${topic}`);
    expect(fake.requests).toEqual([{ method: 'PATCH', path: `/channels/${status.id}`, body: { topic } }]);
  });

  test('without DISCORD_STATUS_CHANNEL_ID it is a one-line error, exit 1, and nothing is sent', async () => {
    fake = new FakeDiscord().start();
    sb = new Sandbox({ env: { DISCORD_API_URL: fake.url }, token: fake.token });
    const result = await sb.run('set-status');
    expect(result.code).toBe(1);
    expect(result.err.split('\n')).toHaveLength(1);
    expect(result.err).toContain(`DISCORD_STATUS_CHANNEL_ID is not set in ${join(sb.sessionsDir, 'config.env')}`);
    expect(fake.requests).toEqual([]);
  });
});

describe('doctor', () => {
  let fake: FakeDiscord;
  let sb: Sandbox;

  beforeEach(() => {
    fake = new FakeDiscord({ guildName: 'Doctor Guild' }).start();
  });
  afterEach(async () => {
    await sb.cleanup();
    await fake.stop();
  });

  test('passes with a good setup, the guild reachable on the fake', async () => {
    sb = new Sandbox({ env: { DISCORD_API_URL: fake.url }, token: fake.token });
    const result = await sb.run('doctor');
    expect(result.err).toBe('');
    expectOk(result);
    const lines = result.out.split('\n');
    expect(lines.every((line) => line.startsWith('✓ '))).toBe(true);
    expect(result.out).toMatch(/✓ claude\s+\S+ 2\.1\.197 \(Claude Code\)/);
    expect(result.out).toMatch(/✓ bot token\s+.*\(mode 600\)/);
    expect(result.out).toContain(`✓ Discord guild      Doctor Guild (${fake.guildId}) reachable with this token`);
    expect(fake.requests).toEqual([{ method: 'GET', path: `/guilds/${fake.guildId}`, body: undefined }]);
  });

  test('fails with the chmod fix for a token file with mode 644', async () => {
    sb = new Sandbox({ env: { DISCORD_API_URL: fake.url }, token: fake.token });
    const tokenFile = join(sb.root, 'channels/discord/.env');
    chmodSync(tokenFile, 0o644);
    const result = await sb.run('doctor');
    expect(result.code).toBe(1);
    expect(result.out).toContain(`✗ bot token          ${tokenFile} is mode 644\n    → chmod 600 ${tokenFile}`);
    expect(result.err).toContain('1 check(s) failed.');
  });

  test('fails with the id fix for a guild id the bot cannot see', async () => {
    sb = new Sandbox({ env: { DISCORD_API_URL: fake.url }, token: fake.token, guildId: '1100000000000000999' });
    const result = await sb.run('doctor');
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/✗ Discord guild\s+Discord GET .*\/guilds\/1100000000000000999 failed with HTTP 404: Unknown Guild\.\n    → Check the id \(DISCORD_GUILD_ID/);
    expect(result.err).toContain('1 check(s) failed.');
  });

  test('fails with the token fix when Discord rejects the token', async () => {
    sb = new Sandbox({ env: { DISCORD_API_URL: fake.url }, token: 'a-revoked-token' });
    const result = await sb.run('doctor');
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/✗ Discord guild\s+.*HTTP 401.*\n    → The bot token was rejected: check DISCORD_BOT_TOKEN/);
  });
});
