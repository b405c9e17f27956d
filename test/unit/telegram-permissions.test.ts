import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Socket } from 'bun';
import type { CallbackQuery, Message } from 'grammy/types';
import { TELEGRAM } from '../../lib/core/config/platform.ts';
import { linkSecret } from '../../lib/core/store/state.ts';
import {
  createPermissionKeyboard,
  formatPermissionDetails,
  parsePermissionCallback,
  parsePermissionReply,
} from '../../lib/platforms/telegram/permissions.ts';
import { TelegramRouter } from '../../lib/platforms/telegram/router.ts';
import { routerSocketPath } from '../../lib/router/links.ts';
import type { PendingPermission } from '../../lib/router/permissions.ts';
import { FrameDecoder, RouterToBridge, encodeFrame } from '../../lib/router/protocol.ts';
import { FakeTelegram } from '../fakes/telegram.ts';
import { Sandbox, waitFor } from '../helpers.ts';

const OWNER = 123456789;
const STRANGER = 987654321;
/** The owner's private chat with the bot: its session is the one asking. */
const CHAT = OWNER;
/** Another chat of the owner's, with a session of its own. */
const GROUP = -4242;

const request = (over: Partial<PendingPermission> = {}): PendingPermission => ({
  session: String(CHAT),
  request_id: 'abcde',
  tool_name: 'Bash',
  description: 'List the files',
  input_preview: '{"command":"ls -la"}',
  via: 'relay',
  at: 0,
  ...over,
});

describe('permission buttons and text answers (parsing)', () => {
  test.each([
    ['perm:allow:abcde', { action: 'allow', requestId: 'abcde' }],
    ['perm:deny:zzzzz', { action: 'deny', requestId: 'zzzzz' }],
    ['perm:always:mnopq', { action: 'always', requestId: 'mnopq' }],
    ['perm:more:abcde', { action: 'more', requestId: 'abcde' }],
    ['perm:allow:abcdl', undefined],
    ['perm:allow:ABCDE', undefined],
    ['perm:allow:abcdef', undefined],
    ['perm:allow:abcde:-100', undefined],
    ['perm:maybe:abcde', undefined],
    [' perm:allow:abcde', undefined],
    ['perm:allow:abcde\n', undefined],
    ['', undefined],
  ])('callback data %j → %j', (data, expected) => {
    expect(parsePermissionCallback(data)).toEqual(expected as never);
  });

  test.each([
    ['yes abcde', { choice: 'allow', requestId: 'abcde' }],
    ['Y ABCDE', { choice: 'allow', requestId: 'abcde' }],
    ['  no   abcde  ', { choice: 'deny', requestId: 'abcde' }],
    ['N abcde', { choice: 'deny', requestId: 'abcde' }],
    ['always abcde', { choice: 'always', requestId: 'abcde' }],
    ['yes abcde please', undefined],
    ['yes abcdl', undefined],
    ['yes', undefined],
    ['yesabcde', undefined],
    ['maybe abcde', undefined],
    ['ok abcde', undefined],
  ])('message %j → %j', (text, expected) => {
    expect(parsePermissionReply(text)).toEqual(expected as never);
  });

  test('the keyboard: Allow, Deny, Always allow <tool> (long names cut), Details; every callback_data within 64 bytes', () => {
    const keyboard = createPermissionKeyboard(request({ tool_name: 'mcp__plugin_github_github__create_pull_request', request_id: 'qwert' }));
    expect(keyboard.inline_keyboard.map((row) => row.map((b) => b.text))).toEqual([['✅ Allow', '❌ Deny'], ['Always allow mcp__plugin_github_github__…'], ['Details']]);
    const data = keyboard.inline_keyboard.flat().map((b) => ('callback_data' in b ? b.callback_data : ''));
    expect(data).toEqual(['perm:allow:qwert', 'perm:deny:qwert', 'perm:always:qwert', 'perm:more:qwert']);
    for (const d of data) expect(new TextEncoder().encode(d).byteLength).toBeLessThanOrEqual(64);
  });

  test('the details: the whole description and the input, pretty-printed when it is JSON', () => {
    expect(formatPermissionDetails(request())).toBe('Bash (abcde)\n\nList the files\n\n{\n  "command": "ls -la"\n}');
    expect(formatPermissionDetails(request({ input_preview: '{"command":"ls -la", "cut sh' }))).toEndWith('{"command":"ls -la", "cut sh');
  });
});

/** A bridge stand-in on the router socket: says hello with the session's secret, records frames, takes messages. */
async function connectBridge(path: string, session: string, secret: string) {
  const frames: RouterToBridge[] = [];
  const decoder = new FrameDecoder(RouterToBridge, () => {});
  const arrivals: Array<{ frame: RouterToBridge; at: number }> = [];
  const socket: Socket<undefined> = await Bun.connect({
    unix: path,
    socket: {
      data: (sock, chunk) => {
        for (const frame of decoder.push(chunk)) {
          frames.push(frame);
          arrivals.push({ frame, at: performance.now() });
          if (frame.type === 'message') sock.write(encodeFrame({ type: 'taken', id: frame.id }));
        }
      },
    },
  });
  socket.write(encodeFrame({ type: 'hello', session, secret, pid: process.pid }));
  return {
    frames,
    socket,
    ask: (id: string, tool = 'Bash', description = 'List the files', input = '{"command":"ls -la"}') =>
      socket.write(encodeFrame({ type: 'permission-request', request_id: id, tool_name: tool, description, input_preview: input })),
    verdicts: (id: string) => frames.filter((f) => f.type === 'permission' && f.request_id === id),
    messages: () => frames.filter((f) => f.type === 'message').map((f) => (f as { content: string }).content),
  };
}
type Bridge = Awaited<ReturnType<typeof connectBridge>>;

describe('Telegram approvals (grammY → router → bridge, against the fake Bot API)', () => {
  let fake: FakeTelegram;
  let sb: Sandbox;
  let router: TelegramRouter;
  let running: Promise<void>;
  const stop = new AbortController();
  let log: string[];
  let bridge: Bridge;
  let groupBridge: Bridge;
  /** Milliseconds from a request frame written to its message at the fake. */
  const latencies: number[] = [];

  /** The approval message of a request in a chat, once the fake has it. */
  async function approval(chat: number, id: string, since = performance.now()): Promise<Message> {
    const message = await fake.waitFor(() => fake.messages(chat).find((m) => m.reply_markup?.inline_keyboard.flat().some((b) => 'callback_data' in b && b.callback_data.endsWith(`:${id}`))), 5000);
    latencies.push(performance.now() - since);
    return message;
  }

  async function ask(id: string, tool?: string, description?: string, input?: string, on = bridge, chat = CHAT): Promise<Message> {
    const since = performance.now();
    on.ask(id, tool, description, input);
    return approval(chat, id, since);
  }

  function current(chat: number, messageId: number): Message {
    return fake.messages(chat).find((m) => m.message_id === messageId)!;
  }

  async function answerTo(query: CallbackQuery): Promise<Record<string, unknown>> {
    return fake.waitFor(() => fake.callbackAnswer(query), 5000);
  }

  /** The text a command got back in a chat. */
  async function command(chat: number, text: string, pattern: RegExp): Promise<string> {
    const before = fake.sentTo(chat).length;
    fake.command(chat, OWNER, text);
    await waitFor(() => fake.sentTo(chat).slice(before).some((t) => pattern.test(t)), 5000, `the answer to ${text}`);
    return fake.sentTo(chat).slice(before).find((t) => pattern.test(t))!;
  }

  beforeAll(async () => {
    fake = new FakeTelegram().start();
    sb = new Sandbox({
      platform: TELEGRAM,
      token: fake.token,
      config: `TELEGRAM_ALLOWED_USER_ID="${OWNER}"\nTELEGRAM_SESSION_WORKDIR="$HOME/work"\nTELEGRAM_IDLE_TIMEOUT=0`,
    });
    const { ctx, err } = sb.context();
    log = err;
    router = new TelegramRouter({ manager: ctx.manager, clock: ctx.clock, log: ctx.io.log, token: fake.token, apiRoot: fake.url, signal: stop.signal });
    running = router.run();
    // First messages spawn each chat's session (the stand-in claude); a bridge stand-in connects with its secret.
    fake.userMessage(CHAT, { fromId: OWNER, username: 'owner', text: 'hello' });
    fake.userMessage(GROUP, { fromId: OWNER, username: 'owner', text: 'hello group', chatTitle: 'ops' });
    await waitFor(() => [CHAT, GROUP].every((chat) => String(chat) in ctx.manager.registry()), 15_000, 'both sessions spawned');
    const path = routerSocketPath(sb.sessionsDir);
    bridge = await connectBridge(path, String(CHAT), linkSecret(ctx.manager.stateDir(String(CHAT))));
    groupBridge = await connectBridge(path, String(GROUP), linkSecret(ctx.manager.stateDir(String(GROUP))));
    await waitFor(() => bridge.messages().includes('hello') && groupBridge.messages().includes('hello group'), 5000, 'the first messages at the bridges');
  }, 30_000);

  afterAll(async () => {
    const sorted = [...latencies].sort((a, b) => a - b);
    if (sorted.length) {
      const median = sorted[Math.floor(sorted.length / 2)]!;
      console.log(`request frame → approval message at the fake: median ${median.toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms over ${sorted.length}`);
    }
    bridge?.socket.end();
    groupBridge?.socket.end();
    stop.abort();
    await running?.catch(() => {});
    await sb.cleanup();
    await fake.stop();
  });

  test('the bot commands include /allowed, and the poll asks for button presses', async () => {
    expect(fake.myCommands().map((c) => c.command)).toContain('allowed');
    const poll = fake.requests.filter((r) => r.method === 'getUpdates').at(-1)!;
    expect(poll.params.allowed_updates).toEqual(['message', 'callback_query']);
  });

  test('a request is posted in its chat with the keyboard; Allow sends allow to the bridge and settles the message', async () => {
    const name = String(sb.registry()[String(CHAT)]!.name);
    const asked = await ask('abcde');
    expect(asked.text).toStartWith(`🔐 ${name} asks to use Bash\nList the files\n\n{"command":"ls -la"}`);
    expect(asked.text).toEndWith('Or reply "yes abcde", "no abcde" or "always abcde".');
    expect(asked.reply_markup!.inline_keyboard.map((row) => row.map((b) => b.text))).toEqual([['✅ Allow', '❌ Deny'], ['Always allow Bash'], ['Details']]);
    expect(fake.messages(GROUP).some((m) => m.reply_markup)).toBe(false);

    const press = fake.pressButton(CHAT, asked.message_id, 'perm:allow:abcde', { fromId: OWNER, username: 'owner' });
    expect(await answerTo(press)).toMatchObject({ text: '✅ Allowed' });
    await waitFor(() => bridge.verdicts('abcde').length === 1, 5000, 'the verdict');
    expect(bridge.verdicts('abcde')).toEqual([{ v: 1, type: 'permission', request_id: 'abcde', behavior: 'allow' }]);
    await waitFor(() => !current(CHAT, asked.message_id).reply_markup, 5000, 'the keyboard removed');
    const settled = current(CHAT, asked.message_id).text!;
    expect(settled).toMatch(/\n\n✅ Allowed by owner at \d\d:\d\d:\d\d UTC$/);
    expect(settled).toStartWith(`🔐 ${name} asks to use Bash`);
    expect(settled).not.toContain('Or reply');
  });

  test('Deny sends deny', async () => {
    const asked = await ask('bcdef', 'Write', 'Write notes.md');
    const press = fake.pressButton(CHAT, asked.message_id, '❌ Deny', { fromId: OWNER, username: 'owner' });
    expect(await answerTo(press)).toMatchObject({ text: '❌ Denied' });
    await waitFor(() => bridge.verdicts('bcdef').length === 1, 5000, 'the verdict');
    expect(bridge.verdicts('bcdef')[0]).toMatchObject({ behavior: 'deny' });
    await waitFor(() => !current(CHAT, asked.message_id).reply_markup, 5000, 'the keyboard removed');
    expect(current(CHAT, asked.message_id).text).toMatch(/❌ Denied by owner at \d\d:\d\d:\d\d UTC$/);
  });

  test('Always allows, and the next request for that tool is allowed at once without a message; /allowed lists it, /allowed clear forgets it', async () => {
    const asked = await ask('cdefg', 'WebFetch', 'Fetch example.com');
    const press = fake.pressButton(CHAT, asked.message_id, 'Always allow WebFetch', { fromId: OWNER, username: 'owner' });
    expect((await answerTo(press)).text).toBe('✅ Allowed, and WebFetch from now on');
    await waitFor(() => bridge.verdicts('cdefg').length === 1, 5000, 'the verdict');
    expect(bridge.verdicts('cdefg')[0]).toMatchObject({ behavior: 'allow' });
    await waitFor(() => !current(CHAT, asked.message_id).reply_markup, 5000, 'the keyboard removed');
    expect(current(CHAT, asked.message_id).text).toContain('— WebFetch is always allowed in this session from now on');

    const messages = fake.messages(CHAT).length;
    bridge.ask('defgh', 'WebFetch', 'Fetch example.org');
    await waitFor(() => bridge.verdicts('defgh').length === 1, 5000, 'the immediate verdict');
    expect(bridge.verdicts('defgh')[0]).toMatchObject({ behavior: 'allow' });
    expect(fake.messages(CHAT).length).toBe(messages);

    expect(await command(CHAT, '/allowed', /always allowed/i)).toBe('Always allowed in this session: WebFetch. /allowed clear forgets them.');
    expect(await command(CHAT, '/allowed clear', /any more/)).toStartWith('No tool is always allowed in this session any more');
    expect(await command(CHAT, '/allowed', /always allowed/i)).toBe('No tool is always allowed in this session.');
    const again = await ask('efghi', 'WebFetch', 'Fetch example.net');
    expect(bridge.verdicts('efghi')).toEqual([]);
    fake.pressButton(CHAT, again.message_id, 'perm:deny:efghi', { fromId: OWNER });
    await waitFor(() => bridge.verdicts('efghi').length === 1, 5000, 'the verdict');
  });

  test("a stranger's press changes nothing, is answered and logged once", async () => {
    const asked = await ask('fghij');
    const first = fake.pressButton(CHAT, asked.message_id, 'perm:allow:fghij', { fromId: STRANGER, username: 'mallory' });
    const second = fake.pressButton(CHAT, asked.message_id, 'perm:always:fghij', { fromId: STRANGER, username: 'mallory' });
    const details = fake.pressButton(CHAT, asked.message_id, 'perm:more:fghij', { fromId: STRANGER, username: 'mallory' });
    for (const press of [first, second, details]) expect(await answerTo(press)).toEqual({ callback_query_id: press.id, text: 'Only the owner can answer this.' });
    await Bun.sleep(100);
    expect(bridge.verdicts('fghij')).toEqual([]);
    expect(current(CHAT, asked.message_id).reply_markup).toEqual(asked.reply_markup!);
    expect(router.router.pendingPermission(String(CHAT), 'fghij')).toBeDefined();
    expect(log.filter((l) => l.includes('REFUSED') && l.includes(String(STRANGER)) && l.includes('fghij'))).toHaveLength(1);
    expect(fake.sentTo(CHAT).filter((t) => t.includes('ls -la') && !t.startsWith('🔐'))).toEqual([]);
    fake.pressButton(CHAT, asked.message_id, 'perm:allow:fghij', { fromId: OWNER });
    await waitFor(() => bridge.verdicts('fghij').length === 1, 5000, "the owner's verdict");
  });

  test('Details: a short one as an alert; a long one as a reply in the chat; the request still waits', async () => {
    const short = await ask('ghijk', 'Read', 'Read a.txt', '{"file_path":"a.txt"}');
    const press = fake.pressButton(CHAT, short.message_id, 'Details', { fromId: OWNER });
    expect(await answerTo(press)).toMatchObject({ text: 'Read (ghijk)\n\nRead a.txt\n\n{\n  "file_path": "a.txt"\n}', show_alert: true });

    const script = Array.from({ length: 60 }, (_, i) => `echo line ${i}`).join(' && ');
    const long = await ask('hijkm', 'Bash', 'Run a long script', JSON.stringify({ command: script }));
    expect(long.text).toContain('echo line 0');
    const sentBefore = fake.sentTo(CHAT).length;
    const more = fake.pressButton(CHAT, long.message_id, 'perm:more:hijkm', { fromId: OWNER });
    await answerTo(more);
    const reply = fake.calls('sendMessage').filter((p) => String(p.chat_id) === String(CHAT)).slice(sentBefore);
    expect(reply).toHaveLength(1);
    expect(reply[0]!.text).toBe(`Bash (hijkm)\n\nRun a long script\n\n{\n  "command": "${script}"\n}`);
    expect(reply[0]!.reply_parameters).toMatchObject({ message_id: long.message_id });
    expect(bridge.verdicts('ghijk')).toEqual([]);
    expect(bridge.verdicts('hijkm')).toEqual([]);
    expect(current(CHAT, long.message_id).reply_markup).toBeDefined();
    for (const [id, message] of [['ghijk', short], ['hijkm', long]] as const) fake.pressButton(CHAT, message.message_id, `perm:allow:${id}`, { fromId: OWNER });
    await waitFor(() => bridge.verdicts('ghijk').length + bridge.verdicts('hijkm').length === 2, 5000, 'the verdicts');
  });

  test('"yes <id>" and "no <id>" by text decide and are not queued for the session; other text is a message', async () => {
    const one = await ask('ijkmn');
    const two = await ask('jkmno', 'Edit');
    const three = await ask('kmnop', 'Write');
    const yes = fake.userMessage(CHAT, { fromId: OWNER, username: 'owner', text: 'yes ijkmn' });
    fake.userMessage(CHAT, { fromId: OWNER, username: 'owner', text: 'N JKMNO' });
    fake.userMessage(CHAT, { fromId: STRANGER, username: 'mallory', text: 'y kmnop', chatType: 'private' });
    await waitFor(() => bridge.verdicts('ijkmn').length === 1 && bridge.verdicts('jkmno').length === 1, 5000, 'the verdicts');
    expect(bridge.verdicts('ijkmn')[0]).toMatchObject({ behavior: 'allow' });
    expect(bridge.verdicts('jkmno')[0]).toMatchObject({ behavior: 'deny' });
    await waitFor(() => !current(CHAT, one.message_id).reply_markup && !current(CHAT, two.message_id).reply_markup, 5000, 'both settled');
    expect(current(CHAT, one.message_id).text).toMatch(/✅ Allowed by owner at/);
    expect(current(CHAT, two.message_id).text).toMatch(/❌ Denied by owner at/);
    expect(fake.calls('setMessageReaction')).toContainEqual({ chat_id: String(CHAT), message_id: yes.message_id, reaction: [{ type: 'emoji', emoji: '👍' }] });
    // Not queued: the session's inbox stays empty and its bridge got no message.
    expect(router.router.inbox(String(CHAT)).size).toBe(0);
    expect(bridge.messages()).toEqual(['hello']);
    // The stranger's "y" did nothing.
    expect(bridge.verdicts('kmnop')).toEqual([]);
    expect(current(CHAT, three.message_id).reply_markup).toBeDefined();

    // "always" by text; then "yes" for a request not waiting here is an ordinary message.
    fake.userMessage(CHAT, { fromId: OWNER, text: 'always kmnop' });
    await waitFor(() => bridge.verdicts('kmnop').length === 1, 5000, 'the verdict');
    expect(await command(CHAT, '/allowed', /always allowed/i)).toContain('Write');
    await command(CHAT, '/allowed clear', /any more/);
    fake.userMessage(CHAT, { fromId: OWNER, text: 'yes zzzzz' });
    fake.userMessage(CHAT, { fromId: OWNER, text: 'yes, go ahead' });
    await waitFor(() => bridge.messages().length === 3, 5000, 'the ordinary messages');
    expect(bridge.messages()).toEqual(['hello', 'yes zzzzz', 'yes, go ahead']);
  });

  test("a press decides only the request of the chat its message is in, never another chat's", async () => {
    const asked = await ask('mnopq');
    // The same request id pressed on a message in the owner's other chat (forged data on a stale client).
    const elsewhere = fake.messages(GROUP)[0]!;
    const forged = fake.pressButton(GROUP, elsewhere.message_id, 'perm:allow:mnopq', { fromId: OWNER, stale: true });
    expect((await answerTo(forged)).text).toBe('This request was already answered.');
    expect(bridge.verdicts('mnopq')).toEqual([]);
    expect(groupBridge.verdicts('mnopq')).toEqual([]);
    // Data that is not a permission button is answered and ignored.
    for (const data of ['perm:allow:mnopq:-4242', 'perm:allow:MNOPQ', 'something else']) {
      const junk = fake.pressButton(CHAT, asked.message_id, data, { fromId: OWNER, stale: true });
      expect(await answerTo(junk)).toEqual({ callback_query_id: junk.id });
    }
    expect(bridge.verdicts('mnopq')).toEqual([]);
    // The group's own request with the same id is its own.
    const inGroup = await ask('mnopq', 'Bash', 'In the group', '{}', groupBridge, GROUP);
    fake.pressButton(GROUP, inGroup.message_id, 'perm:deny:mnopq', { fromId: OWNER });
    await waitFor(() => groupBridge.verdicts('mnopq').length === 1, 5000, "the group's verdict");
    expect(groupBridge.verdicts('mnopq')[0]).toMatchObject({ behavior: 'deny' });
    expect(bridge.verdicts('mnopq')).toEqual([]);
    fake.pressButton(CHAT, asked.message_id, 'perm:allow:mnopq', { fromId: OWNER });
    await waitFor(() => bridge.verdicts('mnopq').length === 1, 5000, "the chat's verdict");
    expect(bridge.verdicts('mnopq')[0]).toMatchObject({ behavior: 'allow' });
  });

  test('answered in the terminal: the message says so and a later press is told it was already answered', async () => {
    const asked = await ask('nopqr');
    bridge.socket.write(encodeFrame({ type: 'permission-resolved', request_id: 'nopqr' }));
    await waitFor(() => !current(CHAT, asked.message_id).reply_markup, 5000, 'the keyboard removed');
    expect(current(CHAT, asked.message_id).text).toMatch(/↩︎ Answered in the terminal at \d\d:\d\d:\d\d UTC$/);
    const late = fake.pressButton(CHAT, asked.message_id, 'perm:allow:nopqr', { fromId: OWNER, stale: true });
    expect((await answerTo(late)).text).toBe('This request was already answered.');
    // A late answer by text is an ordinary message.
    fake.userMessage(CHAT, { fromId: OWNER, text: 'no nopqr' });
    await waitFor(() => bridge.messages().includes('no nopqr'), 5000, 'the late text as a message');
    expect(bridge.verdicts('nopqr')).toEqual([]);
  });

  test('a keyboard left from before a router restart is taken away when pressed', async () => {
    const old = await router.bot.api.sendMessage(CHAT, '🔐 an old request', { reply_markup: createPermissionKeyboard(request({ request_id: 'pqrst' })) });
    const press = fake.pressButton(CHAT, old.message_id, 'perm:allow:pqrst', { fromId: OWNER });
    expect((await answerTo(press)).text).toBe('This request was already answered.');
    await waitFor(() => !current(CHAT, old.message_id).reply_markup, 5000, 'the stale keyboard removed');
    expect(current(CHAT, old.message_id).text).toBe('🔐 an old request');
  });
});
