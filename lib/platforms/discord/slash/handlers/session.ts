import { type ChatCommandName, runChatCommand } from '../../../../core/control/commands.ts';
import { CrsError } from '../../../../core/util/errors.ts';
import { stripChrome } from '../../../../core/host/pane.ts';
import type { CommandHandler, SlashReply } from '../types.ts';
import { requireUp, sessionOf } from './_session.ts';
import { startWatch } from './watch.ts';

type Interaction = Parameters<CommandHandler>[0];

/**
 * The `/session` subcommands that are the core's chat commands (written once in
 * lib/core/control/commands.ts), with the input each takes. `refresh` is `restart` by its older name;
 * `restart fresh:true` is `fresh`.
 */
const CHAT_SUBCOMMANDS: Record<string, (i: Interaction) => [ChatCommandName, string]> = {
  sessions: () => ['sessions', ''],
  status: () => ['status', ''],
  restart: (i) => [i.options.getBoolean('fresh') ? 'fresh' : 'restart', ''],
  refresh: () => ['restart', ''],
  fresh: () => ['fresh', ''],
  kill: () => ['kill', ''],
  wake: () => ['wake', ''],
  workdir: (i) => ['workdir', i.options.getString('path') ?? ''],
  profile: (i) => ['profile', i.options.getString('name') ?? ''],
  send: (i) => ['send', i.options.getString('input', true)],
  allowed: (i) => ['allowed', i.options.getBoolean('clear') ? 'clear' : ''],
};

/** A chat command's answer: several lines (a listing, a status) in a code block, one line as it is. */
function formatAnswer(text: string): SlashReply {
  const fence = '```';
  return { content: text.includes('\n') ? `${fence}\n${text.replaceAll(fence, "'''")}\n${fence}` : text };
}

/** `/session <subcommand>` on the channel's own session (`sessions`: all of them). */
export const handleSession: CommandHandler = async (interaction, deps) => {
  const { manager } = deps;
  const sub = interaction.options.getSubcommand();
  const chat = CHAT_SUBCOMMANDS[sub];
  if (chat) {
    const [name, input] = chat(interaction);
    if (name !== 'sessions') await sessionOf(interaction, deps);
    const text = await runChatCommand(name, input, {
      manager,
      log: deps.log,
      session: interaction.channelId,
      actor: interaction.user.id,
      spell: (n) => `/session ${n}`,
    });
    return formatAnswer(text);
  }
  const row = await sessionOf(interaction, deps);
  switch (sub) {
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
    default:
      throw new CrsError(`Unknown subcommand /session ${sub}.`, { hint: 'Run `discord-slash-daemon register` to refresh the commands.' });
  }
};
