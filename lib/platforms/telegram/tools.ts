import { mkdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Api, InputFile } from 'grammy';
import type { BridgeTool, PlatformTools } from '../../bridge/server.ts';
import { CrsError } from '../../core/util/errors.ts';
import { chunkText } from '../../core/util/text.ts';
import { formatConditionNotice } from '../notify.ts';

/** Telegram's message length limit. */
const TEXT_LIMIT = 4096;

export interface TelegramToolsOptions {
  chatId: string;
  stateDir: string;
  token: string;
  apiRoot: string;
}

const TOOLS: BridgeTool[] = [
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
];

/** Splits text into Telegram-sized messages, on line breaks where possible. */
export function chunkForTelegram(text: string): string[] {
  return chunkText(text, TEXT_LIMIT);
}

/** The Telegram half of a bridge: the official plugin's tools, writing only to the session's own chat. */
export function createTelegramTools(options: TelegramToolsOptions): PlatformTools {
  const { chatId } = options;
  const api = new Api(options.token, { apiRoot: options.apiRoot });
  const ownChat = (value: unknown): string => {
    const id = String(value ?? '');
    if (id !== chatId) throw new CrsError(`This session may only write to its own chat ${chatId}, not "${id}".`);
    return id;
  };
  return {
    serverName: 'crs-telegram',
    instructions: `Messages from Telegram chat ${chatId} arrive as channel notifications. Answer them with the reply tool (chat_id ${chatId}); the user reads nothing else.`,
    tools: TOOLS,
    deafFix: 'run `telegram-session-manager doctor`, remove DISABLE_TELEMETRY / CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC / DO_NOT_TRACK / DISABLE_GROWTHBOOK from the profile, then /restart',
    formatNotice: (condition) => formatConditionNotice(`tg-${chatId}`, condition),
    notify: async (text) => void (await api.sendMessage(chatId, text.slice(0, TEXT_LIMIT))),
    async call(name, args) {
      switch (name) {
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
          return `sent (message_id ${sent.join(', ')})`;
        }
        case 'react':
          await api.setMessageReaction(ownChat(args.chat_id), Number(args.message_id), [{ type: 'emoji', emoji: String(args.emoji) as never }]);
          return 'reacted';
        case 'edit_message':
          await api.editMessageText(ownChat(args.chat_id), Number(args.message_id), String(args.text ?? ''));
          return 'edited';
        case 'download_attachment': {
          const file = await api.getFile(String(args.file_id));
          if (!file.file_path) throw new CrsError('Telegram returned no file path for this file.');
          const response = await fetch(`${options.apiRoot}/file/bot${options.token}/${file.file_path}`);
          if (!response.ok) throw new CrsError(`Download failed with HTTP ${response.status}.`);
          const dir = join(options.stateDir, 'downloads');
          mkdirSync(dir, { recursive: true });
          const path = join(dir, `${file.file_unique_id}-${basename(file.file_path).replace(/[^\w.-]+/g, '_')}`);
          await Bun.write(path, await response.arrayBuffer());
          return path;
        }
        default:
          throw new CrsError(`Unknown tool ${name}.`);
      }
    },
  };
}
