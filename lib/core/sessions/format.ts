/** Plain-text renderings of sessions shared by the CLI and the chat commands (no colours, no terminal). */
import type { Condition } from '../store/condition.ts';
import type { NewConversation, RespawnReport, SessionRow, SpawnResult } from './manager.ts';

/** `SPAWNED  dc-123  name=general  workdir=/x  profile=default  (resumed)` or `ALIVE  dc-123`. */
export function formatSpawn(result: SpawnResult): string[] {
  if (result.status === 'ALIVE') return [`ALIVE  ${result.tmux}`];
  const lines = result.fresh ? [`FRESH  new session-id=${result.sessionId}`] : [];
  const how = result.mode === '--resume' ? 'resumed' : 'new conversation';
  lines.push(`SPAWNED  ${result.tmux}  name=${result.name}  workdir=${result.workdir}  profile=${result.profile}  (${how})`);
  return lines;
}

/** One `list` row: `  [UP  ]  dc-123  channel  general  profile=default  parent=...`. */
export function formatRow(row: SessionRow): string {
  const extras = [
    row.profile !== 'default' ? `profile=${row.profile}` : '',
    row.parent ? `parent=${row.parent}` : '',
    row.pinned ? 'pinned' : '',
    row.status === 'CRASHLOOP' && row.lastExit ? `last: ${lastLine(row.lastExit)}` : '',
  ].filter(Boolean);
  const line = `  [${row.status.padEnd(4)}]  ${row.tmux.padEnd(24)}  ${row.type.padEnd(7)}  ${row.name}${extras.length ? `  ${extras.join('  ')}` : ''}`;
  const notes = [...(row.condition ? formatCondition(row.condition) : []), ...(row.newConversation ? [formatNewConversation(row.newConversation)] : [])];
  return [line, ...notes.map((l) => `           ${l}`)].join('\n');
}

/** `new conversation since 2026-11-30 07:52 UTC: <reason>` */
export function formatNewConversation(note: NewConversation): string {
  const at = note.at.replace('T', ' ').slice(0, 16);
  return `new conversation since ${at} UTC: ${note.reason}`;
}

/** A condition's cause (with the reset time of a limit) and fix, one line each. */
export function formatCondition(condition: Condition): string[] {
  const until = condition.until && !condition.cause.includes('resets') ? ` (until ${new Date(condition.until).toTimeString().slice(0, 5)})` : '';
  return [`${condition.cause}${until}`, `fix: ${condition.fix}`];
}

/** `CRASHLOOP  dc-123  next try 12:30:00  last: Error: …` */
export function formatBackoff(b: RespawnReport['backoff'][number]): string {
  const time = new Date(b.until).toTimeString().slice(0, 8);
  return `CRASHLOOP  ${b.tmux}  next try ${time}${b.cause ? `  last: ${b.cause.trim().slice(0, 160)}` : ''}`;
}

/** The last non-empty line a dead session printed (`last-exit` starts with a timestamp line). */
export function lastLine(lastExit: string): string {
  return lastExit.split('\n').slice(1).filter((l) => l.trim()).pop()?.trim().slice(0, 160) ?? '';
}
