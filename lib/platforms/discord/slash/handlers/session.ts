import { EmbedBuilder } from 'discord.js';
import { formatCondition, formatNewConversation, formatSpawn, lastLine } from '../../../../core/sessions/format.ts';
import { CrsError } from '../../../../core/util/errors.ts';
import { planSend } from '../../../../core/host/send-keys.ts';
import { stripChrome } from '../../../../core/host/pane.ts';
import type { CommandHandler, SlashReply } from '../types.ts';
import { requireUp, sessionOf } from './_session.ts';
import { startWatch } from './watch.ts';

const COLORS = { UP: 0x2ecc71, WAITING: 0x3498db, DEAF: 0x9b59b6, LIMITED: 0xe67e22, LOGGED_OUT: 0xe74c3c, DOWN: 0xe74c3c, SUSPENDED: 0xf1c40f, CRASHLOOP: 0xe67e22 } as const;

function formatUptime(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : `${m}m`;
}

function spawned(lines: string[]): SlashReply {
  return { content: `\`\`\`\n${lines.join('\n')}\n\`\`\`` };
}

/** `/session <subcommand>` on the channel's own session. */
export const handleSession: CommandHandler = async (interaction, deps) => {
  const { manager } = deps;
  const sub = interaction.options.getSubcommand();
  const row = await sessionOf(interaction, deps);
  const id = row.id;

  switch (sub) {
    case 'status': {
      const info = (await manager.liveSessions()).get(row.tmux);
      const uptime = info && !info.dead ? formatUptime(deps.clock.now() / 1000 - info.created) : '—';
      const embed = new EmbedBuilder()
        .setTitle(`Session: ${row.name}`)
        .setColor(COLORS[row.status])
        .addFields(
          { name: 'Status', value: row.status, inline: true },
          { name: 'Type', value: row.type, inline: true },
          { name: 'Profile', value: `\`${row.profile}\``, inline: true },
          { name: 'Uptime', value: uptime, inline: true },
          { name: 'tmux', value: `\`${row.tmux}\``, inline: true },
          { name: 'Session ID', value: `\`${row.sessionId ?? '—'}\``, inline: true },
          { name: 'Workdir', value: `\`${row.workdir ?? '—'}\`` },
        );
      if (row.parent) embed.addFields({ name: 'Parent', value: `<#${row.parent}>`, inline: true });
      if (row.status === 'CRASHLOOP' && row.lastExit) embed.addFields({ name: 'Last exit', value: `\`${lastLine(row.lastExit)}\`` });
      if (row.condition) {
        const [cause = '', fix = ''] = formatCondition(row.condition);
        embed.addFields({ name: 'Cause', value: cause.slice(0, 1024) }, { name: 'Fix', value: fix.replace(/^fix: /, '').slice(0, 1024) });
      }
      if (row.newConversation) embed.addFields({ name: 'New conversation', value: formatNewConversation(row.newConversation).slice(0, 1024) });
      return { embed };
    }
    case 'restart': {
      const fresh = interaction.options.getBoolean('fresh') ?? false;
      return spawned(formatSpawn(await manager.restart(id, { fresh })));
    }
    case 'refresh':
      return spawned(formatSpawn(await manager.restart(id)));
    case 'kill':
      await manager.stop(id);
      return { content: `Stopped \`${row.tmux}\`. It stays down until \`/session wake\` (or a new message wakes it).` };
    case 'wake':
      return spawned(formatSpawn(await manager.wake(id)));
    case 'workdir': {
      const path = interaction.options.getString('path');
      if (!path) return { content: `Workdir: \`${row.workdir ?? '—'}\`` };
      return spawned([`Workdir → ${path}`, ...formatSpawn(await manager.restart(id, { workdir: path }))]);
    }
    case 'send': {
      requireUp(row);
      const plan = planSend(interaction.options.getString('input', true));
      if (plan.kind === 'keys') await manager.deps.tmux.sendKeys(row.tmux, plan.keys);
      else {
        if (!plan.text) throw new CrsError('Nothing to send.', { hint: 'Give a key name or some text.' });
        await manager.deps.tmux.sendKeys(row.tmux, [plan.text], true);
        await manager.deps.tmux.sendKeys(row.tmux, ['Enter']);
      }
      // Messages held behind a dialog go in once it is answered.
      if (deps.wake.isBusy(id)) void deps.wake.kick(id);
      return { content: plan.kind === 'keys' ? `Sent ${plan.keys.join(' + ')}` : `Typed: ${plan.text.slice(0, 200)}` };
    }
    case 'watch':
      requireUp(row);
      return startWatch(interaction, row, (interaction.options.getString('mode') ?? 'live') as 'live' | 'log', deps);
    case 'snapshot': {
      requireUp(row);
      const text = stripChrome(await manager.deps.tmux.capturePane(row.tmux));
      return { content: `Screen of \`${row.tmux}\``, file: { name: `snapshot-${row.name}.txt`, text } };
    }
    case 'history': {
      requireUp(row);
      const text = stripChrome(await manager.deps.tmux.capturePane(row.tmux, 1_000_000));
      return { content: `Scrollback of \`${row.tmux}\``, file: { name: `history-${row.name}.txt`, text } };
    }
    case 'profile': {
      const name = interaction.options.getString('name');
      const available = manager.profileNames();
      if (!name) return { content: `Profile: \`${row.profile}\` · available: ${available.map((p) => `\`${p}\``).join(', ')}` };
      return spawned([`Profile → ${name}`, ...formatSpawn(await manager.switchProfile(id, name))]);
    }
    default:
      throw new CrsError(`Unknown subcommand /session ${sub}.`, { hint: 'Run `discord-slash-daemon register` to refresh the commands.' });
  }
};
