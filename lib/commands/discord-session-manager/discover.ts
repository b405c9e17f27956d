import { defineCommand } from 'citty';
import { type CommandContext, discordApi } from '../_context.ts';
import { formatReportLine } from '../_format.ts';
import { type DiscoveryReport, discoverChannels, discoverThreads } from '../../platforms/discord/sessions.ts';
import { CrsError } from '../../core/util/errors.ts';
import { createAuthorizer } from '../../core/control/authorize.ts';

type Which = 'channels' | 'threads' | 'all';

const DESCRIPTIONS: Record<Which, string> = {
  channels: 'Spawn a session for every text/announcement channel that has none',
  threads: 'Spawn a session for every active thread an owner created that has none, with parent context',
  all: 'discover, then discover-threads',
};

/** `discover`, `discover-threads` and `discover-all`. */
export default (ctx: CommandContext, which: Which) =>
  defineCommand({
    meta: { name: which === 'channels' ? 'discover' : `discover-${which}`, description: DESCRIPTIONS[which] },
    async run() {
      const deps = { manager: ctx.manager, api: discordApi(ctx), authorize: createAuthorizer(ctx.manager, ctx.io.log) };
      let failed = 0;
      const print = (report: DiscoveryReport, what: string) => {
        for (const line of report.lines) ctx.io.out(formatReportLine(line));
        ctx.io.out(`Discovered ${report.found} ${what}, spawned ${report.spawned} new session(s)${report.failed ? `, ${report.failed} failed` : ''}`);
        failed += report.failed;
      };
      if (which !== 'threads') print(await discoverChannels(deps), 'channels');
      if (which === 'all') ctx.io.out('');
      if (which !== 'channels') print(await discoverThreads(deps), 'active threads');
      if (failed) throw new CrsError(`${failed} session(s) could not be spawned.`, { hint: 'See the ERROR lines above.' });
    },
  });
