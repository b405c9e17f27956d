import { defineCommand } from 'citty';
import type { CommandContext } from '../_context.ts';
import { daemonState, formatDaemonState } from '../../daemons/state.ts';
import { countStatuses } from '../../core/sessions/manager.ts';

export default (ctx: CommandContext) =>
  defineCommand({
    meta: { name: 'motd', description: 'A short summary for a shell login: counts, daemons, sessions that need a look' },
    async run() {
      const rows = await ctx.manager.list();
      const c = countStatuses(rows);
      const live = await ctx.tmux.listSessions();
      const watchdog = daemonState(live, `${ctx.platform.prefix}-watchdog`, ctx.paths.watchdogPidFile);
      const parts = [`${c.UP} up`, `${c.DOWN} down`, `${c.SUSPENDED} suspended`];
      if (c.CRASHLOOP) parts.push(`${c.CRASHLOOP} crash-looping`);
      const held = rows.filter((r) => r.condition);
      if (held.length) parts.push(`${held.length} need the owner`);
      ctx.io.out(`${ctx.platform.label} sessions: ${parts.join(' · ')} — watchdog ${formatDaemonState(watchdog)}`);
      for (const row of rows.filter((r) => r.status === 'DOWN' || r.status === 'CRASHLOOP' || r.condition)) {
        ctx.io.out(`  ${row.status.padEnd(9)} ${row.name} (${row.id})${row.condition ? `  ${row.condition.cause}` : ''}`);
      }
    },
  });
