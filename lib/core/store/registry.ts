import { CrsError } from '../util/errors.ts';
import { cleanLine } from '../util/text.ts';
import { readOptionalFile } from '../config/config.ts';
import { ensurePrivateDir, writeFileAtomic } from './fs-atomic.ts';
import { withLock } from './lock.ts';
import type { Paths } from '../config/paths.ts';
import type { Platform } from '../config/platform.ts';

export type SessionType = 'channel' | 'thread' | 'chat';

/** One sessions.json entry, the original skill's shape (extra keys are kept as they are). */
export interface RegistryEntry {
  type: SessionType;
  name: string;
  tmux: string;
  parent: string | null;
  created: string;
  [extra: string]: unknown;
}

export type Registry = Record<string, RegistryEntry>;

const TYPES: readonly string[] = ['channel', 'thread', 'chat'];

/** Validates parsed sessions.json data; the error names the file and the entry. */
export function validateRegistry(data: unknown, file: string, platform: Platform): Registry {
  const broken = (what: string): never => {
    throw new CrsError(`${file} is not a valid session registry: ${what}.`, {
      hint: `Fix or move the file aside (mv ${file} ${file}.bad), then run \`${platform.cli} discover-all\` to rebuild it.`,
    });
  };
  if (typeof data !== 'object' || data === null || Array.isArray(data)) broken('expected a JSON object');
  for (const [id, entry] of Object.entries(data as object)) {
    if (!platform.idPattern.test(id)) broken(`key ${JSON.stringify(id)} is not ${platform.idDescription}`);
    const e = entry as Partial<RegistryEntry> | null;
    if (typeof e !== 'object' || e === null) broken(`entry ${id} is not an object`);
    if (!TYPES.includes(e!.type as string)) broken(`entry ${id} has type ${JSON.stringify(e!.type)}`);
    if (typeof e!.name !== 'string') broken(`entry ${id} has no name`);
    if (e!.parent !== undefined && e!.parent !== null && typeof e!.parent !== 'string') broken(`entry ${id} has a bad parent`);
    e!.tmux = `${platform.prefix}-${id}`;
    e!.parent ??= null;
    if (typeof e!.created !== 'string') e!.created = '';
  }
  return data as Registry;
}

/** Reads sessions.json; a missing file is an empty registry, a corrupt one an error (never `{}`). */
export function loadRegistry(paths: Paths, platform: Platform): Registry {
  const text = readOptionalFile(paths.registryFile);
  if (text === undefined || text.trim() === '') return {};
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new CrsError(`${paths.registryFile} is not valid JSON (${(error as Error).message}).`, {
      hint: `Fix or move the file aside (mv ${paths.registryFile} ${paths.registryFile}.bad), then run \`${platform.cli} discover-all\` to rebuild it.`,
      cause: error,
    });
  }
  return validateRegistry(data, paths.registryFile, platform);
}

/** Local time as the original skill wrote it: `2026-03-20T14:05:33`. */
export function formatCreated(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** Registry entries in creation order (the order of `list` and SESSIONS.md). */
export function sortedEntries(registry: Registry): [string, RegistryEntry][] {
  return Object.entries(registry).sort(([a, x], [b, y]) => x.created.localeCompare(y.created) || a.localeCompare(b));
}

function cell(text: string): string {
  return cleanLine(text).replace(/\|/g, '\\|').replace(/`/g, "'");
}

/** The SESSIONS.md table the original skill kept beside sessions.json. */
export function formatRegistryMarkdown(registry: Registry, platform: Platform): string {
  const lines = [
    `# Active ${platform.label} Sessions\n`,
    '| Channel/Thread ID | Type | tmux Session | Name | Parent | Created |',
    '|---|---|---|---|---|---|',
  ];
  for (const [id, e] of sortedEntries(registry)) {
    lines.push(`| ${id} | ${e.type} | \`${e.tmux}\` | ${cell(e.name)} | ${e.parent ?? '-'} | ${e.created} |`);
  }
  lines.push('');
  return lines.join('\n');
}

/**
 * Read-modify-write of sessions.json under the sessions-dir lock; `change` mutates the registry it
 * is given. Written to a temp file and renamed, SESSIONS.md rebuilt. A corrupt file is left untouched.
 */
export async function updateRegistry<T>(
  paths: Paths,
  platform: Platform,
  change: (registry: Registry) => T | Promise<T>,
): Promise<T> {
  ensurePrivateDir(paths.sessionsDir);
  return withLock(paths.lockFile, async () => {
    const registry = loadRegistry(paths, platform);
    const before = JSON.stringify(registry);
    const result = await change(registry);
    const after = JSON.stringify(registry, null, 2);
    if (JSON.stringify(registry) !== before || readOptionalFile(paths.registryFile) === undefined) {
      writeFileAtomic(paths.registryFile, `${after}\n`);
      writeFileAtomic(paths.registryMarkdown, formatRegistryMarkdown(registry, platform));
    }
    return result;
  });
}
