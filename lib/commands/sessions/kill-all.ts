import { defineCommand } from 'citty';
import type { CommandContext } from '../_context.ts';

export default (ctx: CommandContext) =>
  defineCommand({
    meta: { name: 'kill-all', description: `Kill every session of this platform and empty the registry (daemons are left)` },
    async run() {
      const killed = await ctx.manager.killAll();
      for (const name of killed) ctx.io.out(`KILLED  ${name}`);
      ctx.io.out(`Total: ${killed.length}`);
    },
  });
