/** Plain-text renderings of sessions shared by the CLI and the chat commands (no colours, no terminal). */
import type { Condition } from '../store/condition.ts';
import { cleanLine } from '../util/text.ts';
import type { NewConversation, RespawnReport, SessionRow, SpawnResult } from './manager.ts';

/** `SPAWNED  dc-123  name=general  workdir=/x  profile=default  (resumed)` or `ALIVE  dc-123`. */
export function formatSpawn(result: SpawnResult): string[] {
  if (result.status === 'ALIVE') return [`ALIVE  ${result.tmux}`];
  const lines = result.fresh ? [`FRESH  new session-id=${result.sessionId}`] : [];
  const how = result.mode === '--resume' ? 'resumed' : 'new conversation';
  lines.push(`SPAWNED  ${result.tmux}  name=${cleanLine(result.name)}  workdir=${cleanLine(result.workdir)}  profile=${result.profile}  (${how})`);
  return lines;
}

const SECOND_MS = 1000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;
/** Indent of the lines under a session's row. */
const NOTE_INDENT = ' '.repeat(11);

/** `12s`, `3m`, `2h`, `4d`: a duration in its largest whole unit (a negative one is `0s`). */
export function formatDuration(ms: number): string {
  const span = Math.max(0, ms);
  if (span < MINUTE_MS) return `${Math.floor(span / SECOND_MS)}s`;
  if (span < HOUR_MS) return `${Math.floor(span / MINUTE_MS)}m`;
  if (span < DAY_MS) return `${Math.floor(span / HOUR_MS)}h`;
  return `${Math.floor(span / DAY_MS)}d`;
}

/** `12s ago` … `4d ago` for a time (ms since the epoch or ISO) before `now`; `—` for none or an unreadable one. */
export function formatAgo(at: number | string | null | undefined, now: number): string {
  const time = typeof at === 'string' ? Date.parse(at) : at;
  if (time === null || time === undefined || !Number.isFinite(time)) return '—';
  return `${formatDuration(now - time)} ago`;
}

/** One `list` row: `  [UP  ]  dc-123  channel  general  since 3m ago  profile=x  parent=...` (`since` when given `now`). */
export function formatRow(row: SessionRow, now?: number): string {
  const extras = [
    now !== undefined && row.since !== null ? `since ${formatAgo(row.since, now)}` : '',
    row.profile !== 'default' ? `profile=${row.profile}` : '',
    row.parent ? `parent=${row.parent}` : '',
    row.pinned ? 'pinned' : '',
    row.status === 'CRASHLOOP' && row.lastExit ? `last: ${lastLine(row.lastExit)}` : '',
  ].filter(Boolean);
  const line = `  [${row.status.padEnd(4)}]  ${row.tmux.padEnd(24)}  ${row.type.padEnd(7)}  ${cleanLine(row.name)}${extras.length ? `  ${extras.join('  ')}` : ''}`;
  return [line, ...formatNotes(row)].join('\n');
}

/**
 * One session's block in `status`: `  [UP  ]  dc-123  general  since 3m ago  in 12s ago  out —  /work`,
 * then its cause and fix (or a crash loop's last line) and a new conversation's note.
 */
export function formatStatusRow(row: SessionRow, now: number): string {
  const times = `since ${formatAgo(row.since, now)}  in ${formatAgo(row.lastIn, now)}  out ${formatAgo(row.lastOut, now)}`;
  const line = `  [${row.status.padEnd(4)}]  ${row.tmux.padEnd(24)}  ${cleanLine(row.name)}  ${times}  ${row.workdir ? cleanLine(row.workdir) : '—'}`;
  const crash = row.status === 'CRASHLOOP' && row.lastExit ? [`${NOTE_INDENT}last: ${lastLine(row.lastExit)}`] : [];
  return [line, ...crash, ...formatNotes(row)].join('\n');
}

/**
 * One session in a chat's `/sessions`: `UP        general (123) · since 3m ago · in 12s ago · out — · ~/work/api`,
 * and its cause (a workdir under `home` is shown from `~`).
 */
export function formatSessionLine(row: SessionRow, now: number, home?: string): string {
  const cause = row.condition ? ` · ${row.condition.cause}` : '';
  const times = `since ${formatAgo(row.since, now)} · in ${formatAgo(row.lastIn, now)} · out ${formatAgo(row.lastOut, now)}`;
  const workdir = row.workdir ? ` · ${home && (row.workdir === home || row.workdir.startsWith(`${home}/`)) ? `~${row.workdir.slice(home.length)}` : row.workdir}` : '';
  return `${row.status.padEnd(9)} ${cleanLine(row.name)} (${row.id}) · ${times}${workdir}${cause}`;
}

/** A channel the owner killed, as `list` and `status` show it. */
export function formatIgnored(tmuxName: string, name: string): string {
  return `  [IGNORED]  ${tmuxName.padEnd(24)}  ${name}  (killed: discovery starts none; spawn or wake does)`;
}

/** Lines joined by newlines within `limit` characters: as many as fit, then `… and N more`. */
export function joinWithin(lines: string[], limit: number): string {
  const kept: string[] = [];
  let size = 0;
  for (const [index, line] of lines.entries()) {
    const rest = lines.length - index - 1;
    const tail = rest > 0 ? `\n… and ${rest} more`.length : 0;
    const added = (kept.length ? 1 : 0) + line.length;
    if (size + added + tail > limit) {
      const more = `… and ${lines.length - index} more`;
      return kept.length ? `${kept.join('\n')}\n${more}` : more;
    }
    kept.push(line);
    size += added;
  }
  return kept.join('\n');
}

/** The lines under a session's row: its condition's cause and fix, a new conversation's note. */
function formatNotes(row: SessionRow): string[] {
  const notes = [...(row.condition ? formatCondition(row.condition) : []), ...(row.newConversation ? [formatNewConversation(row.newConversation)] : [])];
  return notes.map((l) => `${NOTE_INDENT}${l}`);
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

const ICONS: Record<Condition['state'], string> = { WAITING: '⏸', DEAF: '🔇', LIMITED: '⏳', LOGGED_OUT: '🔑' };

/** The message that tells the owner about a condition: state and cause, then the fix. */
export function formatConditionNotice(name: string, condition: Pick<Condition, 'state' | 'cause' | 'fix'>): string {
  return `${ICONS[condition.state]} ${condition.state} — session ${cleanLine(name)}: ${condition.cause}.\nFix: ${condition.fix}.`;
}
