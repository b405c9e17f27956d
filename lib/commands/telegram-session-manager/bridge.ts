import { defineCommand } from 'citty';
import type { CommandContext } from '../_context.ts';
import { assertId } from '../../core/config/paths.ts';
import { createLogger } from '../../core/util/log.ts';
import { runBridge } from '../../platforms/telegram/bridge.ts';
import { routerSocketPath } from '../../platforms/telegram/protocol.ts';
import { telegramApiUrl } from './index.ts';

/** `bridge --chat <id>`: the MCP channel server a routed session runs (stdio is the MCP transport). */
export default (ctx: CommandContext) =>
  defineCommand({
    meta: { name: 'bridge', description: "A Claude Code channel (MCP over stdio) for one chat; started by the session's claude" },
    args: { chat: { type: 'string', description: 'Telegram chat id', required: true } },
    async run({ args }) {
      const chatId = assertId(ctx.platform, args.chat, 'chat id');
      // stdout carries MCP frames: every log line goes to stderr, which Claude Code keeps apart.
      const log = createLogger({ timestamps: true });
      await runBridge({
        chatId,
        stateDir: ctx.manager.stateDir(chatId),
        socketPath: routerSocketPath(ctx.paths),
        token: ctx.manager.botToken(),
        apiRoot: telegramApiUrl(ctx),
        log,
        clock: ctx.clock,
        signal: ctx.signal ?? new AbortController().signal,
      });
    },
  });
