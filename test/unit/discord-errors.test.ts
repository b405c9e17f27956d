import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sessionIdFor } from '../../lib/core/host/session-id.ts';
import { FakeDiscord, type FakeChannel } from '../fakes/discord.ts';
import { FAKE_CLAUDE, OWNER_ID, type RunResult, Sandbox, type SandboxOptions, flagValue } from '../helpers.ts';

const GUILD = '1100000000000000001';
const OWNER_LINE = `DISCORD_ALLOWED_USER_ID="${OWNER_ID}"`;
const GUILD_LINE = `DISCORD_GUILD_ID="${GUILD}"`;
const WORKDIR_LINE = 'DISCORD_SESSION_WORKDIR="$HOME/work"';
/** Eleven spawns take about 1.5 s, several times that on a busy 2-core box. */
const SLOW_TEST_MS = 20_000;
/** A session that exists before each bad command: registered, with a live tmux session. */
const EXISTING = '1200000000000000001';

interface World {
  fake: FakeDiscord;
  sb: Sandbox;
  channel: FakeChannel;
  thread: FakeChannel;
}

interface Snapshot {
  registry: string | null;
  markdown: string | null;
  sessions: string[];
  stateDirs: string[];
  workdirMap: string | null;
  channels: string;
  claudeRuns: number;
}

/** A 127.0.0.1 URL where nothing listens (the port of a server that was stopped). */
async function closedUrl(): Promise<string> {
  const probe = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('') });
  const url = `http://127.0.0.1:${probe.port}/api`;
  await probe.stop(true);
  return url;
}

const BASE_CONFIG = [OWNER_LINE, GUILD_LINE, WORKDIR_LINE].join('\n');
const BASE_REGISTRY = `${JSON.stringify({ [EXISTING]: { type: 'channel', name: 'existing', tmux: `dc-${EXISTING}`, parent: null, created: '2026-01-01T00:00:00' } }, null, 2)}\n`;

/** A fake guild with one channel and one thread, and a sandbox with one registered, running session. */
async function createWorld(options: SandboxOptions = {}): Promise<World> {
  const fake = new FakeDiscord().start();
  const channel = fake.addChannel('general');
  const thread = fake.addThread(channel.id, 'a-thread');
  fake.addMessage(channel.id, 'alice', 'hi');
  const sb = new Sandbox({ token: fake.token, ...options, env: { DISCORD_API_URL: fake.url, ...options.env } });
  sb.write('discord-sessions/sessions.json', BASE_REGISTRY);
  await sb.tmux.newSession({ name: `dc-${EXISTING}`, cwd: sb.home, argv: ['sleep', '600'], env: {} });
  return { fake, sb, channel, thread };
}

async function destroyWorld({ sb, fake }: World): Promise<void> {
  await sb.cleanup();
  await fake.stop();
}

/** Puts a shared world back to the good setup a case may have broken. */
function restoreWorld({ sb, fake }: World): void {
  fake.clearFailures();
  fake.requests.length = 0;
  sb.env.DISCORD_API_URL = fake.url;
  sb.env.CLAUDE_BIN = FAKE_CLAUDE;
  sb.write('discord-sessions/config.env', `${BASE_CONFIG}\n`);
  sb.write('channels/discord/.env', `DISCORD_BOT_TOKEN=${fake.token}\n`, 0o600);
  sb.write('discord-sessions/sessions.json', BASE_REGISTRY);
  for (const file of ['workdir-map.json', 'channel-profiles.json', 'profiles.env']) rmSync(join(sb.sessionsDir, file), { force: true });
}

function readOrNull(path: string): string | null {
  return existsSync(path) ? readFileSync(path, 'utf8') : null;
}

/** Everything a command could change: the registry, tmux, state dirs, the map, Discord, claude starts. */
async function snapshot({ sb, fake }: World): Promise<Snapshot> {
  return {
    registry: readOrNull(join(sb.sessionsDir, 'sessions.json')),
    markdown: readOrNull(join(sb.sessionsDir, 'SESSIONS.md')),
    sessions: [...(await sb.tmux.listSessions()).keys()].sort(),
    stateDirs: existsSync(sb.sessionsDir) ? readdirSync(sb.sessionsDir).filter((f) => statSync(join(sb.sessionsDir, f)).isDirectory()) : [],
    workdirMap: readOrNull(join(sb.sessionsDir, 'workdir-map.json')),
    channels: JSON.stringify([...fake.channels.values()]),
    claudeRuns: sb.claudeRuns().length,
  };
}

/** A clear failure: the exit code and exactly one line on stderr, matching `pattern`. */
function expectOneLineError(result: RunResult, code: number, pattern: RegExp): void {
  expect({ code: result.code, lines: result.err.split('\n').length }).toEqual({ code, lines: 1 });
  expect(result.err).toMatch(/^\[error\] \S/);
  expect(result.err).toMatch(pattern);
}

/** Replaces THREAD / PARENT in an argv with the world's ids. */
function withIds(w: World, args: readonly string[]): string[] {
  return args.map((a) => (a === 'THREAD' ? w.thread.id : a === 'PARENT' ? w.channel.id : a));
}

describe('bad setup gives a one-line error, a non-zero exit and changes nothing', () => {
  let w: World;
  beforeAll(async () => {
    w = await createWorld();
  });
  afterAll(() => destroyWorld(w));
  afterEach(() => restoreWorld(w));

  const config = (...lines: string[]) => (x: World) => void x.sb.write('discord-sessions/config.env', `${lines.join('\n')}\n`);
  const sideFile = (file: string, text: string) => (x: World) => void x.sb.write(`discord-sessions/${file}`, text);
  const setups: Array<[string, (w: World) => void, RegExp]> = [
    ['no token file', (x) => rmSync(join(x.sb.root, 'channels/discord/.env')), /No Discord bot token \(DISCORD_BOT_TOKEN\) in \S+\/channels\/discord\/\.env\. Run `discord-session-manager init`/],
    ['an empty token', (x) => void x.sb.write('channels/discord/.env', 'DISCORD_BOT_TOKEN=\n', 0o600), /No Discord bot token/],
    ['no DISCORD_GUILD_ID', config(OWNER_LINE, WORKDIR_LINE), /DISCORD_GUILD_ID is not set in \S+config\.env\. Add DISCORD_GUILD_ID="\.\.\."/],
    ['no DISCORD_ALLOWED_USER_ID', config(GUILD_LINE, WORKDIR_LINE), /DISCORD_ALLOWED_USER_ID is not set in \S+config\.env/],
    ['a non-numeric DISCORD_GUILD_ID', config(OWNER_LINE, 'DISCORD_GUILD_ID=my-guild'), /DISCORD_GUILD_ID="my-guild" is not a numeric Discord id/],
    ['a non-numeric DISCORD_ALLOWED_USER_ID', config('DISCORD_ALLOWED_USER_ID=alice', GUILD_LINE), /DISCORD_ALLOWED_USER_ID="alice" is not a numeric user id/],
    ['$(...) in config.env', config(OWNER_LINE, GUILD_LINE, 'FOO=$(rm -rf /)'), /config\.env line 3: command substitution \$\(\.\.\.\) is not supported/],
    ['backticks in config.env', config(OWNER_LINE, GUILD_LINE, 'FOO="`id`"'), /config\.env line 3: command substitution `\.\.\.` is not supported/],
    ['an unquoted space in config.env', config(OWNER_LINE, 'A=b c', GUILD_LINE), /config\.env line 2: unexpected text after the value\. Fix the line; values with spaces need quotes\./],
    ['a line that is not KEY=value', config(OWNER_LINE, GUILD_LINE, 'rm -rf /'), /config\.env line 3: expected KEY=value/],
    ['malformed workdir-map.json', sideFile('workdir-map.json', '{"general": '), /workdir-map\.json is not valid JSON/],
    ['a workdir-map.json that is an array', sideFile('workdir-map.json', '["general"]'), /workdir-map\.json must hold a JSON object/],
    ['a non-string workdir-map.json value', sideFile('workdir-map.json', '{"general": 42}'), /workdir-map\.json: the value of "general" is not a string/],
    ['malformed channel-profiles.json', sideFile('channel-profiles.json', '{'), /channel-profiles\.json is not valid JSON/],
    ['malformed profiles.env', sideFile('profiles.env', '[work]\nCLAUDE_MODEL=$(whoami)\n'), /profiles\.env line 2: command substitution/],
    ['claude missing', (x) => void (x.sb.env.CLAUDE_BIN = '/nonexistent/claude'), /Claude Code \(`\/nonexistent\/claude`\) was not found/],
  ];

  test.each(setups)('%s: discover-all', async (_label, breakIt, pattern) => {
    breakIt(w);
    const before = await snapshot(w);
    const result = await w.sb.run('discover-all');
    expectOneLineError(result, 1, pattern);
    expect(await snapshot(w)).toEqual(before);
  });

  test.each(setups)('%s: create-channel creates no channel', async (_label, breakIt, pattern) => {
    breakIt(w);
    const before = await snapshot(w);
    const result = await w.sb.run('create-channel', 'new-one');
    expectOneLineError(result, 1, pattern);
    expect(w.fake.requests.filter((r) => r.method !== 'GET')).toEqual([]);
    expect(await snapshot(w)).toEqual(before);
  });

  test.each(setups)('%s: spawn-thread', async (_label, breakIt, pattern) => {
    breakIt(w);
    const before = await snapshot(w);
    const result = await w.sb.run('spawn-thread', w.thread.id, w.channel.id);
    expectOneLineError(result, 1, pattern);
    expect(await snapshot(w)).toEqual(before);
  });

  test.each([[['discover-all']], [['cleanup-stale']], [['spawn-thread', 'THREAD', 'PARENT']], [['list']]])(
    'a malformed sessions.json is kept byte for byte: %p',
    async (args) => {
      const broken = '{"1200000000000000001": {"type": "channel", "name": "existing"},,\n';
      w.sb.write('discord-sessions/sessions.json', broken);
      const before = await snapshot(w);
      const result = await w.sb.run(...withIds(w, args));
      expectOneLineError(result, 1, /sessions\.json is not valid JSON .*move the file aside/);
      expect(w.sb.read('discord-sessions/sessions.json')).toBe(broken);
      expect(await snapshot(w)).toEqual(before);
    },
  );

  test('a sessions.json with a bad entry is reported with the entry and kept', async () => {
    w.sb.write('discord-sessions/sessions.json', `${JSON.stringify({ '../../etc': { type: 'channel', name: 'x' } })}\n`);
    const before = await snapshot(w);
    const result = await w.sb.run('discover-all');
    expectOneLineError(result, 1, /sessions\.json is not a valid session registry: key "\.\.\/\.\.\/etc" is not a numeric Discord id/);
    expect(await snapshot(w)).toEqual(before);
  });

  test('the configured workdir missing fails every spawn; nothing is created', async () => {
    config(OWNER_LINE, GUILD_LINE, 'DISCORD_SESSION_WORKDIR=/nonexistent/dir')(w);
    const before = await snapshot(w);
    const result = await w.sb.run('discover-all');
    expectOneLineError(result, 1, /2 session\(s\) could not be spawned\. See the ERROR lines above\./);
    expect(result.out).toMatch(/^  ERROR   general .*Workdir \/nonexistent\/dir \(from DISCORD_SESSION_WORKDIR\) does not exist/m);
    expect(await snapshot(w)).toEqual(before);
  });
});

describe('a fresh install without a token or settings', () => {
  let sb: Sandbox;
  afterEach(() => sb.cleanup());

  test.each<[string, SandboxOptions, RegExp]>([
    ['no token file', { token: null }, /No Discord bot token \(DISCORD_BOT_TOKEN\) in /],
    ['no DISCORD_GUILD_ID', { config: `${OWNER_LINE}\n${WORKDIR_LINE}` }, /DISCORD_GUILD_ID is not set in /],
    ['no DISCORD_ALLOWED_USER_ID', { config: GUILD_LINE }, /DISCORD_ALLOWED_USER_ID is not set in /],
    ['an empty config.env', { config: '' }, /DISCORD_ALLOWED_USER_ID is not set in /],
  ])('%s: discover-all writes nothing', async (_label, options, pattern) => {
    // DISCORD_API_URL points at a closed port: the check must fail before anything is sent.
    sb = new Sandbox({ ...options, env: { DISCORD_API_URL: 'http://127.0.0.1:9/api' } });
    const before = readdirSync(sb.sessionsDir);
    const result = await sb.run('discover-all');
    expectOneLineError(result, 1, pattern);
    expect(readdirSync(sb.sessionsDir)).toEqual(before);
    expect(await sb.tmux.listSessions()).toHaveProperty('size', 0);
  });
});

describe('bad arguments are usage errors (exit 2) that change nothing', () => {
  let w: World;
  beforeAll(async () => {
    w = await createWorld();
  });
  afterAll(() => destroyWorld(w));
  afterEach(() => restoreWorld(w));

  test.each<[string, string[], RegExp]>([
    ['a non-numeric thread id', ['spawn-thread', 'abc', 'PARENT'], /Invalid Discord thread id "abc": expected a numeric Discord id/],
    ['a non-numeric parent id', ['spawn-thread', 'THREAD', '12ab34'], /Invalid Discord parent channel id "12ab34"/],
    ['a path as thread id', ['spawn-thread', '../../etc', 'PARENT'], /Invalid Discord thread id "\.\.\/\.\.\/etc"/],
    ['a negative id', ['spawn-thread', '-1234567', 'PARENT'], /Missing required positional argument|Invalid Discord thread id/],
    ['an id too long', ['spawn-thread', '1'.repeat(21), 'PARENT'], /Invalid Discord thread id/],
    ['a --limit over 100', ['spawn-thread', 'THREAD', 'PARENT', '--limit', '101'], /Invalid --limit "101": expected a whole number from 0 to 100/],
    ['a non-numeric --limit', ['spawn-thread', 'THREAD', 'PARENT', '--limit', 'ten'], /Invalid --limit "ten"/],
    ['an unknown option', ['discover', '--force'], /Unknown option --force/],
    ['an extra argument', ['cleanup-stale', 'now'], /Too many arguments: now/],
    ['an empty channel name', ['create-channel', '   '], /Invalid channel name "   ": it must have 1 to 100 characters/],
    ['a channel name over 100 characters', ['create-channel', 'x'.repeat(101)], /Invalid channel name "x{40}": it must have 1 to 100 characters/],
  ])('%s', async (_label, args, pattern) => {
    const before = await snapshot(w);
    const result = await w.sb.run(...withIds(w, args));
    expectOneLineError(result, 2, pattern);
    expect(w.fake.requests).toEqual([]);
    expect(await snapshot(w)).toEqual(before);
  });
});

describe('Discord failures are reported on one line, exit 1, and change nothing', () => {
  let w: World;
  let closed: string;
  beforeAll(async () => {
    closed = await closedUrl();
    w = await createWorld();
  });
  afterAll(() => destroyWorld(w));
  afterEach(() => restoreWorld(w));

  type Breaker = (w: World) => void | Promise<void>;
  const failures: Array<[string, Breaker, RegExp]> = [
    ['HTTP 401 (revoked token)', (x) => x.fake.fail(/./, 401), /HTTP 401: Fake failure 401\. The bot token was rejected/],
    ['a wrong token', (x) => void x.sb.write('channels/discord/.env', 'DISCORD_BOT_TOKEN=not-the-token\n', 0o600), /HTTP 401: 401: Unauthorized/],
    ['HTTP 403', (x) => x.fake.fail(/./, 403), /HTTP 403: .*The bot lacks a permission/],
    ['HTTP 404 (unknown guild / channel)', (x) => x.fake.fail(/./, 404), /HTTP 404: .*Check the id/],
    ['HTTP 429 for a minute', (x) => x.fake.fail(/./, 429, Number.POSITIVE_INFINITY, 60), /is rate limited for 6\d s\. Try again after that\./],
    ['HTTP 500', (x) => x.fake.fail(/./, 500), /HTTP 500: .*Discord is having trouble: try again later\./],
    ['HTTP 502', (x) => x.fake.fail(/./, 502), /HTTP 502: /],
    ['the API unreachable', (x) => void (x.sb.env.DISCORD_API_URL = closed), /Discord API unreachable at http:\/\/127\.0\.0\.1:\d+\/api\/v10\/\S+: .*[^.][.?] Check the network connection \(or DISCORD_API_URL\)\./],
  ];
  const verbs: Array<[string, string[]]> = [
    ['discover', ['discover']],
    ['discover-threads', ['discover-threads']],
    ['discover-all', ['discover-all']],
    ['spawn-thread', ['spawn-thread', 'THREAD', 'PARENT']],
    ['create-channel', ['create-channel', 'new-one']],
  ];
  const cases = failures.flatMap(([label, breakIt, pattern]) => verbs.map(([verb, args]) => [verb, label, breakIt, args, pattern] as const));

  test.each(cases)('%s with %s', async (_verb, _label, breakIt, args, pattern) => {
    const before = await snapshot(w);
    await breakIt(w);
    const started = Date.now();
    const result = await w.sb.run(...withIds(w, args));
    expect(Date.now() - started).toBeLessThan(3000);
    expectOneLineError(result, 1, pattern);
    expect(result.out).toBe('');
    expect(await snapshot(w)).toEqual(before);
  });

  test('a wrong DISCORD_GUILD_ID is a 404 that names the guild and the setting', async () => {
    w.sb.write('discord-sessions/config.env', `${OWNER_LINE}\nDISCORD_GUILD_ID="1100000000000000999"\n`);
    const before = await snapshot(w);
    const result = await w.sb.run('discover-all');
    expectOneLineError(result, 1, /Discord GET \S+\/guilds\/1100000000000000999\/channels failed with HTTP 404: Unknown Guild\. Check the id \(DISCORD_GUILD_ID in config\.env/);
    expect(await snapshot(w)).toEqual(before);
  });
});

describe('a problem with one channel fails that channel only', () => {
  let w: World;
  beforeEach(async () => {
    w = await createWorld();
  });
  afterEach(() => destroyWorld(w));

  test('an unknown profile for one channel: an ERROR line, exit 1, the others spawn', async () => {
    const other = w.fake.addChannel('other');
    w.sb.write('discord-sessions/channel-profiles.json', JSON.stringify({ general: 'nope' }));
    const result = await w.sb.run('discover');
    expectOneLineError(result, 1, /1 session\(s\) could not be spawned/);
    expect(result.out).toMatch(new RegExp(`^  ERROR   general .*\\(${w.channel.id}\\)  Profile "nope" is not defined in \\S+profiles\\.env\\.`, 'm'));
    expect(result.out).toMatch(new RegExp(`^  NEW     other .*\\(${other.id}\\)`, 'm'));
    expect(Object.keys(w.sb.registry()).sort()).toEqual([EXISTING, other.id].sort());
    expect(existsSync(join(w.sb.sessionsDir, w.channel.id))).toBe(false);
    expect(await w.sb.tmux.hasSession(`dc-${w.channel.id}`)).toBe(false);
  });
});

describe('hostile channel and thread names', () => {
  let fake: FakeDiscord;
  let sb: Sandbox;
  let pwned: string;

  beforeEach(() => {
    fake = new FakeDiscord().start();
    sb = new Sandbox({ env: { DISCORD_API_URL: fake.url }, token: fake.token });
    pwned = join(sb.dir, 'pwned');
  });
  afterEach(async () => {
    await sb.cleanup();
    await fake.stop();
  });

  test('discover-all spawns them all as data: no command runs, tmux survives, names are sanitised', async () => {
    const hostile = [
      `it's "quoted" $(touch ${pwned}-dollar) \`touch ${pwned}-backtick\``,
      `x; kill-server; touch ${pwned}-semicolon`,
      `run-shell "touch ${pwned}-runshell";`,
      'ends-with-backslash\\;',
      `#{session_name} #(touch ${pwned}-format)`,
      'line one\nline two\r\n| kill-server',
      '../../etc',
      `a${'😀'.repeat(60)}`,
      'y'.repeat(200),
    ];
    const channels = hostile.map((name, i) => fake.addChannel(name, { position: i }));
    const parent = channels[0]!;
    const threads = ['kill-session -a;', `t $(touch ${pwned}-thread);`].map((name) => fake.addThread(parent.id, name));
    fake.addMessage(parent.id, 'mallory', `"; touch ${pwned}-message; echo "`);
    const all = [...channels, ...threads];

    const result = await sb.run('discover-all');
    expect({ code: result.code, err: result.err }).toEqual({ code: 0, err: '' });
    expect(result.out).toContain(`Discovered ${channels.length} channels, spawned ${channels.length} new session(s)`);
    expect(result.out).toContain(`Discovered ${threads.length} active threads, spawned ${threads.length} new session(s)`);
    // One report line per session, two summaries, one blank separator: no name breaks the report.
    expect(result.out.split('\n')).toHaveLength(all.length + 3);

    const runs = await sb.waitForRuns(all.length, SLOW_TEST_MS);
    expect(runs).toHaveLength(all.length);
    // The tmux server is still up and has every session.
    const sessions = await sb.tmux.listSessions();
    expect([...sessions.keys()].sort()).toEqual(all.map((c) => `dc-${c.id}`).sort());
    expect([...sessions.values()].every((s) => !s.dead)).toBe(true);

    const registry = sb.registry();
    for (const channel of all) {
      const run = runs.find((r) => r.argv.includes(sessionIdFor(channel.id)));
      expect(run).toBeDefined();
      const name = flagValue(run!.argv, '--name')!;
      expect(name).not.toMatch(/[\n\r]/);
      expect(name.length).toBeLessThanOrEqual(100);
      expect(name).toBe(String(registry[channel.id]!.name));
      expect(name).toBe(channel.name.replace(/\s+/g, ' ').trim().slice(0, 100).replace(/[\ud800-\udbff]$/, ''));
      // Nothing after --name was eaten or added by tmux's command parser.
      expect(run!.argv[run!.argv.indexOf('--name') - 2]).toBe('--session-id');
      expect(run!.cwd).toBe(join(sb.home, 'work'));
    }
    for (const thread of threads) {
      const run = runs.find((r) => r.argv.includes(sessionIdFor(thread.id)))!;
      expect(run.argv.slice(-4)).toEqual(['--append-system-prompt-file', join(sb.sessionsDir, thread.id, '.system-prompt'), '--settings', join(sb.sessionsDir, thread.id, 'claude-settings.json')]);
    }

    // None of the injected commands ran.
    expect(readdirSync(sb.dir).filter((f) => f.startsWith('pwned'))).toEqual([]);

    // State dirs are the numeric ids, inside the sessions dir; nothing was written elsewhere.
    const dirs = readdirSync(sb.sessionsDir).filter((f) => statSync(join(sb.sessionsDir, f)).isDirectory());
    expect(dirs.sort()).toEqual(all.map((c) => c.id).sort());
    expect(readdirSync(sb.root).sort()).toEqual(['channels', 'discord-sessions', 'fake-claude', 'projects']);
    expect(existsSync(join(sb.root, 'etc'))).toBe(false);

    // SESSIONS.md keeps one row per session with six cells.
    const rows = sb.read('discord-sessions/SESSIONS.md').split('\n').filter((line) => /^\| \d+ \|/.test(line));
    expect(rows).toHaveLength(all.length);
    for (const row of rows) expect(row.split(/(?<!\\)\|/)).toHaveLength(8);
  }, SLOW_TEST_MS);

  test('create-channel with a hostile name passes it to Discord as data', async () => {
    const name = `$(touch ${pwned}-create); kill-server;`;
    const result = await sb.run('create-channel', name);
    expect({ code: result.code, err: result.err }).toEqual({ code: 0, err: '' });
    expect(fake.requests.find((r) => r.method === 'POST')!.body).toEqual({ name, type: 0 });
    const [run] = await sb.waitForRuns(1);
    expect(flagValue(run!.argv, '--name')).toBe(name.toLowerCase().replace(/\s+/g, '-'));
    expect(await sb.tmux.listSessions()).toHaveProperty('size', 1);
    expect(readdirSync(sb.dir).filter((f) => f.startsWith('pwned'))).toEqual([]);
  });
});
