import { defineCommand } from 'citty';
import type { CommandContext } from '../_context.ts';
import { discordApi } from '../_context.ts';
import { discordApiUrl } from '../../platforms/discord/api.ts';
import { CrsError } from '../../core/util/errors.ts';
import { sessionVerbs } from '../sessions/index.ts';

/** discord-session-manager: every verb, each loaded only when it runs. */
export function createDiscordSessionManagerCommand(ctx: CommandContext) {
  return defineCommand({
    meta: { name: 'discord-session-manager', description: 'Per-channel Claude Code sessions for Discord, each in its own tmux session' },
    subCommands: {
      ...sessionVerbs(ctx, async (id) => {
        const channel = await discordApi(ctx).getChannel(id);
        if (!channel) throw new CrsError(`Discord has no channel ${id} (Unknown Channel).`);
        return channel.name ?? id;
      }),
      'spawn-thread': () => import('./spawn-thread.ts').then((m) => m.default(ctx)),
      discover: () => import('./discover.ts').then((m) => m.default(ctx, 'channels')),
      'discover-threads': () => import('./discover.ts').then((m) => m.default(ctx, 'threads')),
      'discover-all': () => import('./discover.ts').then((m) => m.default(ctx, 'all')),
      'create-channel': () => import('./create-channel.ts').then((m) => m.default(ctx)),
      'cleanup-stale': () => import('./cleanup-stale.ts').then((m) => m.default(ctx)),
      'set-status': () => import('./set-status.ts').then((m) => m.default(ctx)),
      bridge: () =>
        Promise.all([import('../sessions/bridge.ts'), import('../../platforms/discord/tools.ts')]).then(([m, t]) =>
          m.default(ctx, (id) =>
            t.createDiscordTools({
              channelId: id,
              stateDir: ctx.manager.stateDir(id),
              token: ctx.manager.botToken(),
              apiUrl: discordApiUrl(ctx.env),
              configDirs: ctx.manager.claudeConfigDirs({}).all,
              home: ctx.paths.home,
            }),
          ),
        ),
      doctor: () =>
        import('../sessions/doctor.ts').then((m) =>
          m.default(ctx, (c) => [
            [
              'Discord guild',
              async () => {
                const guildId = c.manager.config().guildId!;
                const guild = await discordApi(c).getGuild(guildId);
                return `${guild.name} (${guildId}) reachable with this token`;
              },
            ],
          ]),
        ),
    },
  });
}
