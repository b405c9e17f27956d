import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import type { ConsolaInstance } from 'consola';
import { Api, InputFile } from 'grammy';
import { readOptionalFile } from '../../core/config/config.ts';
import { chunkText } from '../../core/util/text.ts';
import { CrsError, formatError } from '../../core/util/errors.ts';
import { writeFileAtomic } from '../../core/store/fs-atomic.ts';
import type { Clock } from '../../core/util/clock.ts';
import { ChannelDelivery } from '../../bridge/delivery.ts';
import { claimNotice, readCondition, recordCondition, writeCondition } from '../../core/store/condition.ts';
import { formatConditionNotice } from '../notify.ts';
import { STATE_FILES } from '../../core/store/state.ts';
import { BRIDGE_SERVER_NAME, type BridgeToRouter, LineDecoder, type RouterToBridge, encodeLine } from './protocol.ts';

/** Telegram's message length limit. */
const TEXT_LIMIT = 4096;
const RECONNECT_MS = 1000;
const ORPHAN_CHECK_MS = 2000;

export interface BridgeOptions {
  chatId: string;
  stateDir: string;
  socketPath: string;
  token: string;
  apiRoot: string;
  log: ConsolaInstance;
  clock: Clock;
  signal: AbortSignal;
  /** stdio by default; tests may pass another transport. */
  transport?: Transport;
}

const TOOLS = [
  {
    name: 'reply',
    description: 'Send a message to the Telegram chat. Pass chat_id from the inbound message. Optionally reply_to (message_id) and files (absolute paths).',
    inputSchema: {
      type: 'object',
      properties: {
        chat_id: { type: 'string' },
        text: { type: 'string' },
        reply_to: { type: 'string', description: 'message_id to reply to' },
        files: { type: 'array', items: { type: 'string' }, description: 'absolute file paths to attach' },
      },
      required: ['chat_id', 'text'],
    },
  },
  {
    name: 'react',
    description: 'Add an emoji reaction to a message.',
    inputSchema: {
      type: 'object',
      properties: { chat_id: { type: 'string' }, message_id: { type: 'string' }, emoji: { type: 'string' } },
      required: ['chat_id', 'message_id', 'emoji'],
    },
  },
  {
    name: 'edit_message',
    description: 'Edit a message the bot sent earlier.',
    inputSchema: {
      type: 'object',
      properties: { chat_id: { type: 'string' }, message_id: { type: 'string' }, text: { type: 'string' } },
      required: ['chat_id', 'message_id', 'text'],
    },
  },
  {
    name: 'download_attachment',
    description: 'Download an attachment of an inbound message (its attachment_file_id) and return the local path.',
    inputSchema: { type: 'object', properties: { file_id: { type: 'string' } }, required: ['file_id'] },
  },
] as const;

/** Splits text into Telegram-sized messages, on line breaks where possible. */
export function chunkForTelegram(text: string): string[] {
  return chunkText(text, TEXT_LIMIT);
}

/**
 * A Claude Code channel for one Telegram chat: an MCP server on stdio that, once Claude Code listens,
 * receives its chat's messages from the router (Unix socket), pushes each as
 * `notifications/claude/channel`, and acknowledges it only when Claude Code took it (or says it was
 * not taken); its tools send straight to the Bot API, and only ever to its own chat.
 */
export async function runBridge(options: BridgeOptions): Promise<void> {
  const { chatId, log } = options;
  const api = new Api(options.token, { apiRoot: options.apiRoot });
  const server = new Server(
    { name: BRIDGE_SERVER_NAME, version: '1.0.0' },
    {
      // tools.listChanged: the readiness probe (lib/bridge/delivery.ts) depends on it.
      capabilities: { tools: { listChanged: true }, experimental: { 'claude/channel': {} } },
      instructions: `Messages from Telegram chat ${chatId} arrive as channel notifications. Answer them with the reply tool (chat_id ${chatId}); the user reads nothing else.`,
    },
  );

  const ownChat = (value: unknown): string => {
    const id = String(value ?? '');
    if (id !== chatId) throw new CrsError(`This session may only write to its own chat ${chatId}, not "${id}".`);
    return id;
  };

  const transcript = readOptionalFile(join(options.stateDir, STATE_FILES.transcript))?.trim();
  if (!transcript) throw new CrsError(`No transcript path recorded in ${options.stateDir}.`, { hint: 'Start the session with `telegram-session-manager spawn`, not by hand.' });
  const delivery = new ChannelDelivery(server, transcript, options.clock);
  server.setRequestHandler(ListToolsRequestSchema, async () => {
    delivery.noteToolsListed();
    return { tools: TOOLS as never };
  });
  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    const args = (request.params.arguments ?? {}) as Record<string, unknown>;
    try {
      switch (request.params.name) {
        case 'reply': {
          const chat = ownChat(args.chat_id);
          const replyTo = args.reply_to ? Number(args.reply_to) : undefined;
          const sent: number[] = [];
          for (const [index, chunk] of chunkForTelegram(String(args.text ?? '')).entries()) {
            const message = await api.sendMessage(chat, chunk, index === 0 && replyTo ? { reply_parameters: { message_id: replyTo, allow_sending_without_reply: true } } : {});
            sent.push(message.message_id);
          }
          for (const file of (args.files as string[] | undefined) ?? []) {
            const message = await api.sendDocument(chat, new InputFile(readFileSync(file), basename(file)));
            sent.push(message.message_id);
          }
          return { content: [{ type: 'text', text: `sent (message_id ${sent.join(', ')})` }] };
        }
        case 'react':
          await api.setMessageReaction(ownChat(args.chat_id), Number(args.message_id), [{ type: 'emoji', emoji: String(args.emoji) as never }]);
          return { content: [{ type: 'text', text: 'reacted' }] };
        case 'edit_message':
          await api.editMessageText(ownChat(args.chat_id), Number(args.message_id), String(args.text ?? ''));
          return { content: [{ type: 'text', text: 'edited' }] };
        case 'download_attachment': {
          const file = await api.getFile(String(args.file_id));
          if (!file.file_path) throw new CrsError('Telegram returned no file path for this file.');
          const response = await fetch(`${options.apiRoot}/file/bot${options.token}/${file.file_path}`);
          if (!response.ok) throw new CrsError(`Download failed with HTTP ${response.status}.`);
          const dir = join(options.stateDir, 'downloads');
          mkdirSync(dir, { recursive: true });
          const path = join(dir, `${file.file_unique_id}-${basename(file.file_path).replace(/[^\w.-]+/g, '_')}`);
          await Bun.write(path, await response.arrayBuffer());
          return { content: [{ type: 'text', text: path }] };
        }
        default:
          throw new CrsError(`Unknown tool ${request.params.name}.`);
      }
    } catch (error) {
      return { isError: true, content: [{ type: 'text', text: formatError(error) }] };
    }
  });

  const initialized = new Promise<void>((resolve) => {
    server.oninitialized = () => resolve();
  });
  const closed = new Promise<void>((resolve) => {
    server.onclose = () => resolve();
  });
  await server.connect(options.transport ?? new StdioServerTransport());
  await Promise.race([initialized, closed]);

  // Deliver from the router until Claude Code closes stdio or we are told to stop.
  const stop = new AbortController();
  options.signal.addEventListener('abort', () => stop.abort(), { once: true });
  void closed.then(() => stop.abort());
  // The SDK's stdio transport may not notice Claude Code going away: a bridge whose parent is gone stops.
  const parent = process.ppid;
  const orphanCheck = setInterval(() => process.ppid !== parent && stop.abort(), ORPHAN_CHECK_MS);
  stop.signal.addEventListener('abort', () => clearInterval(orphanCheck), { once: true });

  // Connect to the router only once Claude Code takes channel messages: "hello" means "send".
  if (!(await delivery.waitReady(stop.signal)) && !stop.signal.aborted) log.warn('Claude Code did not confirm it listens to channel messages; delivering anyway');
  await tellNewConversation();
  while (!stop.signal.aborted) {
    try {
      await connectOnce();
    } catch (error) {
      log.debug(`router connection: ${formatError(error)}`);
    }
    if (!stop.signal.aborted) await options.clock.sleep(RECONNECT_MS, stop.signal);
  }
  await server.close().catch(() => {});

  /** Says in the chat, once, that this session had to start a new conversation, and why. */
  async function tellNewConversation(): Promise<void> {
    const text = readOptionalFile(join(options.stateDir, STATE_FILES.newConversation));
    if (!text) return;
    try {
      const note = JSON.parse(text) as { at: string; reason: string; told?: boolean };
      if (note.told) return;
      await api.sendMessage(chatId, `⚠️ This chat's Claude Code session started a new conversation: ${note.reason}.`);
      writeFileAtomic(join(options.stateDir, STATE_FILES.newConversation), `${JSON.stringify({ ...note, told: true })}\n`);
    } catch (error) {
      log.warn(`could not tell the chat about the new conversation: ${formatError(error)}`);
    }
  }

  /** Records DEAF and tells the chat once (the same condition is told only once, whoever sees it first). */
  async function tellDeaf(): Promise<void> {
    const condition = recordCondition(options.stateDir, 'bridge', {
      state: 'DEAF',
      cause: 'Claude Code does not take the messages pushed to it (channels may be off for this account or profile)',
      fix: 'run `telegram-session-manager doctor`, remove DISABLE_TELEMETRY / CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC / DO_NOT_TRACK / DISABLE_GROWTHBOOK from the profile, then /restart',
      since: options.clock.now(),
    });
    if (!claimNotice(options.stateDir, 'bridge', condition)) return;
    await api.sendMessage(chatId, formatConditionNotice(`tg-${chatId}`, condition)).catch((error) => log.warn(`could not tell the chat: ${formatError(error)}`));
  }

  async function connectOnce(): Promise<void> {
    const decoder = new LineDecoder<RouterToBridge>();
    let done!: () => void;
    const ended = new Promise<void>((resolve) => (done = resolve));
    // One message at a time, in the order the router sent them.
    let chain = Promise.resolve();
    const socket = await Bun.connect({
      unix: options.socketPath,
      socket: {
        data: (_sock, chunk) => {
          for (const message of decoder.push(chunk)) chain = chain.then(() => deliver(message));
        },
        close: () => done(),
        error: () => done(),
      },
    });
    const send = (value: BridgeToRouter) => socket.write(encodeLine(value));
    send({ type: 'hello', chat: chatId, pid: process.pid });
    const onAbort = () => socket.end();
    stop.signal.addEventListener('abort', onAbort, { once: true });
    await ended;
    stop.signal.removeEventListener('abort', onAbort);

    async function deliver(message: RouterToBridge): Promise<void> {
      if (message.type !== 'message' || stop.signal.aborted) return;
      const stopping = () => existsSync(join(options.stateDir, STATE_FILES.stopping));
      const outcome = await delivery.deliver({ content: message.content, meta: message.meta }, stop.signal, stopping).catch((error) => {
        log.warn(`delivering ${message.id}: ${formatError(error)}`);
        return 'not-taken' as const;
      });
      if (stop.signal.aborted) return;
      if (outcome === 'stopping') return void send({ type: 'nack', id: message.id, reason: 'the session is stopping' });
      if (outcome === 'not-taken') {
        log.warn(`Claude Code did not take message ${message.meta.message_id ?? message.id}; it stays queued`);
        await tellDeaf();
        send({ type: 'nack', id: message.id, reason: 'not taken by Claude Code' });
        return;
      }
      if (readCondition(options.stateDir, 'bridge')) writeCondition(options.stateDir, 'bridge', undefined);
      send({ type: 'ack', id: message.id });
    }
  }
}
