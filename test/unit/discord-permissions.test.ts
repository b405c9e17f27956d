/**
 * Approvals from the phone on Discord: a session's permission request (a bridge stand-in on the real
 * router socket) becomes one message with buttons in the session's own chat; the owner's click goes
 * back as the verdict and the message shows it. Real discord.js against the Discord fake, real tmux
 * with the stand-in claude (the sessions only need to exist).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Socket } from 'bun';
import { ApplicationCommandOptionType as Opt, type APIApplicationCommandInteractionDataOption } from 'discord.js';
import { linkSecret } from '../../lib/core/store/state.ts';
import { systemClock } from '../../lib/core/util/clock.ts';
import { formatAlwaysLabel, parsePermissionCustomId } from '../../lib/platforms/discord/permissions.ts';
import { runSlashDaemon } from '../../lib/platforms/discord/slash/daemon.ts';
import { routerSocketPath } from '../../lib/router/links.ts';
import { FrameDecoder, RouterToBridge, encodeFrame } from '../../lib/router/protocol.ts';
import { FakeDiscord, type FakeChannel, type FakeInteractionHandle, type FakeMessage } from '../fakes/discord.ts';
import { OWNER_ID, Sandbox, waitFor } from '../helpers.ts';

const OWNER = { id: OWNER_ID, username: 'owner' };
const STRANGER = { id: '1999999999999999999', username: 'mallory' };
/** How long something that should NOT happen is given to happen anyway. */
const SETTLE_MS = 500;
const PING_MS = 2000;
const LETTERS = 'abcdefghijkmnopqrstuvwxyz';

let fake: FakeDiscord;
let sb: Sandbox;
let general: FakeChannel;
let ops: FakeChannel;
let dm: FakeChannel;
let stop: AbortController;
let daemon: Promise<void>;
let logLines: string[];
const bridges: Bridge[] = [];
/** Milliseconds from a request frame to its message at the fake. */
const latencies: number[] = [];
let requests = 0;

interface Bridge {
  session: string;
  frames: RouterToBridge[];
  socket: Socket<undefined>;
  send(frame: Parameters<typeof encodeFrame>[0]): void;
  verdict(requestId: string): RouterToBridge | undefined;
  close(): void;
}

/** A bridge stand-in for a session on the real router socket: says hello with the session's secret, pings, records frames. */
async function connectBridge(session: string): Promise<Bridge> {
  const frames: RouterToBridge[] = [];
  const decoder = new FrameDecoder(RouterToBridge, () => {});
  const secret = linkSecret(sb.context().ctx.manager.stateDir(session));
  const socket: Socket<undefined> = await Bun.connect({
    unix: routerSocketPath(sb.sessionsDir),
    socket: { data: (_sock, chunk) => void frames.push(...decoder.push(chunk)) },
  });
  const send = (frame: Parameters<typeof encodeFrame>[0]) => void socket.write(encodeFrame(frame));
  send({ type: 'hello', session, secret, pid: process.pid });
  const pinger = setInterval(() => send({ type: 'ping' }), PING_MS);
  await waitFor(() => frames.some((f) => f.type === 'welcome'), 3000, `the welcome of ${session}'s bridge`);
  const bridge: Bridge = {
    session,
    frames,
    socket,
    send,
    verdict: (id) => frames.find((f) => f.type === 'permission' && f.request_id === id),
    close: () => {
      clearInterval(pinger);
      socket.end();
    },
  };
  bridges.push(bridge);
  return bridge;
}

/** A fresh request id: 5 letters without `l`. */
function nextRequestId(): string {
  let n = requests++;
  let id = '';
  for (let i = 0; i < 5; i++, n = Math.floor(n / LETTERS.length)) id = LETTERS[n % LETTERS.length] + id;
  return id;
}

const inChannel = (channelId: string) => fake.messages.get(channelId) ?? [];
const messageOf = (channelId: string, requestId: string) => inChannel(channelId).find((m) => m.content.includes(`«${requestId}»`));
const buttonsOf = (message: FakeMessage) =>
  ((message.components ?? []) as Array<{ components: Array<{ style: number; label: string; custom_id: string }> }>).flatMap((row) => row.components);

/**
 * Sends a permission request from a bridge and waits for its message in `channelId` (the request's
 * description carries its id, so a settled message without buttons is still found); records how long it took.
 */
async function ask(bridge: Bridge, channelId: string, tool = 'Bash', preview = 'rm -rf build/') {
  const request_id = nextRequestId();
  const sentAt = Date.now();
  bridge.send({ type: 'permission-request', request_id, tool_name: tool, description: `Run a command «${request_id}»`, input_preview: preview });
  await waitFor(() => messageOf(channelId, request_id) !== undefined, 5000, `the message of request ${request_id}`);
  const message = messageOf(channelId, request_id)!;
  latencies.push(Date.parse(message.timestamp) - sentAt);
  return { request_id, message };
}

function click(channelId: string, messageId: string, action: string, requestId: string, user = OWNER): FakeInteractionHandle {
  return fake.componentInteraction({ channelId, messageId, customId: `perm:${action}:${channelId}:${requestId}`, user });
}

async function settled(channelId: string, messageId: string, text: string): Promise<FakeMessage> {
  const find = () => inChannel(channelId).find((m) => m.id === messageId)!;
  await waitFor(() => find().content.includes(text) && find().components?.length === 0, 5000, `"${text}" on the message`);
  return find();
}

const sub = (name: string, options: APIApplicationCommandInteractionDataOption[] = []): APIApplicationCommandInteractionDataOption[] => [
  { type: Opt.Subcommand, name, options } as APIApplicationCommandInteractionDataOption,
];

/** The final message of a command: the edited original, or the ephemeral answer of an error. */
async function finalReply(handle: FakeInteractionHandle) {
  const done = (r: ReturnType<FakeInteractionHandle['replies']>[number]) => r.kind === 'edit-original' || r.kind === 'followup' || (r.kind === 'callback' && r.type === 4);
  await waitFor(() => handle.replies().some(done), 8000, 'a reply');
  return handle.replies().find(done)!;
}

beforeAll(async () => {
  fake = new FakeDiscord().start();
  general = fake.addChannel('general');
  ops = fake.addChannel('ops');
  dm = fake.dmChannel(OWNER);
  sb = new Sandbox({
    env: { DISCORD_API_URL: fake.url },
    config: [`DISCORD_ALLOWED_USER_ID="${OWNER_ID}"`, `DISCORD_GUILD_ID="${fake.guildId}"`, 'DISCORD_SESSION_WORKDIR="$HOME/work"', 'DISCORD_IDLE_TIMEOUT=0', 'DISCORD_DMS=on'].join('\n'),
  });
  const { ctx, err } = sb.context();
  await ctx.manager.spawn(general.id, { name: 'general', type: 'channel' });
  await ctx.manager.spawn(ops.id, { name: 'ops', type: 'channel' });
  await ctx.manager.spawn(dm.id, { name: 'dm-owner', type: 'chat' });
  logLines = err;
  stop = new AbortController();
  daemon = runSlashDaemon({ manager: ctx.manager, clock: systemClock, log: ctx.io.log, signal: stop.signal, runCommand: async () => ({ code: 0, output: '' }) });
  await waitFor(() => logLines.some((l) => l.includes('Slash daemon connected')) && fake.gatewayClients === 1, 10_000, 'the slash daemon');
}, 30_000);

afterAll(async () => {
  for (const bridge of bridges) bridge.close();
  stop?.abort();
  await daemon;
  await sb?.cleanup();
  await fake?.stop();
  if (latencies.length) {
    const sorted = [...latencies].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    console.log(`request frame → message at the fake: median ${median} ms, min ${sorted[0]} ms, max ${sorted.at(-1)} ms over ${sorted.length} requests`);
  }
});

describe('custom_id and labels (pure)', () => {
  test.each([
    ['perm:allow:1300000000000000001:abcde', { action: 'allow', session: '1300000000000000001', requestId: 'abcde' }],
    ['perm:deny:12345:zzzzz', { action: 'deny', session: '12345', requestId: 'zzzzz' }],
    ['perm:always:1300000000000000001:abcde', { action: 'always', session: '1300000000000000001', requestId: 'abcde' }],
    ['perm:details:1300000000000000001:abcde', { action: 'details', session: '1300000000000000001', requestId: 'abcde' }],
    ['perm:allow:1300000000000000001:abcdl', undefined],
    ['perm:allow:1300000000000000001:ABCDE', undefined],
    ['perm:allow:1300000000000000001:abcdef', undefined],
    ['perm:yes:1300000000000000001:abcde', undefined],
    ['perm:allow:13000000000000000011234:abcde', undefined],
    ['perm:allow:-100123:abcde', undefined],
    ['perm:allow:1300000000000000001:abcde\n', undefined],
    ['perm:allow:1300000000000000001:abcde:x', undefined],
    ['perm:allow:../1:abcde', undefined],
    [`perm:allow:1300000000000000001:abcde${' '.repeat(100)}`, undefined],
    ['', undefined],
  ])('%j → %j', (customId, expected) => {
    expect(parsePermissionCustomId(customId)).toEqual(expected as never);
  });

  test('the Always label fits a button (80 characters), a long tool name cut', () => {
    expect(formatAlwaysLabel('Bash')).toBe('Always allow Bash in this session');
    const long = formatAlwaysLabel(`mcp__${'x'.repeat(190)}`);
    expect(long.length).toBe(80);
    expect(long).toStartWith('Always allow mcp__xxx');
    expect(long).toEndWith('… in this session');
  });
});

describe('approval messages and buttons', () => {
  let bridge: Bridge;
  beforeAll(async () => {
    bridge = await connectBridge(general.id);
  });

  test("a request becomes one message in the session's own channel: name, tool, description, preview, four buttons", async () => {
    const opsBefore = inChannel(ops.id).length;
    const { request_id, message } = await ask(bridge, general.id, 'Bash', 'npm publish --access public');
    expect(message.author.id).toBe(fake.botUser.id);
    expect(message.content).toContain('general asks to use Bash');
    expect(message.content).toContain(`Run a command «${request_id}»`);
    expect(message.content).toContain('npm publish --access public');
    expect(buttonsOf(message)).toEqual([
      { type: 2, style: 3, label: 'Allow', custom_id: `perm:allow:${general.id}:${request_id}` },
      { type: 2, style: 4, label: 'Deny', custom_id: `perm:deny:${general.id}:${request_id}` },
      { type: 2, style: 2, label: 'Always allow Bash in this session', custom_id: `perm:always:${general.id}:${request_id}` },
      { type: 2, style: 2, label: 'Details', custom_id: `perm:details:${general.id}:${request_id}` },
    ] as never);
    // Nobody is pinged by what a request quotes.
    const post = fake.requests.findLast((r) => r.method === 'POST' && r.path === `/channels/${general.id}/messages`);
    expect(post?.body).toMatchObject({ allowed_mentions: { parse: [] } });
    expect(inChannel(ops.id)).toHaveLength(opsBefore);
    expect(bridge.verdict(request_id)).toBeUndefined();
    const handle = click(general.id, message.id, 'allow', request_id);
    expect(await handle.waitForReply()).toMatchObject({ kind: 'callback', type: 6 });
    await waitFor(() => bridge.verdict(request_id) !== undefined, 3000, 'the verdict');
  });

  test("the owner's Allow: the bridge gets allow, the message says who allowed it and when, and its buttons are gone", async () => {
    const { request_id, message } = await ask(bridge, general.id);
    const handle = click(general.id, message.id, 'allow', request_id);
    expect(await handle.waitForReply()).toMatchObject({ kind: 'callback', type: 6 });
    await waitFor(() => bridge.verdict(request_id) !== undefined, 3000, 'the verdict');
    expect(bridge.verdict(request_id)).toEqual({ v: 1, type: 'permission', request_id, behavior: 'allow' });
    const after = await settled(general.id, message.id, 'Allowed by owner at ');
    expect(after.content).toMatch(/✅ Allowed by owner at \d\d:\d\d:\d\d UTC$/);
    expect(after.content).toContain('general asks to use Bash');
    expect(handle.replies()).toHaveLength(1);
    expect(logLines.some((l) => l.includes(`PERMISSION  dc-${general.id} Bash (${request_id}): allow by user ${OWNER_ID}`))).toBe(true);
  });

  test("the owner's Deny: the bridge gets deny and the message says so", async () => {
    const { request_id, message } = await ask(bridge, general.id);
    const handle = click(general.id, message.id, 'deny', request_id);
    expect(await handle.waitForReply()).toMatchObject({ kind: 'callback', type: 6 });
    await waitFor(() => bridge.verdict(request_id) !== undefined, 3000, 'the verdict');
    expect(bridge.verdict(request_id)).toMatchObject({ behavior: 'deny' });
    expect((await settled(general.id, message.id, 'Denied by owner at ')).content).toMatch(/❌ Denied by owner at \d\d:\d\d:\d\d UTC$/);
  });

  test('Always: allowed now, the next request for the tool is allowed at once without a message; /session allowed lists it and clear forgets it', async () => {
    const first = await ask(bridge, general.id, 'Edit', 'src/a.ts');
    expect(buttonsOf(first.message)[2]?.label).toBe('Always allow Edit in this session');
    expect(await click(general.id, first.message.id, 'always', first.request_id).waitForReply()).toMatchObject({ type: 6 });
    await waitFor(() => bridge.verdict(first.request_id) !== undefined, 3000, 'the verdict');
    expect(bridge.verdict(first.request_id)).toMatchObject({ behavior: 'allow' });
    await settled(general.id, first.message.id, 'Edit is always allowed in this session from now on');

    const count = inChannel(general.id).length;
    const second = nextRequestId();
    bridge.send({ type: 'permission-request', request_id: second, tool_name: 'Edit', description: 'Edit a file', input_preview: 'src/b.ts' });
    await waitFor(() => bridge.verdict(second) !== undefined, 3000, 'the immediate verdict');
    expect(bridge.verdict(second)).toMatchObject({ behavior: 'allow' });
    await Bun.sleep(SETTLE_MS);
    expect(inChannel(general.id)).toHaveLength(count);

    const listed = await finalReply(fake.interaction({ name: 'session', channelId: general.id, options: sub('allowed') }));
    expect(String(listed.data?.content)).toContain('Always allowed in this session: Edit.');
    const cleared = await finalReply(fake.interaction({ name: 'session', channelId: general.id, options: sub('allowed', [{ type: Opt.Boolean, name: 'clear', value: true }]) }));
    expect(String(cleared.data?.content)).toContain('No tool is always allowed in this session any more');
    expect(String((await finalReply(fake.interaction({ name: 'session', channelId: general.id, options: sub('allowed') }))).data?.content)).toBe('No tool is always allowed in this session.');

    // Forgotten: Edit asks again.
    const third = await ask(bridge, general.id, 'Edit', 'src/c.ts');
    expect(bridge.verdict(third.request_id)).toBeUndefined();
    await click(general.id, third.message.id, 'deny', third.request_id).waitForReply();
    await waitFor(() => bridge.verdict(third.request_id) !== undefined, 3000, 'the verdict');
  });

  test("a stranger's click does nothing to the request: an ephemeral refusal, logged once, the message unchanged", async () => {
    const { request_id, message } = await ask(bridge, general.id);
    const before = structuredClone(inChannel(general.id).find((m) => m.id === message.id));
    for (const action of ['allow', 'always', 'details']) {
      const reply = await click(general.id, message.id, action, request_id, STRANGER).waitForReply();
      expect(reply).toMatchObject({ kind: 'callback', type: 4, data: { content: 'Only the owner can answer this.', flags: 64 } });
    }
    await Bun.sleep(SETTLE_MS);
    expect(bridge.verdict(request_id)).toBeUndefined();
    expect(inChannel(general.id).find((m) => m.id === message.id)).toEqual(before);
    const refusals = logLines.filter((l) => l.includes('REFUSED') && l.includes(`perm:allow:${general.id}:${request_id}`));
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toContain(`from user ${STRANGER.id} (mallory)`);
    // Still waiting for the owner.
    await click(general.id, message.id, 'allow', request_id).waitForReply();
    await waitFor(() => bridge.verdict(request_id) !== undefined, 3000, "the owner's verdict");
  });

  test('Details: the owner alone gets the whole description and input preview, ephemerally', async () => {
    const preview = `cat <<'EOF' > notes.txt\n${'line of text '.repeat(60)}\nEOF`;
    const { request_id, message } = await ask(bridge, general.id, 'Bash', preview);
    // The message shows the first 500 characters of the preview; Details shows all of it.
    expect(message.content).not.toContain(preview);
    const reply = await click(general.id, message.id, 'details', request_id).waitForReply();
    expect(reply).toMatchObject({ kind: 'callback', type: 4, data: { flags: 64 } });
    const content = String(reply.data?.content);
    expect(content).toContain(`Run a command «${request_id}»`);
    expect(content).toContain(preview);
    expect(content).toContain(`request ${request_id}`);
    // Details decides nothing.
    await Bun.sleep(SETTLE_MS);
    expect(bridge.verdict(request_id)).toBeUndefined();
    expect(buttonsOf(inChannel(general.id).find((m) => m.id === message.id)!)).toHaveLength(4);
    await click(general.id, message.id, 'deny', request_id).waitForReply();
    await waitFor(() => bridge.verdict(request_id) !== undefined, 3000, 'the verdict');

    // Over Discord's 2000 characters: the whole request comes as a file.
    const long = await ask(bridge, general.id, 'Write', 'x'.repeat(3000));
    expect(long.message.content.length).toBeLessThanOrEqual(2000);
    const attached = await click(general.id, long.message.id, 'details', long.request_id).waitForReply();
    expect(attached).toMatchObject({ type: 4, data: { flags: 64 } });
    expect(attached.files).toEqual([expect.objectContaining({ name: `request-${long.request_id}.txt`, size: expect.any(Number) })]);
    expect(attached.files[0]!.size).toBeGreaterThan(3000);
    await click(general.id, long.message.id, 'deny', long.request_id).waitForReply();
    await waitFor(() => bridge.verdict(long.request_id) !== undefined, 3000, 'the verdict');
  });

  test('answered in the terminal: the message says so, and a click after that is told it was already answered', async () => {
    const { request_id, message } = await ask(bridge, general.id);
    bridge.send({ type: 'permission-resolved', request_id });
    expect((await settled(general.id, message.id, 'Answered in the terminal')).content).toMatch(/↩︎ Answered in the terminal at \d\d:\d\d:\d\d UTC$/);
    for (const action of ['allow', 'details']) {
      const reply = await click(general.id, message.id, action, request_id).waitForReply();
      expect(reply).toMatchObject({ kind: 'callback', type: 4, data: { content: 'This request was already answered.', flags: 64 } });
    }
    await Bun.sleep(SETTLE_MS);
    expect(bridge.verdict(request_id)).toBeUndefined();
  });

  test('a second click on an answered request is told so; a button of another chat or a forged custom_id decides nothing', async () => {
    const { request_id, message } = await ask(bridge, general.id);
    await click(general.id, message.id, 'allow', request_id).waitForReply();
    await waitFor(() => bridge.verdict(request_id) !== undefined, 3000, 'the verdict');
    const again = await click(general.id, message.id, 'deny', request_id).waitForReply();
    expect(again).toMatchObject({ type: 4, data: { content: 'This request was already answered.', flags: 64 } });
    expect(bridge.frames.filter((f) => f.type === 'permission' && f.request_id === request_id)).toHaveLength(1);

    const pending = await ask(bridge, general.id);
    for (const customId of [`perm:allow:${ops.id}:${pending.request_id}`, `perm:allow:${general.id}:${pending.request_id}:x`, `perm:allow:${general.id}:ABCDE`]) {
      const reply = await fake.componentInteraction({ channelId: general.id, messageId: pending.message.id, customId }).waitForReply();
      expect(reply).toMatchObject({ type: 4, data: { flags: 64 } });
      expect(String(reply.data?.content)).not.toContain('already answered');
    }
    await Bun.sleep(SETTLE_MS);
    expect(bridge.verdict(pending.request_id)).toBeUndefined();
    await click(general.id, pending.message.id, 'allow', pending.request_id).waitForReply();
    await waitFor(() => bridge.verdict(pending.request_id) !== undefined, 3000, 'the verdict');
  });

  test('latency: request frame → message at the fake, ten requests in a row', async () => {
    for (let i = 0; i < 10; i++) {
      const { request_id, message } = await ask(bridge, general.id);
      await click(general.id, message.id, 'allow', request_id).waitForReply();
      await waitFor(() => bridge.verdict(request_id) !== undefined, 3000, 'the verdict');
    }
    expect(latencies.length).toBeGreaterThanOrEqual(10);
  });
});

describe('other chats', () => {
  test("each session's requests go to its own channel; a bridge that goes away leaves its message saying it is no longer asked", async () => {
    const bridge = await connectBridge(ops.id);
    const generalBefore = inChannel(general.id).length;
    const { request_id, message } = await ask(bridge, ops.id, 'WebFetch', 'https://example.invalid/');
    expect(message.content).toContain('ops asks to use WebFetch');
    expect(inChannel(general.id)).toHaveLength(generalBefore);
    bridge.close();
    await settled(ops.id, message.id, 'No longer asked');
    const reply = await click(ops.id, message.id, 'allow', request_id).waitForReply();
    expect(reply).toMatchObject({ type: 4, data: { content: 'This request was already answered.' } });
  });

  test("the DM session's requests go to the owner's DM channel, and a click there answers them", async () => {
    const bridge = await connectBridge(dm.id);
    const { request_id, message } = await ask(bridge, dm.id, 'Bash', 'ls');
    expect(message.content).toContain('dm-owner asks to use Bash');
    expect(await click(dm.id, message.id, 'allow', request_id).waitForReply()).toMatchObject({ type: 6 });
    await waitFor(() => bridge.verdict(request_id) !== undefined, 3000, 'the verdict');
    expect(bridge.verdict(request_id)).toMatchObject({ behavior: 'allow' });
    await settled(dm.id, message.id, 'Allowed by owner at ');
    const reply = await click(dm.id, message.id, 'deny', request_id, STRANGER).waitForReply();
    expect(reply).toMatchObject({ type: 4, data: { content: 'Only the owner can answer this.' } });
  });
});
