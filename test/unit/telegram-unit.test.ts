import { afterAll, describe, expect, test } from 'bun:test';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Message } from 'grammy/types';
import { resolvePaths } from '../../lib/core/config/paths.ts';
import { TELEGRAM } from '../../lib/core/config/platform.ts';
import { bridgeChannelArgs } from '../../lib/bridge/launch.ts';
import { chunkForTelegram } from '../../lib/platforms/telegram/tools.ts';
import { toChannelMessage } from '../../lib/platforms/telegram/router.ts';
import { Sandbox } from '../helpers.ts';

const sb = new Sandbox({ platform: TELEGRAM });
afterAll(() => sb.cleanup());

const base = { message_id: 7, date: 1_790_000_000, chat: { id: 42, type: 'private' as const, first_name: 'Ann' }, from: { id: 123456789, is_bot: false, first_name: 'Ann', username: 'ann' } };

describe('toChannelMessage', () => {
  test.each([
    ['text', { ...base, text: 'hello' }, 'hello', {}],
    ['caption with a document', { ...base, caption: 'see file', document: { file_id: 'F1', file_unique_id: 'u', file_name: 'a.pdf' } }, 'see file', { attachment_kind: 'document', attachment_file_id: 'F1', attachment_name: 'a.pdf' }],
    ['photo without caption (largest size)', { ...base, photo: [{ file_id: 'small', file_unique_id: 's', width: 1, height: 1 }, { file_id: 'big', file_unique_id: 'b', width: 9, height: 9 }] }, '(photo)', { attachment_kind: 'photo', attachment_file_id: 'big' }],
    ['a reply', { ...base, text: 'yes', reply_to_message: { ...base, message_id: 3, text: 'q' } }, 'yes', { reply_to: '3' }],
  ])('%s', (_name, message, content, extraMeta) => {
    const queued = toChannelMessage(message as unknown as Message);
    expect(queued.content).toBe(content);
    expect(queued.meta).toEqual({ chat_id: '42', message_id: '7', user: 'ann', user_id: '123456789', ts: new Date(1_790_000_000_000).toISOString(), ...extraMeta });
  });
});

describe('reply limits', () => {
  test('long replies are split under 4096 characters, on line breaks when possible', () => {
    const text = `${'a'.repeat(3000)}\n${'b'.repeat(3000)}\n${'c'.repeat(5000)}`;
    const chunks = chunkForTelegram(text);
    expect(chunks.every((c) => c.length <= 4096)).toBe(true);
    expect(chunks.join('')).toBe(text.replace(/\n/g, ''));
    expect(chunks[0]).toBe('a'.repeat(3000));
  });
});

describe('bridgeChannelArgs (Telegram)', () => {
  const paths = resolvePaths(TELEGRAM, sb.env);
  test('router mode: the bridge as a development channel, named in a private mcp.json', () => {
    const stateDir = join(sb.sessionsDir, '42');
    require('node:fs').mkdirSync(stateDir, { recursive: true });
    const args = bridgeChannelArgs(TELEGRAM, sb.env, paths)('42', { stateDir, profile: {} })!;
    expect(args).toEqual(['--mcp-config', join(stateDir, 'mcp.json'), '--dangerously-load-development-channels', 'server:crs-telegram']);
    const config = JSON.parse(readFileSync(join(stateDir, 'mcp.json'), 'utf8'));
    const server = config.mcpServers['crs-telegram'];
    expect(server.args.slice(-3)).toEqual(['bridge', '--id', '42']);
    expect(server.args.at(-4)).toMatch(/bin\/telegram-session-manager\.ts$/);
    expect(server.env.CLAUDE_CONFIG_DIR).toBe(sb.root);
    // An interpreter-only bridge stays smaller (bench/memory.ts).
    expect(statSync(join(stateDir, 'mcp.json')).mode & 0o777).toBe(0o600);
  });

  test('plugin mode: a profile with its own bot token keeps the official plugin', () => {
    expect(bridgeChannelArgs(TELEGRAM, sb.env, paths)('42', { stateDir: sb.sessionsDir, profile: { TELEGRAM_BOT_TOKEN: 'x' } })).toBeUndefined();
  });
});
