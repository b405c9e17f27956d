import { type APIActionRowComponent, type APIButtonComponentWithCustomId, ButtonStyle, ComponentType } from 'discord.js';
import {
  type PendingPermission,
  type PermissionChoice,
  type PermissionOutcome,
  formatPermissionOutcome,
  formatPermissionRequest,
} from '../../router/permissions.ts';

/** What a button of an approval message does. */
export type PermissionAction = PermissionChoice | 'details';

/** A button's custom_id, parsed: what to do with which request of which session. */
export interface PermissionButton {
  action: PermissionAction;
  session: string;
  requestId: string;
}

/** Where an approval message is, and the text it was posted with (its settled form adds the outcome). */
export interface PermissionMessageRef {
  channelId: string;
  messageId: string;
  text: string;
}

/** Discord's limits: a message's content, a button's label, a custom_id. */
const CONTENT_LIMIT = 2000;
const LABEL_LIMIT = 80;
const CUSTOM_ID_LIMIT = 100;
/** `perm:<action>:<session>:<request id>`: a Discord id and Claude Code's 5-letter request id. */
const CUSTOM_ID = /^perm:(allow|deny|always|details):([0-9]{5,20}):([a-km-z]{5})$/;

/** The custom_id of one button of an approval message. */
export function formatPermissionCustomId(action: PermissionAction, session: string, requestId: string): string {
  return `perm:${action}:${session}:${requestId}`;
}

/** Whether a custom_id is meant as an approval button (parsed strictly by `parsePermissionCustomId`). */
export function isPermissionCustomId(customId: string): boolean {
  return customId.startsWith('perm:');
}

/** A custom_id as a client sent it (untrusted), or undefined when it is not exactly one of ours. */
export function parsePermissionCustomId(customId: string): PermissionButton | undefined {
  if (customId.length > CUSTOM_ID_LIMIT) return undefined;
  const match = CUSTOM_ID.exec(customId);
  if (!match) return undefined;
  return { action: match[1] as PermissionAction, session: match[2]!, requestId: match[3]! };
}

/** "Always allow <tool> in this session", the tool name cut to fit a button. */
export function formatAlwaysLabel(tool: string): string {
  const [before, after] = ['Always allow ', ' in this session'];
  const room = LABEL_LIMIT - before.length - after.length;
  return `${before}${tool.length > room ? `${tool.slice(0, room - 1)}…` : tool}${after}`;
}

/** The row of an approval message: Allow, Deny, Always allow <tool>, Details. */
export function createPermissionButtons(request: PendingPermission): APIActionRowComponent<APIButtonComponentWithCustomId>[] {
  const button = (action: PermissionAction, label: string, style: APIButtonComponentWithCustomId['style']): APIButtonComponentWithCustomId => ({
    type: ComponentType.Button,
    style,
    label,
    custom_id: formatPermissionCustomId(action, request.session, request.request_id),
  });
  return [
    {
      type: ComponentType.ActionRow,
      components: [
        button('allow', 'Allow', ButtonStyle.Success),
        button('deny', 'Deny', ButtonStyle.Danger),
        button('always', formatAlwaysLabel(request.tool_name), ButtonStyle.Secondary),
        button('details', 'Details', ButtonStyle.Secondary),
      ],
    },
  ];
}

/** The text of an approval message, within Discord's limit with room left for its outcome line. */
export function formatPermissionMessage(request: PendingPermission, sessionName: string): string {
  // The outcome line names the tool (at most 200 characters) and the owner.
  return fit(formatPermissionRequest(request, sessionName), CONTENT_LIMIT - 400);
}

/** A settled approval message: its text, then how it ended. */
export function formatSettledPermission(text: string, request: PendingPermission, outcome: PermissionOutcome): string {
  const line = formatPermissionOutcome(outcome, request.tool_name);
  return fit(`${fit(text, CONTENT_LIMIT - line.length - 1)}\n${line}`, CONTENT_LIMIT);
}

/** What Details shows the owner: the whole description and input preview (a long one goes as a file). */
export function formatPermissionDetails(request: PendingPermission): string {
  const when = new Date(request.at).toISOString().slice(11, 19);
  const fence = '```';
  const preview = request.input_preview.trim().replaceAll(fence, "'''");
  return [
    `🔐 ${request.tool_name} (request ${request.request_id}, asked at ${when} UTC through the ${request.via === 'hook' ? 'PermissionRequest hook' : 'channel relay'})`,
    request.description.trim() || '(no description)',
    preview ? `${fence}\n${preview}\n${fence}` : '(no input preview)',
  ].join('\n');
}

function fit(text: string, limit: number): string {
  return text.length > limit ? `${text.slice(0, limit - 1)}…` : text;
}
