import { existsSync } from 'node:fs';
import { defineCommand } from 'citty';
import { jsonArg } from '../_args.ts';
import type { CommandContext } from '../_context.ts';
import { formatRow } from '../../core/sessions/format.ts';
import { daemonState, formatDaemonState } from '../../daemons/state.ts';

export default (ctx: CommandContext) =>
  defineCommand({
    meta: { name: 'status', description: 'Overview: token, config, daemons and every session' },
    args: { ...jsonArg },
    async run({ args }) {
      const { manager, paths, platform } = ctx;
      const config = manager.config();
      const live = await ctx.tmux.listSessions();
      const watchdog = daemonState(live, `${platform.prefix}-watchdog`, paths.watchdogPidFile);
      const sessions = await manager.list();
      const token = existsSync(paths.tokenFile);
      if (args.json) {
        return ctx.io.out(
          JSON.stringify(
            { tokenFile: paths.tokenFile, token, guildId: config.guildId ?? null, allowedUserIds: config.allowedUserIds, sessionsDir: paths.sessionsDir, watchdog, sessions },
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
      ctx.io.out(`Watchdog: ${formatDaemonState(watchdog)}`);
      ctx.io.out('');
      ctx.io.out(`${platform.label} Sessions:`);
      if (sessions.length === 0) ctx.io.out('  (none)');
      for (const row of sessions) ctx.io.out(formatRow(row));
    },
  });
