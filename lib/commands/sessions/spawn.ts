import { defineCommand } from 'citty';
import { idArg, nameArg, workdirArg } from '../_args.ts';
import type { CommandContext } from '../_context.ts';
import { formatSpawn } from '../../core/sessions/format.ts';
import { loadProfiles } from '../../core/config/config.ts';
import { findSessionChannelOffKeys, formatChannelOffWarning } from '../../core/host/preflight.ts';

export default (ctx: CommandContext) =>
  defineCommand({
    meta: { name: 'spawn', description: 'Start the session of a channel (no-op if it is up)' },
    args: {
      ...idArg,
      ...nameArg,
      ...workdirArg,
      'system-prompt': { type: 'string', description: 'Extra system prompt text, kept across respawns' },
      fresh: { type: 'boolean', description: 'Start a new conversation instead of resuming' },
    },
    async run({ args }) {
      const result = await ctx.manager.spawn(args.id, {
        name: args.name,
        workdir: args.workdir,
        systemPrompt: args['system-prompt'],
        fresh: args.fresh,
      });
      for (const line of formatSpawn(result)) ctx.io.out(line);
      const found = findSessionChannelOffKeys(ctx.manager.config(), loadProfiles(ctx.paths, ctx.env), result.profile, ctx.paths.profilesFile);
      if (found.length) ctx.io.log.warn(formatChannelOffWarning(found, ctx.platform.label));
    },
  });
