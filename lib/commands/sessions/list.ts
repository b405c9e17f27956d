import { defineCommand } from 'citty';
import { jsonArg } from '../_args.ts';
import type { CommandContext } from '../_context.ts';
import { formatIgnored, formatRow } from '../../core/sessions/format.ts';

export default (ctx: CommandContext) =>
  defineCommand({
    meta: { name: 'list', description: 'Sessions with their status (UP, BUSY, WAITING, DEAF, LIMITED, LOGGED_OUT, DOWN, SUSPENDED, CRASHLOOP), cause and fix; IGNORED: channels killed' },
    args: { ...jsonArg },
    async run({ args }) {
      const rows = await ctx.manager.list();
      if (args.json) return ctx.io.out(JSON.stringify(rows, null, 2));
      ctx.io.out(`${ctx.platform.label} Sessions:`);
      if (rows.length === 0) ctx.io.out('  (none)');
      const now = ctx.clock.now();
      for (const row of rows) ctx.io.out(formatRow(row, now));
      // Channels killed by the owner: no session, and discovery starts none.
      for (const [id, name] of Object.entries(ctx.manager.ignored())) {
        ctx.io.out(formatIgnored(ctx.manager.tmuxName(id), name || id));
      }
    },
  });
