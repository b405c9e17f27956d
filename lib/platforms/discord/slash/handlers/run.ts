import type { ChatInputCommandInteraction } from 'discord.js';
import { CrsError } from '../../../../core/util/errors.ts';
import { type SessionRow, isRunning } from '../../../../core/sessions/manager.ts';
import { SESSION_CHANNEL_TYPES } from '../../api.ts';
import { type ChatInfo, formatSkillRequest } from '../../router.ts';
import type { CommandHandler, SlashDeps } from '../types.ts';

const SKILL_NAME = /^[A-Za-z0-9][A-Za-z0-9:._-]{0,99}$/;

/** How to create the session of the command's channel if it has none: a text channel or a thread. */
function chatOf(interaction: ChatInputCommandInteraction): ChatInfo | undefined {
  const channel = interaction.channel;
  if (!channel) return undefined;
  if (channel.isThread()) return channel.parentId ? { kind: 'thread', name: channel.name, parent: channel.parentId } : undefined;
  if (SESSION_CHANNEL_TYPES.includes(channel.type)) return { kind: 'channel', name: 'name' in channel ? (channel.name ?? undefined) : undefined };
  return undefined;
}

/**
 * Queues what the owner sent for the channel's session, through the inbox like a message of theirs
 * (nothing is typed into the pane): the session is woken or created if needed, and a dialog it waits
 * at keeps it queued. Returns the answer.
 */
async function submit(interaction: ChatInputCommandInteraction, deps: SlashDeps, content: string, what: string, meta?: Record<string, string>): Promise<string> {
  const row: SessionRow | undefined = (await deps.manager.list()).find((r) => r.id === interaction.channelId);
  const chat = chatOf(interaction);
  if (!row && !chat) throw new CrsError('This channel cannot have a session.', { hint: 'Use a text channel or a thread.' });
  deps.router.submit({ session: interaction.channelId, id: interaction.id, user: { id: interaction.user.id, username: interaction.user.username }, content, meta, chat });
  const name = row?.name ?? chat?.name ?? interaction.channelId;
  const quoted = `> ${content.slice(0, 300)}`;
  if (row?.condition) {
    const c = row.condition;
    return `⏸ \`${name}\` is ${c.state}: ${c.cause}.\nFix: ${c.fix}.\nYour ${what} is queued and goes in once that is done:\n${quoted}`;
  }
  if (!row || !isRunning(row.status)) return `Queued for \`${name}\`, which is starting:\n${quoted}`;
  return `Sent to \`${name}\`:\n${quoted}`;
}

/** `/ask <prompt>`: the prompt goes to the channel's session as the owner's message. */
export const handleAsk: CommandHandler = async (interaction, deps) => {
  const prompt = interaction.options.getString('prompt', true).trim();
  if (!prompt) throw new CrsError('The prompt is empty.');
  return { content: await submit(interaction, deps, prompt, 'prompt') };
};

/**
 * `/run <skill> [args]`: asks the session to run the skill, as an instruction message from the owner
 * through the inbox. Typing `/<skill> args` into the pane, as before, raced the messages the bridge
 * pushes, could land in a dialog, and was lost while the session was down; queued, it keeps its place
 * among the owner's messages. Keys for the pane stay `/session send`.
 */
export const handleRun: CommandHandler = async (interaction, deps) => {
  const skill = interaction.options.getString('skill', true).replace(/^\//, '');
  if (!SKILL_NAME.test(skill)) throw new CrsError(`"${skill.slice(0, 60)}" is not a skill name.`, { hint: 'Pick one from the list.' });
  const args = (interaction.options.getString('args') ?? '').trim();
  const meta: Record<string, string> = { skill, ...(args ? { skill_args: args } : {}) };
  return { content: await submit(interaction, deps, formatSkillRequest(skill, args), 'request', meta) };
};
