import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApplicationCommandOptionType as Opt, type APIApplicationCommandInteractionDataOption } from 'discord.js';
import { systemClock } from '../../lib/core/util/clock.ts';
import { runSlashDaemon } from '../../lib/platforms/discord/slash/daemon.ts';
import { toMessage } from '../../lib/platforms/discord/slash/router.ts';
import { Inbox } from '../../lib/router/inbox.ts';
import { FakeDiscord, type FakeChannel, type FakeInteractionHandle, snowflake } from '../fakes/discord.ts';
import { OWNER_ID, Sandbox, flagValue, resumedId, waitFor } from '../helpers.ts';

const STRANGER = { id: '1999999999999999999', username: 'mallory' };

let fake: FakeDiscord;
let sb: Sandbox;
let stop: AbortController;
let daemon: Promise<void>;
let logLines: string[];
let commandsRun: Array<{ argv: string[]; cwd: string }>;
let general: FakeChannel;

const sub = (name: string, options: APIApplicationCommandInteractionDataOption[] = []): APIApplicationCommandInteractionDataOption[] => [
  { type: Opt.Subcommand, name, options } as APIApplicationCommandInteractionDataOption,
];
const str = (name: string, value: string, focused = false) => ({ type: Opt.String, name, value, ...(focused ? { focused } : {}) }) as APIApplicationCommandInteractionDataOption;

/** The final message of a command: the edited original, or the ephemeral follow-up of an error. */
async function finalReply(handle: FakeInteractionHandle, timeoutMs = 8000) {
  await waitFor(() => handle.replies().some((r) => r.kind === 'edit-original' || r.kind === 'followup' || (r.kind === 'callback' && r.type === 4)), timeoutMs, 'a reply');
  return handle.replies().find((r) => r.kind === 'edit-original' || r.kind === 'followup' || (r.kind === 'callback' && r.type === 4))!;
}

async function row(id: string) {
  return (await sb.context().ctx.manager.list()).find((r) => r.id === id);
}

beforeAll(async () => {
  fake = new FakeDiscord().start();
  general = fake.addChannel('general');
  sb = new Sandbox({ env: { DISCORD_API_URL: fake.url } , config: [`DISCORD_ALLOWED_USER_ID="${OWNER_ID}"`, `DISCORD_GUILD_ID="${fake.guildId}"`, 'DISCORD_SESSION_WORKDIR="$HOME/work"'].join('\n') });
  mkdirSync(join(sb.home, 'other'), { recursive: true });
  expect((await sb.run('spawn', general.id, '--name', 'general')).code).toBe(0);
  await sb.waitForPane(`dc-${general.id}`, /session .* \(new\)/);
  const { ctx, err } = sb.context();
  logLines = err;
  commandsRun = [];
  stop = new AbortController();
  daemon = runSlashDaemon({
    manager: ctx.manager,
    clock: systemClock,
    log: ctx.io.log,
    signal: stop.signal,
    watchIntervalMs: 100,
    runCommand: async (argv, cwd) => {
      commandsRun.push({ argv, cwd });
      return { code: 0, output: 'installed 1 skill' };
    },
  });
  await waitFor(() => fake.commands.length > 0 && logLines.some((l) => l.includes('Slash daemon connected')), 8000, 'daemon ready');
});

afterAll(async () => {
  stop.abort();
  await daemon;
  await sb.cleanup();
  await fake.stop();
});

describe('slash daemon: registration and owner-only access', () => {
  test('registers /session, /skills, /run, /discover and /ask in the guild', () => {
    expect(fake.commands.map((c) => c.name).sort()).toEqual(['ask', 'discover', 'run', 'session', 'skills']);
    expect(fake.commands.every((c) => c.guild_id === fake.guildId)).toBe(true);
  });

  const strangerCases: Array<[string, APIApplicationCommandInteractionDataOption[]]> = [
    ['session', sub('status')],
    ['session', sub('restart')],
    ['session', sub('refresh')],
    ['session', sub('kill')],
    ['session', sub('wake')],
    ['session', sub('workdir', [str('path', '/tmp')])],
    ['session', sub('send', [str('input', 'yes')])],
    ['session', sub('watch')],
    ['session', sub('snapshot')],
    ['session', sub('history')],
    ['session', sub('profile', [str('name', 'default')])],
    ['session', sub('fresh')],
    ['session', sub('sessions')],
    ['skills', sub('list')],
    ['skills', sub('install', [str('name', 'evil/skill')])],
    ['run', [str('skill', 'commit')]],
    ['discover', []],
    ['ask', [str('prompt', 'rm -rf ~')]],
  ];
  test.each(strangerCases)('a stranger is refused /%s %j, ephemerally, and nothing happens', async (name, options) => {
    const runs = sb.claudeRuns().length;
    const before = await sb.tmux.listSessions();
    const registry = sb.read('discord-sessions/sessions.json');
    const handle = fake.interaction({ name, channelId: general.id, options, user: STRANGER });
    const reply = await handle.waitForReply();
    expect(reply.type).toBe(4);
    expect(reply.data?.flags).toBe(64);
    expect(String(reply.data?.content)).toContain('Only the owner');
    expect(handle.replies()).toHaveLength(1);
    await waitFor(() => logLines.some((l) => l.includes(`REFUSED /${name}`) && l.includes(STRANGER.id)), 2000, 'refusal log line');
    expect(sb.claudeRuns().length).toBe(runs);
    expect([...(await sb.tmux.listSessions()).entries()].map(([n, i]) => [n, i.panePid])).toEqual([...before.entries()].map(([n, i]) => [n, i.panePid]));
    expect(sb.read('discord-sessions/sessions.json')).toBe(registry);
    expect(commandsRun).toEqual([]);
  });

  test.each([
    ['session', sub('workdir', [str('path', '', true)])],
    ['session', sub('send', [str('input', '', true)])],
    ['session', sub('profile', [str('name', '', true)])],
    ['run', [str('skill', '', true)]],
  ] as Array<[string, APIApplicationCommandInteractionDataOption[]]>)('autocomplete reveals nothing to a stranger (/%s %j), and is logged', async (name, options) => {
    const before = logLines.filter((l) => l.includes(`REFUSED autocomplete of /${name}`)).length;
    const handle = fake.interaction({ name, type: 'autocomplete', channelId: general.id, options, user: STRANGER });
    const reply = await handle.waitForReply();
    expect(reply.type).toBe(8);
    expect(reply.data?.choices).toEqual([]);
    expect(logLines.filter((l) => l.includes(`REFUSED autocomplete of /${name}`) && l.includes(STRANGER.id)).length).toBe(before + 1);
  });
});

describe('slash daemon: private answers', () => {
  /** Whether the command's answer was seen by its sender only (the deferral carries the ephemeral flag). */
  async function isEphemeral(name: string, options: APIApplicationCommandInteractionDataOption[]): Promise<boolean> {
    const handle = fake.interaction({ name, channelId: general.id, options });
    const reply = await finalReply(handle);
    expect(reply.kind).toBe('edit-original');
    const deferral = handle.replies().find((r) => r.kind === 'callback');
    return (Number(deferral?.data?.flags ?? 0) & 64) === 64;
  }

  test('status, sessions, workdir, allowed, snapshot, history and /skills list answer the owner only; profile stays in the channel', async () => {
    const asked: Array<[string, string, boolean]> = [];
    for (const which of ['status', 'sessions', 'workdir', 'allowed', 'snapshot', 'history']) asked.push(['session', which, await isEphemeral('session', sub(which))]);
    asked.push(['skills', 'list', await isEphemeral('skills', sub('list'))]);
    asked.push(['session', 'profile', await isEphemeral('session', sub('profile'))]);
    expect(asked).toEqual([
      ['session', 'status', true],
      ['session', 'sessions', true],
      ['session', 'workdir', true],
      ['session', 'allowed', true],
      ['session', 'snapshot', true],
      ['session', 'history', true],
      ['skills', 'list', true],
      ['session', 'profile', false],
    ]);
  });
});

describe('slash daemon: /session', () => {
  test('status is the core chat command: status, tmux, profile, workdir and session id', async () => {
    const reply = await finalReply(fake.interaction({ name: 'session', channelId: general.id, options: sub('status') }));
    const lines = String(reply.data?.content).split('\n');
    expect(lines[0]).toBe('```');
    expect(lines.slice(1, -1)).toEqual([
      'UP  general',
      `tmux: dc-${general.id}`,
      'profile: default',
      `workdir: ${join(sb.home, 'work')}`,
      expect.stringMatching(/^session: [0-9a-f-]{36}$/),
    ]);
  });

  test('status shows a new conversation the session had to start', async () => {
    const reason = 'Claude Code could not continue the conversation (No conversation found with session ID: x)';
    const file = join(sb.sessionsDir, general.id, '.new-conversation');
    writeFileSync(file, `${JSON.stringify({ at: new Date().toISOString(), reason, sessionId: 'x', told: true })}\n`);
    try {
      const reply = await finalReply(fake.interaction({ name: 'session', channelId: general.id, options: sub('status') }));
      const line = String(reply.data?.content).split('\n').find((l) => l.startsWith('new conversation'));
      expect(line).toMatch(new RegExp(`^new conversation since \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC: ${reason.replace(/[()]/g, '\\$&')}$`));
    } finally {
      rmSync(file);
    }
  });

  test('send types a key or text into the pane; autocomplete offers the keys', async () => {
    const reply = await finalReply(fake.interaction({ name: 'session', channelId: general.id, options: sub('send', [str('input', 'hello from the phone')]) }));
    expect(String(reply.data?.content)).toContain('Typed: hello from the phone');
    await sb.waitForPane(`dc-${general.id}`, /hello from the phone/);
    const auto = await fake.interaction({ name: 'session', type: 'autocomplete', channelId: general.id, options: sub('send', [str('input', 'es', true)]) }).waitForReply();
    expect((auto.data?.choices as Array<{ value: string }>).map((c) => c.value)).toContain('esc');
  });

  test('snapshot and history come back as .txt attachments', async () => {
    for (const which of ['snapshot', 'history']) {
      const reply = await finalReply(fake.interaction({ name: 'session', channelId: general.id, options: sub(which) }));
      expect(reply.files.map((f) => f.name)).toEqual([`${which}-general.txt`]);
      expect(reply.files[0]!.size).toBeGreaterThan(10);
    }
  });

  test('restart fresh starts a new conversation; refresh resumes the same one', async () => {
    const before = readFileSync(join(sb.sessionsDir, general.id, '.session-id'), 'utf8');
    const runs = sb.claudeRuns().length;
    const fresh = await finalReply(fake.interaction({ name: 'session', channelId: general.id, options: sub('restart', [{ type: Opt.Boolean, name: 'fresh', value: true }]) }));
    expect(String(fresh.data?.content)).toContain('FRESH');
    const after = readFileSync(join(sb.sessionsDir, general.id, '.session-id'), 'utf8');
    expect(after).not.toBe(before);
    await sb.waitForRuns(runs + 1);
    await sb.waitForPane(`dc-${general.id}`, new RegExp(`session ${after} \\(new\\)`));
    await finalReply(fake.interaction({ name: 'session', channelId: general.id, options: sub('refresh') }));
    const runsAfter = await sb.waitForRuns(runs + 2);
    expect(resumedId(runsAfter.at(-1)!.argv)).toBe(after);
  });

  test('workdir shows, autocompletes from workdir-map.json, and moves the session', async () => {
    sb.write('discord-sessions/workdir-map.json', JSON.stringify({ other: '$HOME/other' }));
    const auto = await fake.interaction({ name: 'session', type: 'autocomplete', channelId: general.id, options: sub('workdir', [str('path', 'oth', true)]) }).waitForReply();
    expect(auto.data?.choices).toEqual([{ name: `other → ${join(sb.home, 'other')}`, value: join(sb.home, 'other') }]);
    const runs = sb.claudeRuns().length;
    await finalReply(fake.interaction({ name: 'session', channelId: general.id, options: sub('workdir', [str('path', join(sb.home, 'other'))]) }));
    const latest = await sb.waitForRuns(runs + 1);
    expect(latest.at(-1)!.cwd).toBe(join(sb.home, 'other'));
    const bad = await finalReply(fake.interaction({ name: 'session', channelId: general.id, options: sub('workdir', [str('path', '/does/not/exist')]) }));
    expect(bad.kind).toBe('followup');
    expect(bad.data?.flags).toBe(64);
    expect(String(bad.data?.content)).toContain('does not exist');
    expect(readFileSync(join(sb.sessionsDir, general.id, '.workdir'), 'utf8')).toBe(join(sb.home, 'other'));
  });

  test('profile switches with channel-profiles.json and passes the profile to claude', async () => {
    sb.write('discord-sessions/profiles.env', '[default]\nCLAUDE_MODEL=sonnet\n[work]\nCLAUDE_MODEL=opus\nWORK_FLAG=1\n');
    const auto = await fake.interaction({ name: 'session', type: 'autocomplete', channelId: general.id, options: sub('profile', [str('name', 'w', true)]) }).waitForReply();
    expect(auto.data?.choices).toEqual([{ name: 'work', value: 'work' }]);
    const runs = sb.claudeRuns().length;
    await finalReply(fake.interaction({ name: 'session', channelId: general.id, options: sub('profile', [str('name', 'work')]) }));
    const latest = (await sb.waitForRuns(runs + 1)).at(-1)!;
    expect(flagValue(latest.argv, '--model')).toBe('opus');
    expect(latest.env.WORK_FLAG).toBe('1');
    expect(JSON.parse(sb.read('discord-sessions/channel-profiles.json'))).toEqual({ general: 'work' });
  });

  test('kill stops it and keeps it down (the watchdog skips it); wake brings it back', async () => {
    await finalReply(fake.interaction({ name: 'session', channelId: general.id, options: sub('kill') }));
    expect(await sb.tmux.hasSession(`dc-${general.id}`)).toBe(false);
    expect((await row(general.id))!.status).toBe('SUSPENDED');
    const report = await sb.context().ctx.manager.respawnDead();
    expect(report.respawned).toEqual([]);
    await finalReply(fake.interaction({ name: 'session', channelId: general.id, options: sub('wake') }));
    expect((await row(general.id))!.status).toBe('UP');
  });

  test('watch edits one message with the screen and ends when the session is idle', async () => {
    const handle = fake.interaction({ name: 'session', channelId: general.id, options: sub('watch') });
    await finalReply(handle);
    await sb.waitForPane(`dc-${general.id}`, /> $/m);
    await sb.tmux.sendKeys(`dc-${general.id}`, ['watch me'], true);
    await waitFor(() => handle.replies().some((r) => r.kind === 'edit-original' && String(r.data?.content).includes('watch me')), 5000, 'an edit with the new text');
    await waitFor(() => handle.replies().some((r) => String(r.data?.content).includes('ended')), 5000, 'the end of the watch');
    expect(handle.replies().filter((r) => r.kind === 'followup')).toEqual([]);
  });
});

describe('slash daemon: skills, run, ask, discover', () => {
  test('skills list shows project skills of the workdir; install runs npx skills add without a shell', async () => {
    const skillDir = join(sb.home, 'other/.claude/skills/deploy');
    mkdirSync(skillDir, { recursive: true });
    writeFileSync(join(skillDir, 'SKILL.md'), '---\nname: deploy\ndescription: Ship it to production\n---\n');
    const list = await finalReply(fake.interaction({ name: 'skills', channelId: general.id, options: sub('list') }));
    expect(String(list.data?.content)).toContain('`deploy` — Ship it to production');
    const auto = await fake.interaction({ name: 'run', type: 'autocomplete', channelId: general.id, options: [str('skill', 'dep', true)] }).waitForReply();
    expect(auto.data?.choices).toEqual([{ name: 'deploy — Ship it to production', value: 'deploy' }]);
    await finalReply(fake.interaction({ name: 'skills', channelId: general.id, options: sub('install', [str('name', 'acme/tools')]) }));
    expect(commandsRun).toEqual([{ argv: ['npx', '--yes', 'skills', 'add', 'acme/tools', '--yes'], cwd: join(sb.home, 'other') }]);
    const bad = await finalReply(fake.interaction({ name: 'skills', channelId: general.id, options: sub('install', [str('name', 'x; rm -rf ~')]) }));
    expect(bad.data?.flags).toBe(64);
    expect(commandsRun).toHaveLength(1);
  });

  test('run and ask are queued in the session’s inbox as the owner’s messages, never typed into the pane', async () => {
    const run = fake.interaction({ name: 'run', channelId: general.id, options: [str('skill', 'deploy'), str('args', 'staging')] });
    expect(String((await finalReply(run)).data?.content)).toContain('> Run the /deploy skill with these arguments: staging.');
    const ask = fake.interaction({ name: 'ask', channelId: general.id, options: [str('prompt', 'what changed today?')] });
    expect(String((await finalReply(ask)).data?.content)).toBe('Sent to `general`:\n> what changed today?');
    // The stand-in has no bridge: the messages wait in the inbox, in order.
    const queued = new Inbox(join(sb.sessionsDir, general.id, 'inbox')).list();
    expect(queued.map((e) => [e.id, e.content])).toEqual([
      [run.id, 'Run the /deploy skill with these arguments: staging.'],
      [ask.id, 'what changed today?'],
    ]);
    expect(queued[1]!.meta).toMatchObject({ chat_id: general.id, message_id: ask.id, user_id: OWNER_ID, user: 'owner' });
    expect(queued[0]!.meta).toMatchObject({ skill: 'deploy', skill_args: 'staging' });
    const screen = (await sb.tmux.run(['capture-pane', '-p', '-J', '-S', '-', '-t', `=dc-${general.id}:`])).stdout;
    expect(screen).not.toContain('what changed today');
    expect(screen).not.toContain('deploy');
  });

  test('discover spawns sessions for channels that have none', async () => {
    const newer = fake.addChannel('newer');
    const reply = await finalReply(fake.interaction({ name: 'discover', channelId: general.id }));
    expect(String(reply.data?.content)).toContain(`NEW  newer (${newer.id})`);
    expect(await sb.tmux.hasSession(`dc-${newer.id}`)).toBe(true);
  });

  test('every REST call of the daemon goes through its gateway client: one client, one set of rate limits', async () => {
    const before = fake.requests.length;
    await finalReply(fake.interaction({ name: 'discover', channelId: general.id }));
    const calls = fake.requests.slice(before);
    expect(calls.map((r) => `${r.method} ${r.path}`)).toContainEqual(expect.stringMatching(/^GET \/guilds\/\d+\/channels/));
    for (const call of calls) expect(`${call.method} ${call.path}: ${fake.userAgents.get(call)}`).toContain('discord.js/');
  });

  test('a reply longer than 2000 characters becomes a file', () => {
    const message = toMessage({ content: 'x'.repeat(2500) });
    expect(message.content!.length).toBeLessThan(2000);
    expect(message.files?.map((f) => f.name)).toEqual(['reply.txt']);
  });

  test('a command in a channel without a session gets an ephemeral hint', async () => {
    const lonely = fake.addChannel('lonely', { type: 2 });
    const reply = await finalReply(fake.interaction({ name: 'session', channelId: lonely.id, options: sub('status') }));
    expect(reply.data?.flags).toBe(64);
    expect(String(reply.data?.content)).toContain('/discover');
  });

  test('/session sessions lists every session', async () => {
    const reply = await finalReply(fake.interaction({ name: 'session', channelId: general.id, options: sub('sessions') }));
    expect(String(reply.data?.content)).toMatch(new RegExp(`^\`\`\`\n(UP|SUSPENDED) +general \\(${general.id}\\)`));
  });
});

describe('slash daemon: gateway events', () => {
  test('a new channel gets its session within ~2 s (workdir map applied); deleting it removes the session', async () => {
    sb.write('discord-sessions/workdir-map.json', JSON.stringify({ other: '$HOME/other', mapped: '$HOME/other' }));
    const started = Date.now();
    const channel = fake.createChannelEvent('mapped');
    await waitFor(async () => (await sb.tmux.hasSession(`dc-${channel.id}`)) && channel.id in sb.registry(), 4000, 'spawn on CHANNEL_CREATE');
    expect(Date.now() - started).toBeLessThan(3000);
    expect(readFileSync(join(sb.sessionsDir, channel.id, '.workdir'), 'utf8')).toBe(join(sb.home, 'other'));
    fake.deleteChannelEvent(channel.id);
    await waitFor(async () => !(await sb.tmux.hasSession(`dc-${channel.id}`)) && !(channel.id in sb.registry()), 4000, 'kill on CHANNEL_DELETE');
  });

  test('a new thread gets a session with its parent context; archiving it removes the session', async () => {
    fake.addMessage(general.id, 'alice', 'a line from someone else');
    fake.messages.get(general.id)!.push({ id: snowflake(), content: 'the parent context line', timestamp: new Date().toISOString(), author: { id: OWNER_ID, username: 'owner' } });
    const thread = fake.createThreadEvent(general.id, 'design');
    await waitFor(async () => (await sb.tmux.hasSession(`dc-${thread.id}`)) && thread.id in sb.registry(), 4000, 'spawn on THREAD_CREATE');
    const prompt = readFileSync(join(sb.sessionsDir, thread.id, '.system-prompt'), 'utf8');
    expect(prompt).toContain('owner: the parent context line');
    expect(prompt).not.toContain('someone else');
    expect(sb.registry()[thread.id]).toMatchObject({ type: 'thread', parent: general.id, name: 'design' });
    fake.archiveThreadEvent(thread.id);
    await waitFor(async () => !(thread.id in sb.registry()), 4000, 'kill on THREAD_UPDATE archived');
  });
});
