import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { Socket } from 'bun';
import { TELEGRAM } from '../lib/platform.ts';
import { LineDecoder, routerSocketPath } from '../lib/telegram/protocol.ts';
import { resolvePaths } from '../lib/paths.ts';
import { FakeTelegram } from './fakes/telegram.ts';
import { ROOT, Sandbox, waitFor } from './helpers.ts';

const CHAT = '4242';
let fake: FakeTelegram;
let sb: Sandbox;
let client: Client;
let routerSocket: Socket<undefined> | undefined;
const fromBridge: Array<Record<string, unknown>> = [];
const notifications: Array<{ content: string; meta: Record<string, string> }> = [];
let listener: ReturnType<typeof Bun.listen>;

beforeAll(async () => {
  fake = new FakeTelegram().start();
  sb = new Sandbox({ platform: TELEGRAM, token: fake.token, env: { TELEGRAM_API_URL: fake.url }, config: 'TELEGRAM_ALLOWED_USER_ID="123456789"\nTELEGRAM_SESSION_WORKDIR="$HOME/work"' });
  mkdirSync(join(sb.sessionsDir, CHAT), { recursive: true });
  const decoder = new LineDecoder<Record<string, unknown>>();
  listener = Bun.listen<undefined>({
    unix: routerSocketPath(resolvePaths(TELEGRAM, sb.env)),
    socket: {
      open: (socket) => void (routerSocket = socket),
      data: (_socket, chunk) => void fromBridge.push(...decoder.push(chunk)),
    },
  });
  client = new Client({ name: 'test', version: '1' });
  client.fallbackNotificationHandler = async (n) => {
    if (n.method === 'notifications/claude/channel') notifications.push(n.params as never);
  };
  await client.connect(new StdioClientTransport({ command: 'bun', args: [join(ROOT, 'bin/telegram-session-manager.ts'), 'bridge', '--chat', CHAT], env: sb.env as Record<string, string>, stderr: 'pipe' }));
});

afterAll(async () => {
  await client.close();
  listener.stop(true);
  await sb.cleanup();
  await fake.stop();
});

describe('bridge: a Claude Code channel for one chat', () => {
  test('declares the claude/channel capability and the official tools', async () => {
    expect(client.getServerCapabilities()?.experimental).toEqual({ 'claude/channel': {} });
    const tools = (await client.listTools()).tools.map((t) => t.name).sort();
    expect(tools).toEqual(['download_attachment', 'edit_message', 'react', 'reply']);
  });

  test('says hello to the router, pushes each message as notifications/claude/channel, and acknowledges it', async () => {
    await waitFor(() => fromBridge.some((m) => m.type === 'hello' && m.chat === CHAT), 5000, 'hello');
    const meta = { chat_id: CHAT, message_id: '9', user: 'ann', user_id: '123456789', ts: '2026-11-25T10:00:00.000Z' };
    routerSocket!.write(`${JSON.stringify({ type: 'message', id: '000001-a.json', content: 'hi there', meta })}\n`);
    await waitFor(() => notifications.length === 1, 3000, 'the notification');
    expect(notifications[0]).toEqual({ content: 'hi there', meta });
    await waitFor(() => fromBridge.some((m) => m.type === 'ack' && m.id === '000001-a.json'), 3000, 'the ack');
    // A redelivery after a lost ack is acknowledged again but not pushed twice.
    routerSocket!.write(`${JSON.stringify({ type: 'message', id: '000001-a.json', content: 'hi there', meta })}\n`);
    await waitFor(() => fromBridge.filter((m) => m.type === 'ack').length === 2, 3000, 'the second ack');
    expect(notifications).toHaveLength(1);
  });

  test('reply sends to its own chat through the Bot API, in 4096-character pieces', async () => {
    const result = await client.callTool({ name: 'reply', arguments: { chat_id: CHAT, text: `${'x'.repeat(5000)}`, reply_to: '9' } });
    expect(result.isError).toBeFalsy();
    const sent = fake.calls('sendMessage').filter((p) => String(p.chat_id) === CHAT);
    expect(sent.map((p) => String(p.text).length)).toEqual([4096, 904]);
  });

  test('reply to any other chat is refused and nothing is sent', async () => {
    const before = fake.calls('sendMessage').length;
    const result = await client.callTool({ name: 'reply', arguments: { chat_id: '999', text: 'leak' } });
    expect(result.isError).toBe(true);
    expect(JSON.stringify(result.content)).toContain(`only write to its own chat ${CHAT}`);
    expect(fake.calls('sendMessage').length).toBe(before);
  });

  test('react, edit_message and download_attachment reach the Bot API', async () => {
    const message = fake.userMessage(Number(CHAT), { fromId: 123456789, text: 'doc', document: { fileName: 'notes.txt', bytes: new TextEncoder().encode('file body') } });
    expect((await client.callTool({ name: 'react', arguments: { chat_id: CHAT, message_id: String(message.message_id), emoji: '👍' } })).isError).toBeFalsy();
    expect(fake.calls('setMessageReaction').at(-1)).toMatchObject({ message_id: message.message_id });
    const sentReply = await client.callTool({ name: 'reply', arguments: { chat_id: CHAT, text: 'first' } });
    const id = /message_id (\d+)/.exec(JSON.stringify(sentReply.content))![1]!;
    expect((await client.callTool({ name: 'edit_message', arguments: { chat_id: CHAT, message_id: id, text: 'second' } })).isError).toBeFalsy();
    expect(fake.calls('editMessageText').at(-1)).toMatchObject({ text: 'second' });
    const download = await client.callTool({ name: 'download_attachment', arguments: { file_id: message.document!.file_id } });
    const path = (download.content as Array<{ text: string }>)[0]!.text;
    expect(path.startsWith(join(sb.sessionsDir, CHAT, 'downloads'))).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe('file body');
  });
});

