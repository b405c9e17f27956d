import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { TELEGRAM } from '../../lib/core/config/platform.ts';
import { FakeTelegram } from '../fakes/telegram.ts';
import { ROOT, Sandbox, waitFor } from '../helpers.ts';

const OWNER = 123456789;
const STRANGER = 987654321;
const CLAUDE_MCP = join(ROOT, 'test/fakes/claude-mcp');

let fake: FakeTelegram;
let sb: Sandbox;
let serve: Subprocess<'ignore', 'pipe', 'pipe'> | undefined;
const log: string[] = [];

function startServe(): Subprocess<'ignore', 'pipe', 'pipe'> {
  const proc = Bun.spawn(['bun', join(ROOT, 'bin/telegram-session-manager.ts'), 'serve'], {
    env: sb.env as Record<string, string>,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) log.push(...decoder.decode(chunk).split('\n').filter(Boolean));
  })();
  serve = proc;
  return proc;
}

async function stopServe(): Promise<void> {
  serve?.kill('SIGTERM');
  await serve?.exited;
  serve = undefined;
}

/** What the session's claude received through the bridge, in order. */
function received(chat: number): Array<{ content: string; meta: Record<string, string> }> {
  const file = join(sb.sessionsDir, String(chat), 'channel-notifications.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

beforeAll(() => {
  fake = new FakeTelegram().start();
  sb = new Sandbox({
    platform: TELEGRAM,
    token: fake.token,
    env: { TELEGRAM_API_URL: fake.url, CLAUDE_BIN: CLAUDE_MCP },
    config: `TELEGRAM_ALLOWED_USER_ID="${OWNER}"\nTELEGRAM_SESSION_WORKDIR="$HOME/work"\nTELEGRAM_IDLE_TIMEOUT=0`,
  });
  startServe();
});

afterAll(async () => {
  await stopServe();
  await sb.cleanup();
  await fake.stop();
});

describe('telegram router end to end (grammY → router → bridge → MCP notification)', () => {
  test("a new chat's first message spawns its session, which receives it as a channel notification", async () => {
    fake.userMessage(OWNER, { fromId: OWNER, username: 'owner', text: 'hello claude' });
    await waitFor(() => received(OWNER).length === 1, 20_000, 'the first notification');
    const [first] = received(OWNER);
    expect(first!.content).toBe('hello claude');
    expect(first!.meta).toMatchObject({ chat_id: String(OWNER), user: 'owner', user_id: String(OWNER) });
    expect(sb.registry()[String(OWNER)]).toMatchObject({ type: 'chat', tmux: `tg-${OWNER}` });
    const run = sb.claudeRuns().at(-1)!;
    expect(run.argv).toContain('--dangerously-load-development-channels');
    expect(run.argv).not.toContain('--channels');
    expect(fake.calls('sendChatAction').some((p) => String(p.chat_id) === String(OWNER))).toBe(true);
    expect(fake.confirmedOffset).toBeGreaterThan(0);
  }, 30_000);

  test("the session's reply tool answers in its chat", async () => {
    const dir = join(sb.sessionsDir, String(OWNER), 'tool-requests');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'r1.json'), JSON.stringify({ name: 'reply', arguments: { chat_id: String(OWNER), text: 'hi from the session' } }));
    await fake.waitForSent(OWNER, 1, 5000);
    expect(fake.sentTo(OWNER)).toContain('hi from the session');
  });

  test("a stranger's messages and commands are ignored and logged; no session starts", async () => {
    fake.userMessage(STRANGER, { fromId: STRANGER, username: 'mallory', text: 'let me in' });
    fake.command(STRANGER, STRANGER, '/sessions');
    await waitFor(() => log.some((l) => l.includes('REFUSED message') && l.includes(String(STRANGER))) && log.some((l) => l.includes('REFUSED /sessions')), 5000, 'the log lines');
    expect(String(STRANGER) in sb.registry()).toBe(false);
    expect(fake.sentTo(STRANGER)).toEqual([]);
  });

  test('owner commands: /status, /sessions, /kill, then a message wakes it and is delivered', async () => {
    fake.command(OWNER, OWNER, '/status');
    await waitFor(() => fake.sentTo(OWNER).some((t) => t.startsWith('UP')), 5000, '/status answer');
    fake.command(OWNER, OWNER, '/sessions');
    await waitFor(() => fake.sentTo(OWNER).some((t) => t.includes(`(${OWNER})`) && t.startsWith('UP')), 5000, '/sessions answer');
    fake.command(OWNER, OWNER, '/kill');
    await waitFor(() => fake.sentTo(OWNER).some((t) => t.startsWith('Stopped')), 5000, '/kill answer');
    expect(await sb.tmux.hasSession(`tg-${OWNER}`)).toBe(false);
    fake.userMessage(OWNER, { fromId: OWNER, text: 'are you back?' });
    await waitFor(() => received(OWNER).some((n) => n.content === 'are you back?'), 20_000, 'delivery after wake');
  }, 30_000);

  test('in a group, answers that show private data go to the owner’s own chat, with a pointer in the group', async () => {
    const GROUP = -1001234567890;
    const inGroup = () => fake.sentTo(GROUP);
    fake.command(GROUP, OWNER, '/sessions', { chatTitle: 'team room' });
    await waitFor(() => fake.sentTo(OWNER).some((t) => t.startsWith(`/sessions in team room (${GROUP}):\n`)), 10_000, 'the private answer');
    expect(fake.sentTo(OWNER).find((t) => t.startsWith('/sessions in team room'))).toContain(`(${OWNER})`);
    await waitFor(() => inGroup().length === 1, 5000, 'the pointer');
    expect(inGroup()).toEqual(['📬 Sent to you in our private chat (it shows private data).']);

    // The owner never opened a private chat with the bot: the group is told so, and still not the answer.
    fake.fail(/^sendMessage$/, 403, 1, 1, "Forbidden: bot can't initiate conversation with a user");
    fake.command(GROUP, OWNER, '/status', { chatTitle: 'team room' });
    await waitFor(() => inGroup().length === 2, 10_000, 'the refusal');
    expect(inGroup()[1]).toMatch(/^This answer shows private data, so it is not posted here, and I cannot write to you privately: open a chat with @\S+, send \/start, then ask again\.$/);

    // What shows nothing private is answered in the group itself.
    fake.command(GROUP, OWNER, '/profile', { chatTitle: 'team room' });
    await waitFor(() => inGroup().length === 3, 10_000, 'the /profile answer');
    expect(inGroup().join('\n')).not.toContain(`(${OWNER})`);
    expect(inGroup().join('\n')).not.toContain(sb.home);
  }, 30_000);

  test('/status shows a new conversation; /profile shows the profiles, refuses an unknown one and switches in the same conversation', async () => {
    const reason = 'Claude Code could not continue the conversation (Error: Session ID x is already in use.)';
    writeFileSync(join(sb.sessionsDir, String(OWNER), '.new-conversation'), `${JSON.stringify({ at: new Date().toISOString(), reason, sessionId: 'x', told: true })}\n`);
    const answer = async (command: string, pattern: RegExp) => {
      const before = fake.sentTo(OWNER).length;
      fake.command(OWNER, OWNER, command);
      await waitFor(() => fake.sentTo(OWNER).slice(before).some((t) => pattern.test(t)), 10_000, `the answer to ${command}`);
      return fake.sentTo(OWNER).slice(before).find((t) => pattern.test(t))!;
    };
    expect(await answer('/status', /^UP/)).toContain(`new conversation since ${new Date().toISOString().slice(0, 10)}`);

    sb.write('telegram-sessions/profiles.env', '[work]\nWORK_FLAG=1\n');
    expect(await answer('/profile', /^profile:/)).toBe('profile: default · available: default, work');
    expect(await answer('/profile nope', /^⚠️/)).toContain('Profile "nope" is not defined.');
    const runs = sb.claudeRuns().length;
    const switched = await answer('/profile work', /^profile →/);
    expect(switched).toContain('profile=work  (resumed)');
    expect(JSON.parse(sb.read('telegram-sessions/channel-profiles.json'))).toEqual({ owner: 'work' });
    expect((await sb.waitForRuns(runs + 1)).at(-1)!.env.WORK_FLAG).toBe('1');
    fake.userMessage(OWNER, { fromId: OWNER, text: 'after the switch' });
    await waitFor(() => received(OWNER).some((n) => n.content === 'after the switch'), 20_000, 'delivery after the switch');
  }, 30_000);

  test('100 messages across 5 chats, with serve and one session restarted mid-way: each delivered once, in order per chat', async () => {
    const chats = [-1001, -1002, -1003, -1004, -1005];
    const sentOrder = new Map<number, string[]>(chats.map((c) => [c, []]));
    const send = (i: number) => {
      const chat = chats[i % chats.length]!;
      const text = `m${String(i).padStart(3, '0')}`;
      sentOrder.get(chat)!.push(text);
      fake.userMessage(chat, { fromId: OWNER, username: 'owner', text, chatType: 'group', chatTitle: `group ${chat}` });
    };
    for (let i = 0; i < 40; i++) send(i);
    await waitFor(() => chats.every((c) => received(c).length >= 4), 40_000, 'the first deliveries');
    // Restart the router in the middle of the burst.
    await stopServe();
    for (let i = 40; i < 70; i++) send(i);
    startServe();
    // Restart one session in the middle too.
    await waitFor(() => received(-1003).length >= 10, 30_000, 'chat -1003 catching up');
    await sb.tmux.killSession('tg--1003');
    const respawn = await sb.context().ctx.manager.respawnDead();
    expect(respawn.respawned.map((r) => r.id)).toContain('-1003');
    for (let i = 70; i < 100; i++) send(i);
    await waitFor(() => chats.every((c) => received(c).length >= 20), 60_000, 'all 100 deliveries');
    await Bun.sleep(500);
    for (const chat of chats) {
      expect(received(chat).map((n) => n.content)).toEqual(sentOrder.get(chat)!);
      expect(readdirSync(join(sb.sessionsDir, String(chat), 'inbox')).filter((f) => f.endsWith('.json'))).toEqual([]);
    }
    expect(fake.pending()).toEqual([]);
  }, 120_000);

  test('an update that cannot be queued (a config typo, a full disk) is not confirmed, and is delivered once when it can', async () => {
    const chat = -1010;
    await waitFor(() => fake.polling, 20_000, 'the router polling');
    const config = sb.read('telegram-sessions/config.env');
    // A typo in config.env while the router runs: one line in its log, and the settings it had stay in use.
    sb.write('telegram-sessions/config.env', `${config}BROKEN LINE WITHOUT EQUALS\n`);
    fake.userMessage(chat, { fromId: OWNER, text: 'during the typo', chatType: 'group', chatTitle: 'typo' });
    await waitFor(() => received(chat).some((n) => n.content === 'during the typo'), 30_000, 'delivery with the previous settings');
    expect(log.filter((l) => l.includes('changed but does not load'))).toEqual([expect.stringMatching(/config\.env line \d+/)]);
    sb.write('telegram-sessions/config.env', config);
    // A full disk for this chat's inbox: the folder cannot take the file.
    const inbox = join(sb.sessionsDir, String(chat), 'inbox');
    rmSync(inbox, { recursive: true, force: true });
    writeFileSync(inbox, 'a file where the folder should be');
    const full = fake.userMessage(chat, { fromId: OWNER, text: 'while the disk is full', chatType: 'group', chatTitle: 'typo' });
    const fullUpdate = await (async () => {
      await waitFor(() => fake.updates.some((u) => u.message?.chat.id === chat && u.message.message_id === full.message_id), 5000, 'the update');
      return fake.updates.find((u) => u.message?.chat.id === chat && u.message.message_id === full.message_id)!;
    })();
    await waitFor(() => log.some((l) => l.includes('not confirmed')), 10_000, 'the refusal to confirm');
    expect(fake.confirmedOffset).toBeLessThanOrEqual(fullUpdate.update_id);
    rmSync(inbox);
    await waitFor(() => received(chat).some((n) => n.content === 'while the disk is full'), 30_000, 'delivery once there is room');
    await Bun.sleep(300);
    expect(received(chat).map((n) => n.content)).toEqual(['during the typo', 'while the disk is full']);
    // The next message read the mended config.env.
    expect(log.filter((l) => l.includes('loaded again'))).toHaveLength(1);
  }, 90_000);

  test('SIGKILL of the router in the middle of a batch: every message is delivered, none twice', async () => {
    const chat = -1020;
    await waitFor(() => fake.polling, 20_000, 'the router polling');
    const texts = Array.from({ length: 60 }, (_, i) => `k${String(i).padStart(2, '0')}`);
    for (const text of texts) fake.userMessage(chat, { fromId: OWNER, text, chatType: 'group', chatTitle: 'kill' });
    // Kill it while it is taking the batch in: some updates queued, none of them confirmed yet.
    await waitFor(() => existsSync(join(sb.sessionsDir, String(chat), 'inbox')) && readdirSync(join(sb.sessionsDir, String(chat), 'inbox')).some((f) => f.endsWith('.json')), 20_000, 'the first queued message');
    serve!.kill('SIGKILL');
    await serve!.exited;
    serve = undefined;
    startServe();
    await waitFor(() => received(chat).length >= texts.length, 60_000, 'all deliveries');
    await Bun.sleep(500);
    expect(received(chat).map((n) => n.content)).toEqual(texts);
    expect(fake.pending()).toEqual([]);
  }, 90_000);
});
