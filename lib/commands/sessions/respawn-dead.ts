import { defineCommand } from 'citty';
import type { CommandContext } from '../_context.ts';
import { formatSpawn } from '../_format.ts';

export default (ctx: CommandContext) =>
  defineCommand({
    meta: { name: 'respawn-dead', description: 'Start every registered session that is down (not suspended ones)' },
    async run() {
      const results = await ctx.manager.respawnDead();
      for (const result of results) for (const line of formatSpawn(result)) ctx.io.out(line.replace(/^SPAWNED/, 'RESPAWNED'));
      if (results.length === 0) ctx.io.out('All sessions are up.');
    },
  });
