import { closeSync, mkdirSync, openSync, readFileSync, realpathSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { DISCORD, TELEGRAM } from '../core/config/platform.ts';
import { CrsError, errnoCode } from '../core/util/errors.ts';

const MB = 1024 * 1024;

/** How many files one reply may carry and how big each may be. */
export interface UploadLimits {
  /** Files per reply; unlimited when absent. */
  maxFiles?: number;
  maxFileBytes: number;
}

/** Discord: 10 attachments per message, 25 MB each (the official plugin's caps). */
export const DISCORD_UPLOAD_LIMITS: UploadLimits = { maxFiles: 10, maxFileBytes: 25 * MB };
/** Telegram: 50 MB per file (the Bot API's upload limit). */
export const TELEGRAM_UPLOAD_LIMITS: UploadLimits = { maxFileBytes: 50 * MB };
/** Telegram bots may download files of at most 20 MB. */
export const TELEGRAM_DOWNLOAD_MAX_BYTES = 20 * MB;
/** Discord attachments are downloaded up to the official plugin's 25 MB. */
export const DISCORD_DOWNLOAD_MAX_BYTES = 25 * MB;

const DOWNLOADS_DIR = 'downloads';
/** Longest file name a download gets (before its unique prefix). */
const MAX_NAME_LENGTH = 100;

/** Where a session keeps its secrets and its configuration: what a tool may never send. */
export interface FileGuardOptions {
  /** The session's state dir; only its downloads/ folder may be sent from it. */
  stateDir: string;
  /** Claude config roots: ours first, then each profile's CLAUDE_CONFIG_DIR. */
  configDirs: string[];
  /** $HOME, where Claude Code keeps `.claude.json` when CLAUDE_CONFIG_DIR is unset. */
  home: string;
}

/** A file checked for sending: its real path, the name it is sent under and its size. */
export interface SendableFile {
  path: string;
  real: string;
  name: string;
  size: number;
}

/**
 * Checks every file a reply wants to attach before anything is sent: count, existence, the guard
 * (`assertSendable`) and the size cap. Throws a CrsError naming the first file that fails.
 */
export function resolveUploads(files: unknown, guard: FileGuardOptions, limits: UploadLimits): SendableFile[] {
  if (files === undefined || files === null) return [];
  if (!Array.isArray(files) || files.some((f) => typeof f !== 'string')) throw new CrsError('files must be a list of absolute file paths.');
  if (limits.maxFiles !== undefined && files.length > limits.maxFiles) {
    throw new CrsError(`Too many files: ${files.length}, at most ${limits.maxFiles} per message.`, { hint: 'Send them in several replies.' });
  }
  return (files as string[]).map((file) => {
    const checked = assertSendable(file, guard);
    if (checked.size > limits.maxFileBytes) {
      throw new CrsError(`File too large: ${file} (${formatMegabytes(checked.size)}, at most ${formatMegabytes(limits.maxFileBytes)}).`, {
        hint: 'Compress or split it first.',
      });
    }
    return checked;
  });
}

/**
 * Refuses a file a tool must never send: anything under the session's state dir (except its downloads/),
 * the sessions dirs, the bot token dirs (`<root>/channels/`), Claude's `.claude.json`, `.credentials.json`
 * and `settings*.json`, and any `.env` file anywhere. Paths are resolved with realpath, so neither a symlink
 * nor `..` gets around it. A missing file or a folder is a clear error too.
 */
export function assertSendable(file: string, guard: FileGuardOptions): SendableFile {
  if (!isAbsolute(file)) throw new CrsError(`Not an absolute path: ${JSON.stringify(file)}.`, { hint: 'Pass files as absolute paths.' });
  let real: string;
  let size: number;
  try {
    real = realpathSync(file);
    const stat = statSync(real);
    if (!stat.isFile()) throw new CrsError(`Not a file: ${file}.`, { hint: 'Attach files, not folders.' });
    size = stat.size;
  } catch (error) {
    if (error instanceof CrsError) throw error;
    if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') throw new CrsError(`No such file: ${file}.`, { cause: error });
    throw new CrsError(`Cannot read ${file}: ${errnoCode(error) ?? String(error)}.`, { cause: error });
  }
  const reason = refusalOf(resolve(file), guard) ?? refusalOf(real, guard);
  if (reason) {
    throw new CrsError(`Refusing to send ${file}: it is ${reason}.`, { hint: 'Secrets and session state never leave the machine through the chat.' });
  }
  return { path: file, real, name: basename(file), size };
}

/** The session's downloads folder, `<state>/downloads/` (created 0700). */
export function downloadsDir(stateDir: string): string {
  const dir = join(stateDir, DOWNLOADS_DIR);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** A file name from a chat made safe: letters, digits, `.`, `-`, `_` only, no leading dot, bounded length. */
export function sanitizeFileName(name: string | undefined): string {
  const cleaned = (name ?? '')
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/^[._-]+/, '')
    .replace(/\.{2,}/g, '.');
  const trimmed = cleaned.length > MAX_NAME_LENGTH ? cleaned.slice(cleaned.length - MAX_NAME_LENGTH).replace(/^[._-]+/, '') : cleaned;
  return trimmed || 'file';
}

/**
 * Writes downloaded bytes to `<state>/downloads/<time>-<unique>-<safe name>`, mode 0600, never over an
 * existing file; returns the path.
 */
export function saveDownload(stateDir: string, name: string | undefined, bytes: Uint8Array, unique = ''): string {
  const dir = downloadsDir(stateDir);
  const prefix = [String(Date.now()), sanitizeFileName(unique).slice(0, 40)].filter((p) => p && p !== 'file').join('-');
  const safe = sanitizeFileName(name);
  for (let attempt = 0; ; attempt++) {
    const path = join(dir, `${prefix}${attempt ? `-${attempt}` : ''}-${safe}`);
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o600);
    } catch (error) {
      if (errnoCode(error) === 'EEXIST' && attempt < 100) continue;
      throw new CrsError(`Cannot save the download to ${path}: ${errnoCode(error) ?? String(error)}.`, { cause: error });
    }
    try {
      writeSync(fd, bytes);
    } finally {
      closeSync(fd);
    }
    return path;
  }
}

/** The body of a download, refused once it grows past `maxBytes` (whatever Content-Length claimed). */
export async function readCapped(response: Response, maxBytes: number, what: string): Promise<Uint8Array> {
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) throw new CrsError(`${what} is too large: ${formatMegabytes(declared)}, at most ${formatMegabytes(maxBytes)}.`);
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (response.body) {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      total += chunk.byteLength;
      if (total > maxBytes) {
        await response.body.cancel().catch(() => {});
        throw new CrsError(`${what} is too large: over ${formatMegabytes(maxBytes)}.`);
      }
      chunks.push(chunk);
    }
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** The bytes of a checked file, read from its real path. */
export function readSendable(file: SendableFile): Uint8Array {
  return readFileSync(file.real);
}

/** Why `path` must not be sent, or undefined. */
function refusalOf(path: string, guard: FileGuardOptions): string | undefined {
  const name = basename(path);
  if (/^\.env(\..*)?$/.test(name)) return 'an environment file (.env)';
  const parent = dirname(path);
  for (const root of guard.configDirs.flatMap(variants)) {
    if (parent === root && (name === '.claude.json' || name === '.credentials.json' || /^settings.*\.json$/.test(name))) return "Claude Code's configuration or credentials";
  }
  if (variants(guard.home).some((home) => path === join(home, '.claude.json'))) return "Claude Code's configuration";
  if (guard.configDirs.flatMap((root) => variants(join(root, 'channels'))).some((d) => isInside(path, d))) return 'in the bot token folder';
  const stateDirs = variants(guard.stateDir);
  // The one exception: what this session downloaded (its downloads/ folder, if it really lies in the state dir).
  const downloads = variants(join(guard.stateDir, DOWNLOADS_DIR)).filter((d) => stateDirs.some((s) => isInside(d, s) && d !== s));
  if (downloads.some((d) => isInside(path, d) && path !== d)) return undefined;
  if (stateDirs.some((d) => isInside(path, d))) return "in this session's state folder";
  const sessionDirs = guard.configDirs.flatMap((root) => [DISCORD, TELEGRAM].flatMap((p) => variants(join(root, p.sessionsDirName))));
  if (sessionDirs.some((d) => isInside(path, d))) return 'in the sessions folder';
  return undefined;
}

/** A path as given (resolved) and, when it exists, as its real path. */
function variants(path: string): string[] {
  const resolved = resolve(path);
  try {
    const real = realpathSync(resolved);
    return real === resolved ? [resolved] : [resolved, real];
  } catch {
    return [resolved];
  }
}

function isInside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

function formatMegabytes(bytes: number): string {
  return `${(bytes / MB).toFixed(1)} MB`;
}
