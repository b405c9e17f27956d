import { defineCommand } from 'citty';
import type { CommandContext } from '../_context.ts';
import { platformDaemons } from '../../daemons/state.ts';
import { followLog, readLogTail } from '../../core/util/log.ts';
import { usageError } from '../../core/util/errors.ts';

/** Lines `logs` prints without `-n`. */
const DEFAULT_LINES = 50;

/** `logs [watchdog|slash-daemon|router] [-n N] [--follow]`: the end of a daemon's log file. */
export default (ctx: CommandContext) => {
  const daemons = platformDaemons(ctx.platform, ctx.paths);
  const names = daemons.map((d) => d.logName);
  return defineCommand({
    meta: { name: 'logs', description: `The last lines of a daemon's log (${names.join(' or ')}; default watchdog); --follow for new ones` },
    args: {
      daemon: { type: 'positional', required: false, description: names.join(' or ') },
      lines: { type: 'string', alias: 'n', description: `How many lines (default ${DEFAULT_LINES})` },
      follow: { type: 'boolean', alias: 'f', description: 'Keep printing new lines until interrupted' },
    },
    async run({ args }) {
      const name = args.daemon ?? 'watchdog';
      const daemon = daemons.find((d) => d.logName === name);
      if (!daemon) throw usageError(`Unknown daemon "${String(name).slice(0, 40)}".`, `Use ${names.join(' or ')}.`);
      const count = args.lines === undefined ? DEFAULT_LINES : Number(args.lines);
      if (!Number.isInteger(count) || count < 0) throw usageError(`-n takes a whole number of lines, not "${String(args.lines).slice(0, 20)}".`, 'For example: -n 100.');
      const lines = readLogTail(daemon.logFile, count);
      if (!lines && !args.follow) {
        const watchdog = ctx.platform.key === 'discord' ? 'discord-watchdog' : 'telegram-session-manager watchdog';
        ctx.io.log.info(`No ${daemon.label.toLowerCase()} log at ${daemon.logFile} yet: the daemons write their logs once they run in the background (\`${watchdog} --daemon\`).`);
        return;
      }
      for (const line of lines ?? []) ctx.io.out(line);
      if (args.follow) await followLog(daemon.logFile, ctx.io.out, ctx.clock, ctx.signal ?? new AbortController().signal);
    },
  });
};
