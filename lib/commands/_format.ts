import type { ReportLine } from '../platforms/discord/sessions.ts';

export function formatReportLine(line: ReportLine): string {
  const detail = line.detail ? `  ${line.detail}` : '';
  return `  ${line.kind.padEnd(7)} ${line.name.padEnd(25)} (${line.id})${detail}`;
}
