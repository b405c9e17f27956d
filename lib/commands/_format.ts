import type { CommandContext } from './_context.ts';
import type { ReportLine } from '../platforms/discord/sessions.ts';
import { formatSpawn } from '../core/sessions/format.ts';
import type { SpawnResult } from '../core/sessions/manager.ts';
import { CrsError } from '../core/util/errors.ts';

export function formatReportLine(line: ReportLine): string {
  const detail = line.detail ? `  ${line.detail}` : '';
  return `  ${line.kind.padEnd(7)} ${line.name.padEnd(25)} (${line.id})${detail}`;
}

/** Prints a start (`SPAWNED` as `verb`); a session whose Claude Code exited at once is a failure. */
export function reportStart(ctx: CommandContext, result: SpawnResult, verb = 'SPAWNED'): void {
  for (const line of formatSpawn(result)) ctx.io.out(line.replace(/^SPAWNED/, verb));
  if (result.exited) {
    throw new CrsError(`Session ${result.tmux} exited at once: ${result.exited}`, {
      hint: `Fix what it says; the watchdog tries again, and \`${ctx.platform.cli} list\` shows how it goes.`,
    });
  }
}
