import type { ConsolaInstance } from 'consola';
import { classifyPane, isStartupDialog } from '../host/pane.ts';
import { SEND_KEYS, planSend } from '../host/send-keys.ts';
import type { Platform } from '../config/platform.ts';
import { formatCondition, formatNewConversation, formatSessionLine, formatSpawn, joinWithin } from '../sessions/format.ts';
import { type SessionManager, type SessionRow, isRunning } from '../sessions/manager.ts';
import { clearAlwaysAllowed, loadAlwaysAllowed } from '../store/state.ts';
import { cleanLine } from '../util/text.ts';
import { pollUntil } from '../util/poll.ts';

/**
 * The chat commands every platform offers an owner, written once: each takes the session of the chat
 * it was sent in and returns the text to answer with. Telegram renders them as bot commands, Discord
 * as `/session` subcommands.
 */
export const CHAT_COMMANDS = [
  { name: 'sessions', description: 'All sessions and their status', usage: '' },
  { name: 'status', description: "This chat's session", usage: '' },
  { name: 'restart', description: 'Restart (same conversation)', usage: '' },
  { name: 'fresh', description: 'Restart with a new conversation', usage: '' },
  { name: 'kill', description: 'Stop the session until woken', usage: '' },
  { name: 'wake', description: 'Start it again', usage: '' },
  { name: 'workdir', description: 'Show or change the working directory', usage: '[path]' },
  { name: 'profile', description: 'Show or switch the profile (same conversation)', usage: '[name]' },
  { name: 'send', description: 'Answer a dialog: a key (1, 2, enter, esc…) or text', usage: '<key or text>' },
  { name: 'allowed', description: 'Tools always allowed in this session; `clear` forgets them', usage: '[clear]' },
] as const;

/**
 * The longest answer each platform posts in one message: Telegram's limit, and Discord's less the code
 * fence its answers are wrapped in.
 */
export const CHAT_ANSWER_LIMIT: Record<Platform['key'], number> = { telegram: 4096, discord: 2000 - '```\n\n```'.length };

export type ChatCommandName = (typeof CHAT_COMMANDS)[number]['name'];

/**
 * Commands whose answer shows private data (paths, conversation ids, other chats, allowed tools): it
 * is never posted where others read (Discord answers only the owner, Telegram in the owner's own chat).
 */
export const PRIVATE_CHAT_COMMANDS: readonly ChatCommandName[] = ['sessions', 'status', 'workdir', 'allowed'];

export function isChatCommand(name: string): name is ChatCommandName {
  return CHAT_COMMANDS.some((c) => c.name === name);
}

export interface ChatCommandContext {
  manager: SessionManager;
  log: ConsolaInstance;
  /** The session of the chat the command was sent in. */
  session: string;
  /** Who sent it (for the log). */
  actor: string;
  /** How the platform spells a command in answers: `/wake` (default), `/session wake`. */
  spell?: (name: ChatCommandName) => string;
}

/** Runs one chat command; throws a CrsError (answered as ⚠️ by the caller) for a refused change. */
export async function runChatCommand(name: ChatCommandName, input: string, ctx: ChatCommandContext): Promise<string> {
  const { manager, session } = ctx;
  const wake = spell(ctx, 'wake');
  if (name === 'sessions') {
    const rows = await manager.list();
    const now = manager.deps.clock.now();
    return rows.length ? joinWithin(rows.map((r) => formatSessionLine(r, now, manager.paths.home)), CHAT_ANSWER_LIMIT[manager.platform.key]) : 'No sessions yet.';
  }
  const row = (await manager.list()).find((r) => r.id === session);
  if (!row) return 'This chat has no session yet: send a message to start one.';
  switch (name) {
    case 'status':
      return formatStatus(row);
    case 'restart':
    case 'fresh':
      return formatSpawn(await manager.restart(session, { fresh: name === 'fresh' })).join('\n');
    case 'kill':
      await manager.stop(session);
      return `Stopped ${row.tmux}. ${wake} (or a new message) starts it again.`;
    case 'wake':
      return formatSpawn(await manager.wake(session)).join('\n');
    case 'workdir': {
      const path = input.trim();
      if (!path) return `workdir: ${row.workdir ?? '—'}`;
      return [`workdir → ${path}`, ...formatSpawn(await manager.restart(session, { workdir: path }))].join('\n');
    }
    case 'profile': {
      const profile = input.trim();
      if (!profile) return `profile: ${row.profile} · available: ${manager.profileNames().join(', ')}`;
      return [`profile → ${profile}`, ...formatSpawn(await manager.switchProfile(session, profile))].join('\n');
    }
    case 'send':
      return sendKeys(row, input, ctx);
    case 'allowed': {
      const dir = manager.stateDir(session);
      if (input.trim() === 'clear') {
        clearAlwaysAllowed(dir);
        return 'No tool is always allowed in this session any more: each asks again.';
      }
      if (input.trim()) return `Usage: ${spell(ctx, 'allowed')} [clear]`;
      const tools = loadAlwaysAllowed(dir);
      return tools.length ? `Always allowed in this session: ${tools.join(', ')}. ${spell(ctx, 'allowed')} clear forgets them.` : 'No tool is always allowed in this session.';
    }
  }
}

/** How long an answered start-up dialog may take to go away before what follows it is looked at anyway. */
const DIALOG_GONE_MS = 5000;
const DIALOG_POLL_MS = 100;

/**
 * Once an answered start-up dialog is gone, answers the development-channel confirmation that may
 * follow, as at every start. Looked at while the answered dialog still shows, the pane would end that
 * wait at once (it answers no dialog of the owner's) and the confirmation would stay unanswered.
 */
async function afterDialog(manager: SessionManager, tmux: string, answered: string): Promise<void> {
  const { clock, tmux: panes } = manager.deps;
  const gone = async () => classifyPane(await panes.capturePane(tmux).catch(() => ''), { platform: manager.platform.key }).kind !== answered;
  await pollUntil(gone, { timeoutMs: DIALOG_GONE_MS, intervalMs: DIALOG_POLL_MS, clock });
  await manager.deps.afterStart?.(tmux);
}

function spell(ctx: ChatCommandContext, name: ChatCommandName): string {
  return ctx.spell?.(name) ?? `/${name}`;
}

/** A session's state, cause and fix, and where it runs: the answer to `status`. */
export function formatStatus(row: SessionRow): string {
  return [
    `${row.status}  ${cleanLine(row.name)}`,
    ...(row.condition ? formatCondition(row.condition) : []),
    ...(row.newConversation ? [formatNewConversation(row.newConversation)] : []),
    `tmux: ${row.tmux}`,
    `profile: ${row.profile}`,
    `workdir: ${row.workdir ?? '—'}`,
    `session: ${row.sessionId ?? '—'}`,
  ].join('\n');
}

/**
 * `send <key or text>`: the owner's keys into the session's pane (the way to answer a dialog from the
 * phone). After a start-up dialog, the development-channel confirmation that may follow is answered
 * as at every start. Chat messages never take this path: they go through the inbox.
 */
async function sendKeys(row: SessionRow, input: string, ctx: ChatCommandContext): Promise<string> {
  const { manager, log } = ctx;
  const platform: Platform['key'] = manager.platform.key;
  if (!input.trim()) return `Usage: ${spell(ctx, 'send')} <key or text>. Keys: ${Object.keys(SEND_KEYS).join(', ')}; anything else is typed, then Enter.`;
  if (!isRunning(row.status)) return `The session is ${row.status}: ${spell(ctx, 'wake')} starts it.`;
  const before = classifyPane(await manager.deps.tmux.capturePane(row.tmux).catch(() => ''), { platform });
  const plan = planSend(input);
  if (plan.kind === 'keys') await manager.deps.tmux.sendKeys(row.tmux, plan.keys);
  else {
    if (!plan.text) return 'Nothing to send: give a key name or some text.';
    await manager.deps.tmux.sendKeys(row.tmux, [plan.text], true);
    await manager.deps.tmux.sendKeys(row.tmux, ['Enter']);
  }
  log.info(`send ${plan.kind === 'keys' ? plan.keys.join('+') : `(${plan.text.length} characters)`} to ${row.tmux} by user ${ctx.actor}`);
  if (isStartupDialog(before.kind)) void afterDialog(manager, row.tmux, before.kind).catch(() => {});
  return plan.kind === 'keys' ? `Sent ${plan.keys.join(' + ')}` : `Typed: ${plan.text.slice(0, 200)}`;
}
