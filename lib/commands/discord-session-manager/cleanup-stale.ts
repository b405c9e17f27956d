import { defineCommand } from 'citty';
import { type CommandContext, discordApi } from '../_context.ts';
import { formatReportLine } from '../_format.ts';
import { cleanupStale } from '../../platforms/discord/sessions.ts';
import { CrsError } from '../../core/util/errors.ts';

export default (ctx: CommandContext) =>
  defineCommand({
    meta: { name: 'cleanup-stale', description: 'Kill and deregister sessions of deleted channels and archived threads' },
    async run() {
      const report = await cleanupStale({ manager: ctx.manager, api: discordApi(ctx) });
      if (report.found === 0) return ctx.io.out('No registered sessions to check.');
      for (const line of report.lines) ctx.io.out(formatReportLine(line));
      ctx.io.out(`Checked ${report.lines.length} of ${report.found} session(s), cleaned ${report.spawned} stale`);
      if (report.failed) throw new CrsError(`${report.failed} check(s) failed; those sessions were left as they are.`, { hint: 'See the ERROR lines above.' });
    },
  });
