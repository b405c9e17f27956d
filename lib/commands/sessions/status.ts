import { existsSync } from 'node:fs';
import { defineCommand } from 'citty';
import { jsonArg } from '../_args.ts';
import type { CommandContext } from '../_context.ts';
import { formatIgnored, formatStatusRow } from '../../core/sessions/format.ts';
import { daemonState, describeDaemon, formatDaemon, platformDaemons } from '../../daemons/state.ts';

export default (ctx: CommandContext) =>
  defineCommand({
    meta: { name: 'status', description: 'Overview: token, config, the daemons and every session with its state, since when and its last message in and out' },
    args: { ...jsonArg },
    async run({ args }) {
      const { manager, paths, platform } = ctx;
      const config = manager.config();
      const live = await ctx.tmux.listSessions();
      const now = ctx.clock.now();
      const watchdog = daemonState(live, `${platform.prefix}-watchdog`, paths.watchdogPidFile);
      const daemons = platformDaemons(platform, paths).map((ref) => describeDaemon(live, ref, paths.sessionsDir, now));
      const sessions = await manager.list();
      // Channels the owner killed: no session, and discovery starts none.
      const ignored = Object.entries(manager.ignored()).map(([id, name]) => ({ id, name }));
      const token = existsSync(paths.tokenFile);
      if (args.json) {
        return ctx.io.out(
          JSON.stringify(
            { tokenFile: paths.tokenFile, token, guildId: config.guildId ?? null, allowedUserIds: config.allowedUserIds, sessionsDir: paths.sessionsDir, watchdog, daemons, sessions, ignored },
            null,
            2,
          ),
        );
      }
      const title = `${platform.label} Session Manager`;
      ctx.io.out(`${title}\n${'═'.repeat(title.length)}`);
      ctx.io.out(`Bot token: ${token ? `configured (${paths.tokenFile})` : `MISSING (${paths.tokenFile})`}`);
      if (platform.key === 'discord') ctx.io.out(`Guild: ${config.guildId ?? 'NOT SET'}`);
      ctx.io.out(`Allowed users: ${config.allowedUserIds.join(', ') || 'NOT SET'}`);
      ctx.io.out(`Sessions dir: ${paths.sessionsDir}`);
      for (const daemon of daemons) ctx.io.out(formatDaemon(daemon, now));
      ctx.io.out('');
      ctx.io.out(`${platform.label} Sessions:`);
      if (sessions.length === 0) ctx.io.out('  (none)');
      for (const row of sessions) ctx.io.out(formatStatusRow(row, now));
      for (const { id, name } of ignored) ctx.io.out(formatIgnored(manager.tmuxName(id), name || id));
    },
  });
