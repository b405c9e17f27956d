import { closeSync, existsSync, openSync, readSync, readdirSync, realpathSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Claude Code cuts a project slug to this many characters and appends a hash. */
const SLUG_MAX = 200;
/** How much of a transcript is read to tell whether it holds a conversation. */
const USABLE_PROBE_BYTES = 256 * 1024;

/** Java-style 32-bit string hash over UTF-16 code units, as Claude Code computes it for long slugs. */
function stringHash(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = ((h << 5) - h + text.charCodeAt(i)) | 0;
  return h;
}

/**
 * The folder name Claude Code keeps a working directory's transcripts under (`projects/<slug>/`):
 * every UTF-16 code unit that is not an ASCII letter or digit becomes `-` (so an emoji becomes two),
 * and a slug over 200 characters is cut and gets `-` + base 36 of the path's hash.
 */
export function projectSlug(path: string): string {
  const slug = path.replace(/[^a-zA-Z0-9]/g, '-');
  return slug.length <= SLUG_MAX ? slug : `${slug.slice(0, SLUG_MAX)}-${Math.abs(stringHash(path)).toString(36)}`;
}

/** The real path of a working directory (Claude Code resolves symlinks before it slugs). */
export function realWorkdir(workdir: string): string {
  try {
    return realpathSync(workdir);
  } catch {
    return workdir;
  }
}

/** Where a NEW conversation started in `workdir` under `configDir` writes its transcript. */
export function expectedTranscript(configDir: string, workdir: string, sessionId: string): string {
  return join(configDir, 'projects', projectSlug(realWorkdir(workdir)), `${sessionId}.jsonl`);
}

/**
 * The transcript of a conversation id under ANY project folder of any of the config dirs (a session's
 * own, its profile's, the ones it had before a profile switch); the newest when there are several.
 * Claude Code keeps appending to the file a conversation started in, whatever the later cwd.
 */
export function findTranscript(configDirs: string[], sessionId: string): string | undefined {
  let best: { path: string; mtime: number } | undefined;
  for (const dir of new Set(configDirs)) {
    const projects = join(dir, 'projects');
    let slugs: string[];
    try {
      slugs = readdirSync(projects, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    } catch {
      continue;
    }
    for (const slug of slugs) {
      const path = join(projects, slug, `${sessionId}.jsonl`);
      const stat = statSync(path, { throwIfNoEntry: false });
      if (stat?.isFile() && (!best || stat.mtimeMs > best.mtime)) best = { path, mtime: stat.mtimeMs };
    }
  }
  return best?.path;
}

/**
 * Whether a transcript holds a conversation Claude Code can resume. One that holds no user or
 * assistant message (e.g. only the `queue-operation` line of a message taken just before a crash)
 * makes both `--resume` and `--session-id` fail at once.
 */
export function isResumable(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return false;
  }
  try {
    const buffer = Buffer.alloc(USABLE_PROBE_BYTES);
    const read = readSync(fd, buffer, 0, buffer.length, 0);
    return /"type":\s*"(user|assistant)"/.test(buffer.toString('utf8', 0, read));
  } finally {
    closeSync(fd);
  }
}

/** Moves an unusable transcript aside (kept for the owner, out of Claude Code's way); returns the new path. */
export function setTranscriptAside(path: string, now: number): string {
  const aside = `${path}.unusable-${now}`;
  if (existsSync(path)) renameSync(path, aside);
  return aside;
}

/** The flags that start or continue a conversation: `--resume <transcript path>` once one exists, else `--session-id`. */
export type ResumeArgs = ['--session-id' | '--resume', string];

/**
 * `--resume <absolute transcript path>` works from any cwd and keeps the id, while `--resume <id>`
 * and `--session-id <id>` look only in the CURRENT cwd's project folder (FACTS.md): after a workdir or
 * profile change they fail ("No conversation found") or silently start a new conversation.
 */
export function resumeArgs(transcript: string | undefined, sessionId: string): ResumeArgs {
  return transcript ? ['--resume', transcript] : ['--session-id', sessionId];
}

/** A channel message a transcript line names: TAKEN (queued by the CLI) or RECORDED (in the conversation). */
export interface TranscriptMention {
  kind: 'taken' | 'recorded';
  chatId: string;
  messageId: string;
}

/**
 * Follows a session's transcript for what Claude Code did with channel messages. Two signs:
 * - TAKEN: the `{"type":"queue-operation","operation":"enqueue","content":"<channel … message_id=\"N\">…"}`
 *   line the CLI appends when it takes a channel message (flushed within ~100 ms; held back until the
 *   first turn starts in a conversation that has no transcript yet);
 * - RECORDED: the message in the conversation itself (a `user` line, or an `attachment` when it was
 *   queued during a busy turn).
 * A message taken by an EARLIER Claude Code process but never recorded was lost with that process,
 * so only what was taken since this watch started counts as taken; recorded counts whenever it was.
 */
export class TranscriptWatch {
  private offset = 0;
  /** Taken lines before this offset (of the expected file) are from an earlier process. */
  private readonly baseline: number;
  private partial = '';
  private readonly taken = new Set<string>();
  private readonly recorded = new Set<string>();
  /** Ids of the tool calls the model made, and of those that got a result (ran, failed or were refused). */
  readonly toolUses = new Set<string>();
  readonly toolResults = new Set<string>();
  private path: string | undefined;

  /**
   * `expected`: where the transcript is or will be; `locate` finds it when it is elsewhere (called
   * while the expected file does not exist).
   */
  constructor(
    private readonly expected: string,
    private readonly locate: () => string | undefined = () => undefined,
  ) {
    this.baseline = statSync(expected, { throwIfNoEntry: false })?.size ?? 0;
  }

  /** The transcript being followed, once it exists. */
  get file(): string | undefined {
    return this.path;
  }

  /** Whether Claude Code took (since this watch started) or recorded the message; reads what was appended first. */
  hasTaken(chatId: string, messageId: string): boolean {
    this.poll();
    const key = `${chatId}/${messageId}`;
    return this.taken.has(key) || this.recorded.has(key);
  }

  /** Reads new lines; returns the mentions in them. */
  poll(): TranscriptMention[] {
    if (!this.path) {
      this.path = existsSync(this.expected) ? this.expected : this.locate();
      if (!this.path) return [];
    }
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch {
      return [];
    }
    const found: TranscriptMention[] = [];
    try {
      const size = statSync(this.path).size;
      if (size < this.offset) {
        this.offset = 0;
        this.partial = '';
      }
      while (this.offset < size) {
        const buffer = Buffer.alloc(Math.min(size - this.offset, 1 << 20));
        const read = readSync(fd, buffer, 0, buffer.length, this.offset);
        if (read <= 0) break;
        const lineStart = this.offset - Buffer.byteLength(this.partial);
        this.offset += read;
        const lines = (this.partial + buffer.toString('utf8', 0, read)).split('\n');
        this.partial = lines.pop() ?? '';
        let at = lineStart;
        for (const line of lines) {
          const before = this.path === this.expected && at < this.baseline;
          at += Buffer.byteLength(line) + 1;
          if (line.includes('"tool_use')) for (const [kind, id] of parseToolIds(line)) (kind === 'use' ? this.toolUses : this.toolResults).add(id);
          for (const mention of parseMentions(line)) {
            if (mention.kind === 'taken' && before) continue;
            const set = mention.kind === 'taken' ? this.taken : this.recorded;
            const key = `${mention.chatId}/${mention.messageId}`;
            if (!set.has(key)) {
              set.add(key);
              found.push(mention);
            }
          }
        }
      }
    } finally {
      closeSync(fd);
    }
    return found;
  }
}

/** The tool calls (`use`) and tool results (`result`) a transcript line holds, by tool-use id. */
export function parseToolIds(line: string): Array<['use' | 'result', string]> {
  let entry: { type?: string; message?: { content?: unknown } };
  try {
    entry = JSON.parse(line);
  } catch {
    return [];
  }
  const content = entry.message?.content;
  if (!Array.isArray(content)) return [];
  const ids: Array<['use' | 'result', string]> = [];
  for (const block of content as Array<{ type?: string; id?: unknown; tool_use_id?: unknown }>) {
    if (entry.type === 'assistant' && block.type === 'tool_use' && typeof block.id === 'string') ids.push(['use', block.id]);
    if (entry.type === 'user' && block.type === 'tool_result' && typeof block.tool_use_id === 'string') ids.push(['result', block.tool_use_id]);
  }
  return ids;
}

const CHANNEL_TAG = /<channel\b[^>]*>/g;
const ATTRIBUTE = (name: string) => new RegExp(`\\s${name}="([^"]*)"`);

/** Every channel message a transcript line names, as taken (queue-operation enqueue) or recorded (user/attachment). */
export function parseMentions(line: string): TranscriptMention[] {
  if (!line.includes('<channel')) return [];
  let entry: { type?: string; operation?: string; content?: unknown; message?: unknown; attachment?: unknown };
  try {
    entry = JSON.parse(line);
  } catch {
    return [];
  }
  let kind: TranscriptMention['kind'];
  let body: unknown;
  if (entry.type === 'queue-operation' && entry.operation === 'enqueue') [kind, body] = ['taken', entry.content];
  else if (entry.type === 'user') [kind, body] = ['recorded', entry.message];
  else if (entry.type === 'attachment') [kind, body] = ['recorded', entry.attachment];
  else return [];
  const mentions: TranscriptMention[] = [];
  for (const text of strings(body)) {
    for (const tag of text.match(CHANNEL_TAG) ?? []) {
      const chatId = ATTRIBUTE('chat_id').exec(tag)?.[1];
      const messageId = ATTRIBUTE('message_id').exec(tag)?.[1];
      if (chatId !== undefined && messageId !== undefined) mentions.push({ kind, chatId, messageId });
    }
  }
  return mentions;
}

/** Every string inside a JSON value. */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}
