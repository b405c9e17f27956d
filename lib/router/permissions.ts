import type { Actor } from '../core/control/authorize.ts';
import type { PermissionAsk } from './protocol.ts';

/** A permission Claude Code asks a session's owner for, waiting for a verdict. */
export interface PendingPermission extends PermissionAsk {
  session: string;
  /** Through the channel relay (our bridge) or the session's PermissionRequest hook. */
  via: 'relay' | 'hook';
  /** When it was asked (ms since the epoch). */
  at: number;
}

/** What the owner can answer. `always` allows this one and every later request for the same tool in this session. */
export type PermissionChoice = 'allow' | 'deny' | 'always';

/** How a request ended, as its message in the chat says. */
export interface PermissionOutcome {
  /** `terminal`: answered in the terminal first; `gone`: the session stopped asking (it stopped or restarted). */
  result: PermissionChoice | 'terminal' | 'gone';
  by?: Actor;
  at: number;
}

/** The text of an approval request: the session, the tool, what it wants to do. */
export function formatPermissionRequest(request: PendingPermission, sessionName: string): string {
  const preview = request.input_preview.trim();
  return [`🔐 ${sessionName} asks to use ${request.tool_name}`, request.description.trim(), preview ? `\n${preview.slice(0, 500)}` : ''].filter(Boolean).join('\n');
}

/** The line an approval message ends with once it is settled: the decision, who took it and when. */
export function formatPermissionOutcome(outcome: PermissionOutcome, tool: string): string {
  const when = new Date(outcome.at).toISOString().slice(11, 19);
  const who = outcome.by ? ` by ${outcome.by.name ?? outcome.by.id}` : '';
  switch (outcome.result) {
    case 'allow':
      return `✅ Allowed${who} at ${when} UTC`;
    case 'always':
      return `✅ Allowed${who} at ${when} UTC — ${tool} is always allowed in this session from now on`;
    case 'deny':
      return `❌ Denied${who} at ${when} UTC`;
    case 'terminal':
      return `↩︎ Answered in the terminal at ${when} UTC`;
    case 'gone':
      return `⌛ No longer asked (the session stopped or restarted) at ${when} UTC`;
  }
}
