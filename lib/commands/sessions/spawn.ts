import { defineCommand } from 'citty';
import { idArg, nameArg, workdirArg } from '../_args.ts';
import type { CommandContext } from '../_context.ts';
import { reportStart } from '../_format.ts';
import { loadProfiles, loadStringMap } from '../../core/config/config.ts';
import { findSessionChannelOffKeys, formatChannelOffWarning } from '../../core/host/preflight.ts';
import { CrsError, formatError } from '../../core/util/errors.ts';

/** Asks the platform for a channel's or chat's name (throws when it cannot tell). */
export type LookupName = (id: string) => Promise<string>;

export default (ctx: CommandContext, lookupName?: LookupName) =>
  defineCommand({
    meta: { name: 'spawn', description: 'Start the session of a channel (no-op if it is up; with --fresh, restarts it in a new conversation)' },
    args: {
      ...idArg,
      ...nameArg,
      ...workdirArg,
      'system-prompt': { type: 'string', description: 'Extra system prompt text, kept across respawns' },
      fresh: { type: 'boolean', description: 'Start a new conversation instead of resuming (restarts a running session)' },
    },
    async run({ args }) {
      const id = ctx.manager.resolveRef(args.id);
      const result = await ctx.manager.spawn(id, {
        name: args.name ?? (await nameForMaps(ctx, id, lookupName)),
        workdir: args.workdir,
        systemPrompt: args['system-prompt'],
        fresh: args.fresh,
      });
      const found = findSessionChannelOffKeys(ctx.manager.config(), loadProfiles(ctx.paths, ctx.env), result.profile, ctx.paths.profilesFile);
      if (found.length) ctx.io.log.warn(formatChannelOffWarning(found, ctx.platform.label));
      reportStart(ctx, result);
    },
  });

/**
 * The name of a channel that has no session yet, asked of the platform only when workdir-map.json or
 * channel-profiles.json has entries: both are keyed by name, as discovery and the router name sessions.
 */
async function nameForMaps(ctx: CommandContext, id: string, lookupName: LookupName | undefined): Promise<string | undefined> {
  const { manager, paths } = ctx;
  if (!lookupName || manager.registry()[id]) return undefined;
  const maps = [paths.workdirMap, paths.channelProfiles].filter((file) => Object.keys(loadStringMap(file)).length);
  if (!maps.length) return undefined;
  try {
    return await lookupName(id);
  } catch (error) {
    throw new CrsError(`Could not read the name of ${ctx.platform.label} ${id}, which ${maps.join(' and ')} ${maps.length > 1 ? 'are' : 'is'} keyed by: ${formatError(error)}`, {
      cause: error,
      hint: 'Give the name with --name (or the directory with --workdir).',
    });
  }
}
