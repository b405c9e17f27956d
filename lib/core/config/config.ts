import { readFileSync } from 'node:fs';
import { CrsError, errnoCode } from '../util/errors.ts';
import { parseEnvText } from './env-file.ts';
import type { Env, Paths } from './paths.ts';
import type { Platform } from './platform.ts';

export const PERMISSION_MODES = ['acceptEdits', 'auto', 'bypassPermissions', 'default', 'dontAsk', 'plan'] as const;
export type PermissionMode = (typeof PERMISSION_MODES)[number];

/** The typed settings of config.env, with the original skill's defaults. */
export interface Config {
  file: string;
  guildId?: string;
  allowedUserIds: string[];
  workdir: string;
  idleTimeoutMin: number;
  watchdogIntervalS: number;
  discoverIntervalS: number;
  cleanupIntervalS: number;
  statusChannelId?: string;
  /** Unset = `--dangerously-skip-permissions`, as the original skill ran. */
  permissionMode?: PermissionMode;
  threadContextLimit: number;
  /** `IS_SANDBOX` of the file (never of the environment): sessions get `IS_SANDBOX=1`, so a bypass mode runs as root. */
  sandbox?: boolean;
  /** Every key of the file, for platform-specific extras. */
  raw: Record<string, string>;
}

/** Reads a file, or returns undefined when it does not exist; other failures name the path. */
export function readOptionalFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined;
    throw new CrsError(`Cannot read ${path}: ${(error as Error).message}.`, { cause: error, hint: 'Check its permissions.' });
  }
}

/** Loads config.env (file values win over the process environment, as `source` did) and validates it. */
export function loadConfig(platform: Platform, paths: Paths, env: Env): Config {
  const text = readOptionalFile(paths.configFile);
  const raw = text === undefined ? {} : parseEnvText(text, paths.configFile, { ...env, HOME: paths.home });
  const P = platform.configPrefix;
  const get = (key: string): string | undefined => {
    const value = raw[key] ?? env[key];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };
  const bad = (key: string, value: string, expected: string): never => {
    throw new CrsError(`${paths.configFile}: ${key}=${JSON.stringify(value)} is not ${expected}.`, {
      hint: `Fix ${key} in ${paths.configFile}.`,
    });
  };
  const number = (key: string, fallback: number, min: number): number => {
    const value = get(key);
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isFinite(n) || n < min) bad(key, value, `a number ≥ ${min}`);
    return n;
  };
  const id = (key: string): string | undefined => {
    const value = get(key);
    if (value !== undefined && !platform.idPattern.test(value)) bad(key, value, platform.idDescription);
    return value;
  };

  const users = (get(`${P}_ALLOWED_USER_ID`) ?? '').split(/[\s,]+/).filter(Boolean);
  for (const user of users) if (!/^[0-9]{1,20}$/.test(user)) bad(`${P}_ALLOWED_USER_ID`, user, 'a numeric user id');

  const mode = get('CLAUDE_PERMISSION_MODE');
  if (mode !== undefined && !(PERMISSION_MODES as readonly string[]).includes(mode)) {
    bad('CLAUDE_PERMISSION_MODE', mode, `one of ${PERMISSION_MODES.join(', ')}`);
  }
  // Only the file opts in: an IS_SANDBOX exported by a shell must not switch the root check off by accident.
  const sandbox = (raw.IS_SANDBOX ?? '').trim().toLowerCase();
  if (!['', '0', 'false', 'no', '1', 'true', 'yes'].includes(sandbox)) bad('IS_SANDBOX', raw.IS_SANDBOX!, '1, true, yes, 0, false or no');

  return {
    file: paths.configFile,
    guildId: platform.key === 'discord' ? id(`${P}_GUILD_ID`) : undefined,
    allowedUserIds: users,
    workdir: expandHome(get(`${P}_SESSION_WORKDIR`) ?? paths.home, paths.home),
    idleTimeoutMin: number(`${P}_IDLE_TIMEOUT`, 120, 0),
    watchdogIntervalS: number(`${P}_WATCHDOG_INTERVAL`, 30, 0.05),
    discoverIntervalS: number(`${P}_DISCOVER_INTERVAL`, 60, 0.05),
    cleanupIntervalS: number(`${P}_CLEANUP_INTERVAL`, 300, 0.05),
    statusChannelId: id(`${P}_STATUS_CHANNEL_ID`),
    permissionMode: mode as PermissionMode | undefined,
    threadContextLimit: number(`${P}_THREAD_CONTEXT_LIMIT`, 20, 0),
    sandbox: ['1', 'true', 'yes'].includes(sandbox),
    raw,
  };
}

/** Throws the standard error when a setting every session needs is missing. */
export function requireSetting<T>(config: Config, value: T | undefined, key: string): T {
  if (value === undefined || (Array.isArray(value) && value.length === 0)) {
    throw new CrsError(`${key} is not set in ${config.file}.`, {
      hint: `Add ${key}="..." there, or run the init command.`,
    });
  }
  return value;
}

/** `~` and `~/x` become paths under home. */
export function expandHome(path: string, home: string): string {
  if (path === '~') return home;
  if (path.startsWith('~/')) return home + path.slice(1);
  return path;
}

/** Expands `$VAR`, `${VAR}` and a leading `~` in a path taken from a JSON file. */
export function expandPath(path: string, env: Env, home: string): string {
  const expanded = path.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_, a, b) => {
    const name = (a ?? b) as string;
    return name === 'HOME' ? home : (env[name] ?? '');
  });
  return expandHome(expanded, home);
}

/** Reads a JSON object whose values are all strings (workdir-map.json, channel-profiles.json). */
export function loadStringMap(file: string): Record<string, string> {
  const text = readOptionalFile(file);
  // No prototype: a channel named "constructor" must not find Object.prototype.constructor.
  const result: Record<string, string> = Object.create(null);
  if (text === undefined || text.trim() === '') return result;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new CrsError(`${file} is not valid JSON: ${(error as Error).message}.`, {
      hint: 'Fix the file; it maps channel names to strings, e.g. {"general": "$HOME/project"}.',
      cause: error,
    });
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new CrsError(`${file} must hold a JSON object.`, { hint: 'Use {"channel-name": "value", ...}.' });
  }
  for (const [key, value] of Object.entries(data)) {
    if (typeof value !== 'string') {
      throw new CrsError(`${file}: the value of ${JSON.stringify(key)} is not a string.`, {
        hint: 'Every value must be a quoted string.',
      });
    }
    result[key] = value;
  }
  return result;
}

/** workdir-map.json: channel name → directory, with `$VAR` expanded. */
export function loadWorkdirMap(paths: Paths, env: Env): Record<string, string> {
  const map = loadStringMap(paths.workdirMap);
  for (const key of Object.keys(map)) map[key] = expandPath(map[key]!, env, paths.home);
  return map;
}

export type Profiles = Record<string, Record<string, string>>;

/** profiles.env: INI sections of KEY=value lines (`[default]`, `[work]`, ...). */
export function parseProfiles(text: string, file: string, env: Env): Profiles {
  const profiles: Profiles = {};
  let section = 'default';
  let body: string[] = [];
  let startLine = 1;
  const flush = () => {
    const padding = '\n'.repeat(startLine - 1);
    const values = parseEnvText(padding + body.join('\n'), file, env);
    profiles[section] = { ...profiles[section], ...values };
  };
  const lines = text.split('\n');
  lines.forEach((line, index) => {
    const header = /^\s*\[([^\]]*)\]\s*(#.*)?$/.exec(line);
    if (!header) {
      body.push(line);
      return;
    }
    flush();
    section = header[1]!.trim();
    if (!/^[A-Za-z0-9_.-]+$/.test(section)) {
      throw new CrsError(`${file} line ${index + 1}: invalid profile name [${section}].`, {
        hint: 'Use letters, digits, ".", "_" or "-".',
      });
    }
    body = [];
    startLine = index + 2;
  });
  flush();
  return profiles;
}

export function loadProfiles(paths: Paths, env: Env): Profiles {
  const text = readOptionalFile(paths.profilesFile);
  return text === undefined ? {} : parseProfiles(text, paths.profilesFile, { ...env, HOME: paths.home });
}

/** A profile's settings: `[default]` merged under the named section. Unknown names are an error. */
export function resolveProfile(profiles: Profiles, name: string, file: string): Record<string, string> {
  if (name !== 'default' && !Object.hasOwn(profiles, name)) {
    throw new CrsError(`Profile "${name}" is not defined in ${file}.`, {
      hint: `Add a [${name}] section there or change the channel's profile.`,
    });
  }
  return { ...profiles.default, ...profiles[name] };
}
