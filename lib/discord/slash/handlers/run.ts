import { CrsError } from '../../../errors.ts';
import { oneLine } from '../keys.ts';
import type { CommandHandler } from '../types.ts';
import { sessionOf } from './_session.ts';

const SKILL_NAME = /^[A-Za-z0-9][A-Za-z0-9:._-]{0,99}$/;

/** Delivers a prompt: typed in at once when the session is up, else queued and the session woken. */
async function deliver(interaction: Parameters<CommandHandler>[0], deps: Parameters<CommandHandler>[1], text: string): Promise<string> {
  const row = await sessionOf(interaction, deps);
  await deps.wake.accept({
    channelId: row.id,
    messageId: interaction.id,
    authorId: interaction.user.id,
    author: interaction.user.username,
    content: text,
    ts: new Date(deps.clock.now()).toISOString(),
  });
  return row.tmux;
}

/** `/ask <prompt>`: the prompt goes to the channel's session (woken if needed). */
export const handleAsk: CommandHandler = async (interaction, deps) => {
  const prompt = oneLine(interaction.options.getString('prompt', true));
  if (!prompt) throw new CrsError('The prompt is empty.');
  const row = await sessionOf(interaction, deps);
  if (row.status === 'UP' && !deps.wake.isBusy(row.id)) {
    await deps.manager.deps.tmux.sendKeys(row.tmux, [prompt], true);
    await deps.manager.deps.tmux.sendKeys(row.tmux, ['Enter']);
  } else {
    await deliver(interaction, deps, prompt);
  }
  return { content: `Sent to \`${row.name}\`:\n> ${prompt.slice(0, 300)}` };
};

/** `/run <skill> [args]`: types `/<skill> args` into the session. */
export const handleRun: CommandHandler = async (interaction, deps) => {
  const skill = interaction.options.getString('skill', true).replace(/^\//, '');
  if (!SKILL_NAME.test(skill)) throw new CrsError(`"${skill.slice(0, 60)}" is not a skill name.`, { hint: 'Pick one from the list.' });
  const args = oneLine(interaction.options.getString('args') ?? '');
  const command = `/${skill}${args ? ` ${args}` : ''}`;
  const row = await sessionOf(interaction, deps);
  if (row.status !== 'UP') throw new CrsError(`The session is ${row.status}.`, { hint: 'Use /session wake first.' });
  await deps.manager.deps.tmux.sendKeys(row.tmux, [command], true);
  await deps.manager.deps.tmux.sendKeys(row.tmux, ['Enter']);
  return { content: `Sent \`${command.slice(0, 300)}\` to \`${row.name}\`` };
};
