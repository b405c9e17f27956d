import type { InlineKeyboardMarkup } from 'grammy/types';
import { type PendingPermission, type PermissionChoice, type PermissionOutcome, formatPermissionOutcome, formatPermissionRequest } from '../../router/permissions.ts';

/** What a permission button does: a verdict, or `more` (show the details). */
export type PermissionButton = PermissionChoice | 'more';

/** Telegram's message length limit. */
const TEXT_LIMIT = 4096;
/** Room kept under the limit for the outcome line a settled request gets (a tool name is up to 200 characters). */
const OUTCOME_ROOM = 400;
/** Longer tool names are cut on the "Always allow" button. */
const BUTTON_TOOL_CHARS = 28;
/** `perm:<action>:<request id>`; anything else in a callback is not ours. */
const CALLBACK = /^perm:(allow|deny|always|more):([a-km-z]{5})$/;
/** `yes abcde`, `n abcde`, `always abcde`: the whole message, nothing else. */
const TEXT_REPLY = /^\s*(y|yes|n|no|always)\s+([a-km-z]{5})\s*$/i;

/** The callback_data of a permission button (at most 17 bytes, well under Telegram's 64). */
export function formatPermissionCallback(action: PermissionButton, requestId: string): string {
  return `perm:${action}:${requestId}`;
}

/** A button's callback_data read strictly (it comes from the client): the action and request id, or undefined. */
export function parsePermissionCallback(data: string): { action: PermissionButton; requestId: string } | undefined {
  const match = CALLBACK.exec(data);
  return match ? { action: match[1] as PermissionButton, requestId: match[2]! } : undefined;
}

/** A chat message that answers a request by text, as the official plugin takes it (`yes abcde`), or undefined. */
export function parsePermissionReply(text: string): { choice: PermissionChoice; requestId: string } | undefined {
  const match = TEXT_REPLY.exec(text);
  if (!match) return undefined;
  const word = match[1]!.toLowerCase();
  return { choice: word === 'always' ? 'always' : word.startsWith('y') ? 'allow' : 'deny', requestId: match[2]!.toLowerCase() };
}

/** Allow / Deny, Always allow <tool>, Details. */
export function createPermissionKeyboard(request: PendingPermission): InlineKeyboardMarkup {
  const id = request.request_id;
  const tool = request.tool_name.length > BUTTON_TOOL_CHARS ? `${request.tool_name.slice(0, BUTTON_TOOL_CHARS - 1)}…` : request.tool_name;
  return {
    inline_keyboard: [
      [
        { text: '✅ Allow', callback_data: formatPermissionCallback('allow', id) },
        { text: '❌ Deny', callback_data: formatPermissionCallback('deny', id) },
      ],
      [{ text: `Always allow ${tool}`, callback_data: formatPermissionCallback('always', id) }],
      [{ text: 'Details', callback_data: formatPermissionCallback('more', id) }],
    ],
  };
}

/**
 * The approval message: the request, then how to answer by text (the request id is only shown there).
 * Once settled, the outcome line takes the place of that hint.
 */
export function formatPermissionMessage(request: PendingPermission, sessionName: string, outcome?: PermissionOutcome): string {
  const body = formatPermissionRequest(request, sessionName).slice(0, TEXT_LIMIT - OUTCOME_ROOM);
  const id = request.request_id;
  const tail = outcome ? formatPermissionOutcome(outcome, request.tool_name) : `Or reply "yes ${id}", "no ${id}" or "always ${id}".`;
  return `${body}\n\n${tail}`;
}

/** The Details answer: the tool, the whole description and the whole input (JSON pretty-printed when it parses). */
export function formatPermissionDetails(request: PendingPermission): string {
  let input = request.input_preview.trim();
  try {
    input = JSON.stringify(JSON.parse(input), null, 2);
  } catch {
    // A preview Claude Code cut short is not JSON any more: shown as it came.
  }
  return [`${request.tool_name} (${request.request_id})`, request.description.trim(), input].filter(Boolean).join('\n\n').slice(0, TEXT_LIMIT);
}
