import type { ChatInputCommandInteraction } from 'discord.js';
import { CrsError } from '../../../../core/util/errors.ts';
import { type SessionRow, isRunning } from '../../../../core/sessions/manager.ts';
import type { SlashDeps } from '../types.ts';

/** The session of the channel (or thread) the command was used in, or a clear error. */
export async function sessionOf(interaction: ChatInputCommandInteraction | { channelId: string }, deps: SlashDeps): Promise<SessionRow> {
  const row = (await deps.manager.list()).find((r) => r.id === interaction.channelId);
  if (!row) throw new CrsError('This channel has no session yet.', { hint: 'Send a message in it (or run /discover) to start one.' });
  return row;
}

/** The session must be running (whatever its condition) for keys or text to be typed into it. */
export function requireUp(row: SessionRow): void {
  if (!isRunning(row.status)) {
    throw new CrsError(`The session is ${row.status}.`, { hint: 'Use /session wake (or send a message, which wakes it).' });
  }
}
