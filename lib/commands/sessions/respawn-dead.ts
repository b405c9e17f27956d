import { defineCommand } from 'citty';
import type { CommandContext } from '../_context.ts';
import { formatBackoff, formatSpawn } from '../../core/sessions/format.ts';
import { CrsError } from '../../core/util/errors.ts';

export default (ctx: CommandContext) =>
  defineCommand({
    meta: { name: 'respawn-dead', description: 'Start every registered session that is down (not suspended ones)' },
    async run() {
      const report = await ctx.manager.respawnDead();
      for (const result of report.respawned) for (const line of formatSpawn(result)) ctx.io.out(line.replace(/^SPAWNED/, 'RESPAWNED'));
      for (const b of report.backoff) ctx.io.out(formatBackoff(b));
      for (const f of report.failed) ctx.io.out(`FAILED  ${f.tmux}  ${f.error}`);
      if (!report.respawned.length && !report.backoff.length && !report.failed.length) ctx.io.out('All sessions are up.');
      if (report.failed.length) throw new CrsError(`${report.failed.length} session(s) could not be restarted.`, { hint: 'See the FAILED lines above.' });
    },
  });
