import { defineCommand } from 'citty';
import type { CommandContext } from '../_context.ts';
import { discordApi } from '../_context.ts';

/** discord-session-manager: every verb, each loaded only when it runs. */
export function createDiscordSessionManagerCommand(ctx: CommandContext) {
  return defineCommand({
    meta: { name: 'discord-session-manager', description: 'Per-channel Claude Code sessions for Discord, each in its own tmux session' },
    subCommands: {
      init: () => import('../sessions/init.ts').then((m) => m.default(ctx)),
      spawn: () => import('../sessions/spawn.ts').then((m) => m.default(ctx)),
      'spawn-thread': () => import('./spawn-thread.ts').then((m) => m.default(ctx)),
      discover: () => import('./discover.ts').then((m) => m.default(ctx, 'channels')),
      'discover-threads': () => import('./discover.ts').then((m) => m.default(ctx, 'threads')),
      'discover-all': () => import('./discover.ts').then((m) => m.default(ctx, 'all')),
      'create-channel': () => import('./create-channel.ts').then((m) => m.default(ctx)),
      'cleanup-stale': () => import('./cleanup-stale.ts').then((m) => m.default(ctx)),
      'suspend-idle': () => import('../sessions/suspend-idle.ts').then((m) => m.default(ctx)),
      wake: () => import('../sessions/wake.ts').then((m) => m.default(ctx)),
      'wake-all': () => import('../sessions/wake-all.ts').then((m) => m.default(ctx)),
      pin: () => import('../sessions/pin.ts').then((m) => m.default(ctx, true)),
      unpin: () => import('../sessions/pin.ts').then((m) => m.default(ctx, false)),
      list: () => import('../sessions/list.ts').then((m) => m.default(ctx)),
      status: () => import('../sessions/status.ts').then((m) => m.default(ctx)),
      attach: () => import('../sessions/attach.ts').then((m) => m.default(ctx)),
      kill: () => import('../sessions/kill.ts').then((m) => m.default(ctx)),
      'kill-all': () => import('../sessions/kill-all.ts').then((m) => m.default(ctx)),
      'respawn-dead': () => import('../sessions/respawn-dead.ts').then((m) => m.default(ctx)),
      motd: () => import('../sessions/motd.ts').then((m) => m.default(ctx)),
      'set-status': () => import('./set-status.ts').then((m) => m.default(ctx)),
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
