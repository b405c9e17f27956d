import { defineCommand } from 'citty';
import type { CommandContext } from '../_context.ts';
import { formatSpawn } from '../../core/sessions/format.ts';

export default (ctx: CommandContext) =>
  defineCommand({
    meta: { name: 'wake-all', description: 'Wake every suspended session' },
    async run() {
      const results = await ctx.manager.wakeAll();
      for (const result of results) for (const line of formatSpawn(result)) ctx.io.out(line.replace(/^SPAWNED/, 'WOKE'));
      ctx.io.out(`Woke ${results.length} session(s).`);
    },
  });
