import { existsSync, lstatSync, readlinkSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readOptionalFile } from '../config/config.ts';
import { ensurePrivateDir, writeFileAtomic } from './fs-atomic.ts';

/** Small files of the per-session state folder. */
export const STATE_FILES = {
  sessionId: '.session-id',
  workdir: '.workdir',
  profile: '.profile',
  systemPrompt: '.system-prompt',
  suspended: '.suspended',
  pinned: '.no-idle',
  lastExit: 'last-exit',
  crash: '.crash.json',
  /** Where the conversation's transcript is or will be (the bridge confirms delivery from it). */
  transcript: '.transcript',
  /** The session is being stopped: nothing is pushed to it (cleared by the next start). */
  stopping: '.stopping',
  /** Why and when the session last had to start a new conversation (JSON). */
  newConversation: '.new-conversation',
  /** Held while the session is being (re)started, so two starts do not race. */
  startLock: '.start.lock',
  /** When the router last handed the session a message it took (ISO time). */
  lastIn: '.last-in',
  /** When the session last answered in its chat (ISO time). */
  lastOut: '.last-out',
  /** The environment its pane loads at start (0600: a profile's token may be in it). */
  launchEnv: '.launch-env',
} as const;

export type StateFile = keyof typeof STATE_FILES;

/** Reads one state file (trimmed for one-line values); undefined when absent. */
export function readState(dir: string, file: StateFile, trim = true): string | undefined {
  const text = readOptionalFile(join(dir, STATE_FILES[file]));
  return text === undefined ? undefined : trim ? text.trim() : text;
}

export function writeState(dir: string, file: StateFile, value: string): void {
  writeFileAtomic(join(dir, STATE_FILES[file]), value);
}

/** Records `at` (ms since the epoch) as an ISO time in a state file; a failed write is ignored (it is only shown). */
export function stampState(dir: string, file: StateFile, at: number): void {
  try {
    writeFileAtomic(join(dir, STATE_FILES[file]), `${new Date(at).toISOString()}\n`);
  } catch {}
}

export function removeState(dir: string, file: StateFile): void {
  rmSync(join(dir, STATE_FILES[file]), { force: true });
}

export function hasState(dir: string, file: StateFile): boolean {
  return existsSync(join(dir, STATE_FILES[file]));
}

export interface AccessOptions {
  /** User ids allowed to drive the session (DMs and in the channel). */
  allowFrom: string[];
  /** Channel/chat ids whose messages reach the session (its own, and a thread's parent). */
  groups: string[];
}

/**
 * Writes the plugin's access.json. The managed keys are rewritten from configuration every time
 * (so removing a user from config.env takes effect); other keys the user added are kept. Unlike the
 * original skill, a group's `allowFrom` is the owner list, not `[]` (which admits anyone in the guild).
 */
export function writeAccess(dir: string, options: AccessOptions): void {
  const file = join(dir, 'access.json');
  let current: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(readOptionalFile(file) ?? '{}');
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) current = parsed;
  } catch {
    // An unreadable access.json is replaced: it only holds what this function writes.
  }
  const groups: Record<string, unknown> = {};
  for (const id of options.groups) groups[id] = { requireMention: false, allowFrom: [...options.allowFrom] };
  const access = { ...current, dmPolicy: 'allowlist', allowFrom: [...options.allowFrom], groups, pending: {} };
  writeFileAtomic(file, `${JSON.stringify(access, null, 2)}\n`, 0o600);
}

/** Creates `<dir>/{approved,inbox}` (all 0700, the sessions folder too) and the `.env` link to the platform's token file. */
export function ensureStateDir(dir: string, tokenFile: string): void {
  ensurePrivateDir(dirname(dir));
  for (const sub of ['', 'approved', 'inbox']) ensurePrivateDir(join(dir, sub));
  const link = join(dir, '.env');
  try {
    const stat = lstatSync(link);
    if (stat.isSymbolicLink() && readlinkSync(link) === tokenFile) return;
    unlinkSync(link);
  } catch {}
  symlinkSync(tokenFile, link);
}

/**
 * The secret a session's bridge proves itself to the router with (`.link-secret`, 0600), created on
 * first use. Nothing but the owner can read the state folder, so nothing else can pose as a session.
 */
export function linkSecret(dir: string): string {
  const file = join(dir, '.link-secret');
  const existing = readOptionalFile(file)?.trim();
  if (existing && /^[0-9a-f]{64}$/.test(existing)) return existing;
  const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('hex');
  ensurePrivateDir(dir);
  writeFileAtomic(file, `${secret}\n`, 0o600);
  return secret;
}

/** Appends nothing, creates an empty marker file (`.suspended`, `.no-idle`). */
export function touchState(dir: string, file: StateFile, content = ''): void {
  ensurePrivateDir(dir);
  writeFileSync(join(dir, STATE_FILES[file]), content, { mode: 0o600 });
}

const ALWAYS_FILE = '.always-allow.json';
/** Tool names as Claude Code gives them (`Bash`, `mcp__server__tool`): anything else is not stored. */
const TOOL_NAME = /^[A-Za-z0-9_.:-]{1,200}$/;

/** The tools a session's owner allowed for good ("Always allow <tool> in this session"). */
export function loadAlwaysAllowed(stateDir: string): string[] {
  try {
    const data = JSON.parse(readOptionalFile(join(stateDir, ALWAYS_FILE)) ?? '{}') as { tools?: unknown };
    return Array.isArray(data.tools) ? data.tools.filter((t): t is string => typeof t === 'string' && TOOL_NAME.test(t)) : [];
  } catch {
    return [];
  }
}

export function addAlwaysAllowed(stateDir: string, tool: string): void {
  if (!TOOL_NAME.test(tool)) return;
  const tools = [...new Set([...loadAlwaysAllowed(stateDir), tool])].sort();
  writeFileAtomic(join(stateDir, ALWAYS_FILE), `${JSON.stringify({ tools }, null, 2)}\n`, 0o600);
}

/** Forgets every "always allow" of a session (`/allowed clear`, and a fresh conversation). */
export function clearAlwaysAllowed(stateDir: string): void {
  rmSync(join(stateDir, ALWAYS_FILE), { force: true });
}
