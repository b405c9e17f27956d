import type { Condition } from '../../../../core/store/condition.ts';
import { CrsError } from '../../../../core/util/errors.ts';
import { type SessionRow, isRunning } from '../../../../core/sessions/manager.ts';
import { classifyPane, submitLine } from '../../../../core/host/pane.ts';
import { oneLine } from '../../../../core/host/send-keys.ts';
import type { CommandHandler } from '../types.ts';
import { sessionOf } from './_session.ts';

const SKILL_NAME = /^[A-Za-z0-9][A-Za-z0-9:._-]{0,99}$/;

/** Queues text for the session (woken if needed) and returns the dialog it waits at, if delivery was held. */
async function deliver(interaction: Parameters<CommandHandler>[0], deps: Parameters<CommandHandler>[1], row: SessionRow, text: string, raw = false): Promise<Condition | undefined> {
  await deps.wake.accept(
    {
      channelId: row.id,
      messageId: interaction.id,
      authorId: interaction.user.id,
      author: interaction.user.username,
      content: text,
      ts: new Date(deps.clock.now()).toISOString(),
      ...(raw ? { raw } : {}),
    },
    { quiet: true },
  );
  return deps.wake.heldAt(row.id);
}

/** Whether a dialog has the keyboard of a running session: then nothing may be typed into it. */
async function showsDialog(row: SessionRow, deps: Parameters<CommandHandler>[1]): Promise<boolean> {
  const screen = await deps.manager.deps.tmux.capturePane(row.tmux).catch(() => '');
  return classifyPane(screen, { now: deps.clock.now() }).dialog;
}

/** The answer when delivery waits behind a dialog: what it is and what the owner does. */
function heldReply(row: SessionRow, condition: Condition, what: string): { content: string } {
  return { content: `⏸ \`${row.name}\` is ${condition.state}: ${condition.cause}.\nFix: ${condition.fix}.\nYour ${what} is queued and will be typed in once it is answered.` };
}

/** `/ask <prompt>`: the prompt goes to the channel's session (woken if needed). */
export const handleAsk: CommandHandler = async (interaction, deps) => {
  const prompt = oneLine(interaction.options.getString('prompt', true));
  if (!prompt) throw new CrsError('The prompt is empty.');
  const row = await sessionOf(interaction, deps);
  if (isRunning(row.status) && !deps.wake.isBusy(row.id) && !(await showsDialog(row, deps))) {
    await submitLine(deps.manager.deps.tmux, row.tmux, prompt);
  } else {
    const held = await deliver(interaction, deps, row, prompt);
    if (held) return heldReply(row, held, 'prompt');
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
  if (!isRunning(row.status)) throw new CrsError(`The session is ${row.status}.`, { hint: 'Use /session wake first.' });
  if (await showsDialog(row, deps)) {
    const held = await deliver(interaction, deps, row, command, true);
    if (held) return heldReply(row, held, 'command');
  } else {
    await submitLine(deps.manager.deps.tmux, row.tmux, command);
  }
  return { content: `Sent \`${command.slice(0, 300)}\` to \`${row.name}\`` };
};
