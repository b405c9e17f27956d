import { afterEach, beforeEach, describe, expect, test } from 'bun:test';
import { once } from 'node:events';
import {
  ApplicationCommandOptionType,
  type ChatInputCommandInteraction,
  Client,
  Events,
  GatewayIntentBits,
  type Interaction,
  type Message,
  MessageFlags,
  type ThreadChannel,
} from 'discord.js';
import { FakeDiscord, type FakeChannel } from './discord.ts';

const EVENT_TIMEOUT_MS = 2_000;

/** Resolves with the arguments of the next `event`, or rejects after EVENT_TIMEOUT_MS. */
function nextEvent<A extends unknown[]>(client: Client, event: string): Promise<A> {
  return once(client, event, { signal: AbortSignal.timeout(EVENT_TIMEOUT_MS) }) as Promise<A>;
}

/** The next chat-input or autocomplete interaction the client emits. */
async function nextInteraction(client: Client): Promise<Interaction> {
  const [interaction] = await nextEvent<[Interaction]>(client, Events.InteractionCreate);
  return interaction;
}

describe('FakeDiscord gateway with a real discord.js Client', () => {
  let fake: FakeDiscord;
  let client: Client;
  let general: FakeChannel;
  let thread: FakeChannel;

  beforeEach(async () => {
    fake = new FakeDiscord().start();
    general = fake.addChannel('general');
    fake.addChannel('Projects', { type: 4 });
    thread = fake.addThread(general.id, 'bug-hunt');
    fake.addThread(general.id, 'old', { thread_metadata: { archived: true } });
    client = new Client({
      intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.MessageContent],
      rest: { api: fake.url },
    });
    const ready = nextEvent(client, Events.ClientReady);
    await client.login(fake.token);
    await ready;
  });

  afterEach(async () => {
    await client.destroy();
    await fake.stop();
  });

  test('logs in with the fake token and caches the guild, its channels and active threads', () => {
    expect(client.user?.id).toBe(fake.botUser.id);
    expect(client.application?.id).toBe(fake.applicationId);
    expect(fake.identifies).toHaveLength(1);
    expect(fake.identifies[0]).toMatchObject({ token: fake.token, intents: 1 | (1 << 9) | (1 << 15) });
    expect(fake.gatewayClients).toBe(1);
    const guild = client.guilds.cache.get(fake.guildId);
    expect(guild?.name).toBe(fake.guildName);
    expect(guild?.channels.cache.get(general.id)?.name).toBe('general');
    expect(client.channels.cache.get(thread.id)?.isThread()).toBe(true);
    expect([...(guild?.channels.cache.values() ?? [])].map((c) => c.name).sort()).toEqual(['Projects', 'bug-hunt', 'general']);
  });

  test('channel and thread helpers arrive as discord.js events', async () => {
    const created = nextEvent<[{ id: string; name: string; guildId: string }]>(client, Events.ChannelCreate);
    const channel = fake.createChannelEvent('fresh');
    expect((await created)[0]).toMatchObject({ id: channel.id, name: 'fresh', guildId: fake.guildId });

    const threadCreated = nextEvent<[ThreadChannel, boolean]>(client, Events.ThreadCreate);
    const side = fake.createThreadEvent(channel.id, 'side-quest');
    const [newThread, newlyCreated] = await threadCreated;
    expect({ id: newThread.id, parent: newThread.parentId, name: newThread.name, newlyCreated }).toEqual({
      id: side.id,
      parent: channel.id,
      name: 'side-quest',
      newlyCreated: true,
    });

    const updated = nextEvent<[ThreadChannel, ThreadChannel]>(client, Events.ThreadUpdate);
    fake.archiveThreadEvent(side.id);
    const [before, after] = await updated;
    expect([before.archived, after.archived]).toEqual([false, true]);

    const threadDeleted = nextEvent<[ThreadChannel]>(client, Events.ThreadDelete);
    fake.deleteChannelEvent(side.id);
    expect((await threadDeleted)[0].id).toBe(side.id);

    const deleted = nextEvent<[{ id: string }]>(client, Events.ChannelDelete);
    fake.deleteChannelEvent(channel.id);
    expect((await deleted)[0].id).toBe(channel.id);
    expect(client.channels.cache.has(channel.id)).toBe(false);
  });

  test('messageEvent arrives as messageCreate with content, author and member, and is stored', async () => {
    const received = nextEvent<[Message]>(client, Events.MessageCreate);
    const stored = fake.messageEvent(thread.id, { authorId: '1000000000000000001', username: 'alice', content: 'hello there' });
    const [message] = await received;
    expect({ id: message.id, channel: message.channelId, content: message.content, author: message.author.username, bot: message.author.bot }).toEqual({
      id: stored.id,
      channel: thread.id,
      content: 'hello there',
      author: 'alice',
      bot: false,
    });
    expect(message.member?.id).toBe('1000000000000000001');
    expect(fake.messages.get(thread.id)?.at(-1)).toEqual(stored);
  });

  test('bot messages, edits and typing go through REST and are stored', async () => {
    const channel = client.channels.cache.get(general.id);
    if (!channel?.isSendable()) throw new Error('general is not sendable');
    await channel.sendTyping();
    const echoed = nextEvent<[Message]>(client, Events.MessageCreate);
    const sent = await channel.send({ content: 'working on it', files: [{ attachment: Buffer.from('log'), name: 'run.log' }] });
    expect((await echoed)[0].author.id).toBe(fake.botUser.id);
    await sent.edit('done');
    expect(fake.messages.get(general.id)).toEqual([
      expect.objectContaining({ id: sent.id, content: 'done', files: [expect.objectContaining({ name: 'run.log', size: 3 })] }),
    ]);
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toContain(`POST /channels/${general.id}/typing`);
  });

  test('a chat-input reply with ephemeral: true lands as callback type 4 with flags 64', async () => {
    const arrived = nextInteraction(client);
    const handle = fake.interaction({
      name: 'status',
      channelId: general.id,
      options: [{ name: 'verbose', type: ApplicationCommandOptionType.Boolean, value: true }],
    });
    const interaction = (await arrived) as ChatInputCommandInteraction;
    expect(interaction.isChatInputCommand()).toBe(true);
    expect({ name: interaction.commandName, verbose: interaction.options.getBoolean('verbose'), channel: interaction.channelId }).toEqual({
      name: 'status',
      verbose: true,
      channel: general.id,
    });
    expect(interaction.user.id).toBe(fake.ownerId);
    await interaction.reply({ content: 'hi', ephemeral: true });
    const reply = await handle.waitForReply();
    expect(reply).toMatchObject({ kind: 'callback', type: 4, data: { content: 'hi', flags: MessageFlags.Ephemeral } });
    expect(handle.original?.content).toBe('hi');
  });

  test('a deferred reply edited with a file records the file, and fetchReply reads it back', async () => {
    const arrived = nextInteraction(client);
    const handle = fake.interaction({ name: 'logs', channelId: thread.id });
    const interaction = (await arrived) as ChatInputCommandInteraction;
    await interaction.deferReply();
    await interaction.editReply({ content: 'attached', files: [{ attachment: Buffer.from('x'), name: 'a.txt' }] });
    const [deferred, edit] = await handle.waitForReplies(2);
    expect(deferred).toMatchObject({ kind: 'callback', type: 5 });
    expect(edit).toMatchObject({ kind: 'edit-original', method: 'PATCH', data: { content: 'attached' } });
    expect(edit?.path).toEndWith('/messages/@original');
    expect(edit?.files).toEqual([{ field: 'files[0]', name: 'a.txt', size: 1, contentType: expect.any(String) }]);
    const fetched = await interaction.fetchReply();
    expect({ content: fetched.content, files: fetched.attachments.map((a) => a.name) }).toEqual({ content: 'attached', files: ['a.txt'] });
  });

  test('an autocomplete answered with respond() is recorded as type 8', async () => {
    const arrived = nextInteraction(client);
    const handle = fake.interaction({
      name: 'spawn',
      type: 'autocomplete',
      channelId: general.id,
      options: [{ name: 'dir', type: ApplicationCommandOptionType.String, value: 'pro', focused: true }],
    });
    const interaction = await arrived;
    if (!interaction.isAutocomplete()) throw new Error('expected an autocomplete interaction');
    expect(interaction.options.getFocused()).toBe('pro');
    await interaction.respond([{ name: 'projects', value: 'projects' }]);
    expect(await handle.waitForReply()).toMatchObject({ kind: 'callback', type: 8, data: { choices: [{ name: 'projects', value: 'projects' }] } });
  });

  test('buttons: a message keeps its components, a click arrives as a ButtonInteraction from anyone, and 6/7/4 are recorded', async () => {
    const channel = client.channels.cache.get(general.id);
    if (!channel?.isSendable()) throw new Error('general is not sendable');
    const row = { type: 1, components: [{ type: 2, style: 3, label: 'Allow', custom_id: 'perm:allow:1:abcde' }] };
    const sent = await channel.send({ content: 'may I?', components: [row] });
    expect(fake.messages.get(general.id)?.at(-1)?.components).toEqual([row]);

    // A deferred update changes nothing; an edit through REST can take the buttons away.
    let arrived = nextInteraction(client);
    let handle = fake.componentInteraction({ channelId: general.id, messageId: sent.id, customId: 'perm:allow:1:abcde' });
    let click = await arrived;
    if (!click.isButton()) throw new Error('expected a button interaction');
    expect({ id: click.customId, message: click.message.id, user: click.user.id, content: click.message.content }).toEqual({
      id: 'perm:allow:1:abcde',
      message: sent.id,
      user: fake.ownerId,
      content: 'may I?',
    });
    await click.deferUpdate();
    expect(await handle.waitForReply()).toMatchObject({ kind: 'callback', type: 6 });
    await sent.edit({ content: 'may I? — yes', components: [] });
    expect(fake.messages.get(general.id)?.at(-1)).toMatchObject({ content: 'may I? — yes', components: [] });

    // An update (7) edits the message itself.
    arrived = nextInteraction(client);
    handle = fake.componentInteraction({ channelId: general.id, messageId: sent.id, customId: 'x' });
    click = await arrived;
    if (!click.isButton()) throw new Error('expected a button interaction');
    await click.update({ content: 'updated', components: [row] });
    expect(await handle.waitForReply()).toMatchObject({ kind: 'callback', type: 7, data: { content: 'updated' } });
    expect(fake.messages.get(general.id)?.at(-1)).toMatchObject({ content: 'updated', components: [row] });

    // A stranger's click, answered ephemerally.
    arrived = nextInteraction(client);
    handle = fake.componentInteraction({ channelId: general.id, messageId: sent.id, customId: 'y', user: { id: '1999999999999999999', username: 'mallory' } });
    click = await arrived;
    expect(click.user.username).toBe('mallory');
    if (!click.isButton()) throw new Error('expected a button interaction');
    await click.reply({ content: 'no', flags: MessageFlags.Ephemeral });
    expect(await handle.waitForReply()).toMatchObject({ kind: 'callback', type: 4, data: { content: 'no', flags: MessageFlags.Ephemeral } });
    expect(fake.messages.get(general.id)?.at(-1)?.content).toBe('updated');
  });

  test('registers guild commands through the REST API and reuses their ids in interactions', async () => {
    const registered = await client.application!.commands.set([{ name: 'status', description: 'Show status' }], fake.guildId);
    expect(fake.commands.map((c) => [c.name, c.guild_id])).toEqual([['status', fake.guildId]]);
    expect([...registered.keys()]).toEqual([fake.commands[0]!.id]);
    const arrived = nextInteraction(client);
    fake.interaction({ name: 'status', channelId: general.id });
    expect(((await arrived) as ChatInputCommandInteraction).commandId).toBe(fake.commands[0]!.id);
  });

  test('a dropped connection resumes the session and events keep flowing', async () => {
    const resumed = nextEvent(client, Events.ShardResume);
    fake.closeGateway(4000);
    await resumed;
    expect(fake.gatewayLog.some((p) => p.op === 6)).toBe(true);
    const created = nextEvent<[{ id: string }]>(client, Events.ChannelCreate);
    const channel = fake.createChannelEvent('after-resume');
    expect((await created)[0].id).toBe(channel.id);
  });
});

describe('FakeDiscord gateway protocol edges (raw WebSocket)', () => {
  let fake: FakeDiscord;
  const sockets: WebSocket[] = [];

  /** A raw gateway connection that queues every payload and close code it receives. */
  async function connect(): Promise<{ ws: WebSocket; next: () => Promise<{ op: number; t: string | null; s: number | null; d: unknown }>; closed: Promise<number> }> {
    const ws = new WebSocket(`${fake.gatewayUrl}?v=10&encoding=json`);
    sockets.push(ws);
    const queue: { op: number; t: string | null; s: number | null; d: unknown }[] = [];
    const waiting: (() => void)[] = [];
    ws.onmessage = (event) => {
      queue.push(JSON.parse(String(event.data)));
      waiting.shift()?.();
    };
    const closed = new Promise<number>((resolve) => ws.addEventListener('close', (event) => resolve(event.code)));
    const next = async () => {
      while (queue.length === 0) await new Promise<void>((resolve) => waiting.push(resolve));
      return queue.shift()!;
    };
    return { ws, next, closed };
  }

  beforeEach(() => {
    fake = new FakeDiscord().start();
  });
  afterEach(async () => {
    for (const ws of sockets.splice(0)) ws.close();
    await fake.stop();
  });

  test('says HELLO, acknowledges heartbeats and numbers dispatches from 1', async () => {
    const { ws, next } = await connect();
    expect(await next()).toEqual({ op: 10, t: null, s: null, d: { heartbeat_interval: 45_000 } });
    ws.send(JSON.stringify({ op: 1, d: null }));
    expect((await next()).op).toBe(11);
    ws.send(JSON.stringify({ op: 2, d: { token: fake.token, intents: 1, properties: {} } }));
    const ready = await next();
    expect(ready).toMatchObject({ op: 0, t: 'READY', s: 1, d: { v: 10, user: { id: fake.botUser.id, bot: true }, guilds: [{ id: fake.guildId, unavailable: true }] } });
    expect(await next()).toMatchObject({ op: 0, t: 'GUILD_CREATE', s: 2, d: { id: fake.guildId, roles: [{ id: fake.guildId, name: '@everyone' }] } });
  });

  test('closes with 4004 on a wrong token and answers an unknown RESUME with INVALID_SESSION false', async () => {
    const bad = await connect();
    await bad.next();
    bad.ws.send(JSON.stringify({ op: 2, d: { token: 'nope', intents: 1, properties: {} } }));
    expect(await bad.closed).toBe(4004);
    const stale = await connect();
    await stale.next();
    stale.ws.send(JSON.stringify({ op: 6, d: { token: fake.token, session_id: 'gone', seq: 3 } }));
    expect(await stale.next()).toMatchObject({ op: 9, d: false });
  });

  test('filters dispatches by intent and blanks message content without MessageContent', async () => {
    const channel = fake.addChannel('general');
    const { ws, next } = await connect();
    await next();
    ws.send(JSON.stringify({ op: 2, d: { token: fake.token, intents: GatewayIntentBits.GuildMessages, properties: {} } }));
    await next();
    await next();
    fake.createChannelEvent('unseen');
    fake.messageEvent(channel.id, { username: 'alice', content: 'secret' });
    expect(await next()).toMatchObject({ t: 'MESSAGE_CREATE', s: 3, d: { content: '', author: { username: 'alice' } } });
    expect(fake.messages.get(channel.id)?.[0]?.content).toBe('secret');
  });
});
