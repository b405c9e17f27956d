import { defineCommand } from 'citty';
import type { CommandContext } from '../_context.ts';
import { assertId } from '../../core/config/paths.ts';
import { linkSecret } from '../../core/store/state.ts';
import { createStderrLogger } from '../../core/util/log.ts';
import { runBridge } from '../../bridge/server.ts';
import type { PlatformTools } from '../../bridge/server.ts';
import { routerSocketPath } from '../../router/protocol.ts';

/**
 * `bridge --id <id>`: the Claude Code channel (MCP over stdio) of one session, started by that
 * session's claude from its mcp.json; `tools` gives the platform's half.
 */
export default (ctx: CommandContext, tools: (id: string) => PlatformTools) =>
  defineCommand({
    meta: { name: 'bridge', description: "A session's Claude Code channel (MCP over stdio); started by the session's claude" },
    args: {
      id: { type: 'string', description: `${ctx.platform.label} id of the session`, required: true, alias: ['chat', 'channel'] },
    },
    async run({ args }) {
      const id = assertId(ctx.platform, args.id);
      const stateDir = ctx.manager.stateDir(id);
      // stdout carries MCP frames: every log line goes to stderr, which Claude Code keeps apart.
      const log = createStderrLogger({ timestamps: true });
      await runBridge({
        session: id,
        stateDir,
        socketPath: routerSocketPath(ctx.paths.sessionsDir),
        secret: linkSecret(stateDir),
        platform: tools(id),
        log,
        clock: ctx.clock,
        signal: ctx.signal ?? new AbortController().signal,
      });
    },
  });
