import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { v4 as uuidv4, v5 as uuidv5, validate } from 'uuid';

/**
 * The namespace of the original skill's UUID v5 ids: keeping it means a channel's conversation id is
 * the same as before the switch, so existing sessions resume their conversations.
 */
export const SESSION_ID_NAMESPACE = 'a1b2c3d4-e5f6-4789-abcd-ef0123456789';

/** The deterministic conversation id of a channel/thread/chat. */
export function sessionIdFor(id: string): string {
  return uuidv5(id, SESSION_ID_NAMESPACE);
}

/** A random id for `--fresh`. */
export function freshSessionId(): string {
  return uuidv4();
}

export function isSessionId(value: string): boolean {
  return validate(value);
}

/** Whether Claude Code has a transcript for this id under `projects/<any cwd slug>/<id>.jsonl`. */
export function hasTranscript(projectsDir: string, sessionId: string): boolean {
  let slugs: string[];
  try {
    slugs = readdirSync(projectsDir);
  } catch {
    return false;
  }
  return slugs.some((slug) => existsSync(join(projectsDir, slug, `${sessionId}.jsonl`)));
}

/**
 * `--session-id` on the first start only: once the transcript exists, real Claude Code refuses the
 * same `--session-id` ("Session ID … is already in use", exit 1) and a respawn would crash-loop, so
 * any later start continues the conversation with `--resume`.
 */
export function launchMode(projectsDir: string, sessionId: string): ['--session-id' | '--resume', string] {
  return [hasTranscript(projectsDir, sessionId) ? '--resume' : '--session-id', sessionId];
}
