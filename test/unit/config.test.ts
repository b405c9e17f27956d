import { afterAll, beforeEach, describe, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  expandHome,
  expandPath,
  loadConfig,
  loadProfiles,
  loadStringMap,
  loadWorkdirMap,
  parseProfiles,
  requireSetting,
  resolveProfile,
} from '../../lib/core/config/config.ts';
import { CrsError } from '../../lib/core/util/errors.ts';
import { type Env, type Paths, resolvePaths } from '../../lib/core/config/paths.ts';
import { DISCORD, type Platform, TELEGRAM } from '../../lib/core/config/platform.ts';

const dir = mkdtempSync(join(tmpdir(), 'crs-config-'));
const HOME = join(dir, 'home');
const env: Env = { HOME, CLAUDE_CONFIG_DIR: join(dir, 'claude') };
const paths = resolvePaths(DISCORD, env);
const tgPaths = resolvePaths(TELEGRAM, env);

afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => {
  rmSync(env.CLAUDE_CONFIG_DIR!, { recursive: true, force: true });
  mkdirSync(paths.sessionsDir, { recursive: true });
  mkdirSync(tgPaths.sessionsDir, { recursive: true });
});

function writeConfig(text: string, p: Paths = paths): void {
  writeFileSync(p.configFile, text);
}

function thrown(fn: () => unknown): CrsError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CrsError);
    return error as CrsError;
  }
  throw new Error('expected a CrsError');
}

describe('resolvePaths', () => {
  test('everything lives under CLAUDE_CONFIG_DIR', () => {
    expect(paths.root).toBe(env.CLAUDE_CONFIG_DIR!);
    expect(paths.configFile).toBe(join(env.CLAUDE_CONFIG_DIR!, 'discord-sessions/config.env'));
    expect(paths.tokenFile).toBe(join(env.CLAUDE_CONFIG_DIR!, 'channels/discord/.env'));
    expect(tgPaths.registryFile).toBe(join(env.CLAUDE_CONFIG_DIR!, 'telegram-sessions/sessions.json'));
    expect(paths.projectsDir).toBe(join(env.CLAUDE_CONFIG_DIR!, 'projects'));
  });

  test('without CLAUDE_CONFIG_DIR the root is $HOME/.claude', () => {
    expect(resolvePaths(DISCORD, { HOME: '/h' }).root).toBe('/h/.claude');
    expect(resolvePaths(DISCORD, { HOME: '/h', CLAUDE_CONFIG_DIR: '' }).root).toBe('/h/.claude');
  });
});

describe('loadConfig', () => {
  test('defaults when config.env is missing', () => {
    const config = loadConfig(DISCORD, paths, env);
    expect(config).toEqual({
      file: paths.configFile,
      guildId: undefined,
      allowedUserIds: [],
      workdir: HOME,
      idleTimeoutMin: 120,
      watchdogIntervalS: 30,
      discoverIntervalS: 60,
      cleanupIntervalS: 300,
      statusChannelId: undefined,
      permissionMode: undefined,
      threadContextLimit: 20,
      sandbox: false,
      raw: {},
    });
  });

  test('reads every key, expanding $HOME to the sandbox home', () => {
    writeConfig(
      [
        '# my settings',
        'DISCORD_ALLOWED_USER_ID="111111, 222222 333333,"',
        'export DISCORD_GUILD_ID=123456789012345678',
        'DISCORD_SESSION_WORKDIR="$HOME/projects"',
        'DISCORD_IDLE_TIMEOUT=0',
        'DISCORD_WATCHDOG_INTERVAL=0.5',
        'DISCORD_DISCOVER_INTERVAL=1',
        "DISCORD_CLEANUP_INTERVAL='2'",
        'DISCORD_STATUS_CHANNEL_ID=987654321098765432',
        'CLAUDE_PERMISSION_MODE=acceptEdits',
        'DISCORD_THREAD_CONTEXT_LIMIT=5',
        'EXTRA=kept',
      ].join('\n'),
    );
    const config = loadConfig(DISCORD, paths, env);
    expect(config).toMatchObject({
      allowedUserIds: ['111111', '222222', '333333'],
      guildId: '123456789012345678',
      workdir: join(HOME, 'projects'),
      idleTimeoutMin: 0,
      watchdogIntervalS: 0.5,
      discoverIntervalS: 1,
      cleanupIntervalS: 2,
      statusChannelId: '987654321098765432',
      permissionMode: 'acceptEdits',
      threadContextLimit: 5,
    });
    expect(config.raw.EXTRA).toBe('kept');
  });

  test.each([
    ['~/w', join(HOME, 'w')],
    ['~', HOME],
    ['${HOME}/a b', join(HOME, 'a b')],
    ['/abs/path', '/abs/path'],
  ])('workdir %j becomes %j', (value, expected) => {
    writeConfig(`DISCORD_SESSION_WORKDIR="${value}"`);
    expect(loadConfig(DISCORD, paths, env).workdir).toBe(expected);
  });

  test('file values win over the environment; the environment fills the gaps; blanks count as unset', () => {
    writeConfig('DISCORD_IDLE_TIMEOUT=5\nDISCORD_GUILD_ID=" "');
    const config = loadConfig(DISCORD, paths, { ...env, DISCORD_IDLE_TIMEOUT: '9', DISCORD_WATCHDOG_INTERVAL: '7' });
    expect(config.idleTimeoutMin).toBe(5);
    expect(config.watchdogIntervalS).toBe(7);
    expect(config.guildId).toBeUndefined();
  });

  test('the file is read as data: a $(...) in it is an error, not a command', () => {
    writeConfig('DISCORD_GUILD_ID=123456\nDISCORD_SESSION_WORKDIR=$(touch /tmp/crs-pwned)');
    const error = thrown(() => loadConfig(DISCORD, paths, env));
    expect(error.message).toBe(`${paths.configFile} line 2: command substitution $(...) is not supported, the file is read as data.`);
  });

  test.each<[string, string, RegExp]>([
    ['DISCORD_IDLE_TIMEOUT', 'ten', /a number ≥ 0/],
    ['DISCORD_IDLE_TIMEOUT', '-1', /a number ≥ 0/],
    ['DISCORD_WATCHDOG_INTERVAL', '30s', /a number ≥ 0.05/],
    ['DISCORD_WATCHDOG_INTERVAL', '0', /a number ≥ 0.05/],
    ['DISCORD_DISCOVER_INTERVAL', 'NaN', /a number/],
    ['DISCORD_CLEANUP_INTERVAL', 'Infinity', /a number/],
    ['DISCORD_THREAD_CONTEXT_LIMIT', 'lots', /a number ≥ 0/],
    ['DISCORD_GUILD_ID', 'my-server', /a numeric Discord id/],
    ['DISCORD_GUILD_ID', '1234', /a numeric Discord id/],
    ['DISCORD_STATUS_CHANNEL_ID', '#status', /a numeric Discord id/],
    ['DISCORD_ALLOWED_USER_ID', '111,bob', /a numeric user id/],
    ['CLAUDE_PERMISSION_MODE', 'yolo', /one of acceptEdits, auto, bypassPermissions, default, dontAsk, plan/],
    ['IS_SANDBOX', 'maybe', /is not 1, true, yes, 0, false or no/],
    ['IS_SANDBOX', '2', /is not 1, true, yes, 0, false or no/],
  ])('%s=%j is refused with the file and the key', (key, value, expected) => {
    writeConfig(`DISCORD_GUILD_ID=123456\n${key}="${value}"`);
    const error = thrown(() => loadConfig(DISCORD, paths, env));
    expect(error.message).toStartWith(`${paths.configFile}: ${key}=`);
    expect(error.message).toMatch(expected);
    expect(error.hint).toBe(`Fix ${key} in ${paths.configFile}.`);
    expect(error.exitCode).toBe(1);
  });

  test.each<[string, boolean]>([
    ['1', true],
    ['true', true],
    ['TRUE', true],
    ['Yes', true],
    [' yes ', true],
    ['0', false],
    ['false', false],
    ['No', false],
    ['', false],
  ])('IS_SANDBOX=%j opts in: %p', (value, expected) => {
    writeConfig(`IS_SANDBOX="${value}"`);
    expect(loadConfig(DISCORD, paths, env).sandbox).toBe(expected);
  });

  test('IS_SANDBOX is read from the file only, never from the environment', () => {
    writeConfig('DISCORD_GUILD_ID=123456');
    expect(loadConfig(DISCORD, paths, { ...env, IS_SANDBOX: '1' }).sandbox).toBe(false);
    expect(loadConfig(DISCORD, paths, { ...env, IS_SANDBOX: 'garbage' }).sandbox).toBe(false);
  });

  test('a bad value from the environment is refused too', () => {
    const error = thrown(() => loadConfig(DISCORD, paths, { ...env, DISCORD_IDLE_TIMEOUT: 'soon' }));
    expect(error.message).toContain('DISCORD_IDLE_TIMEOUT="soon"');
  });

  test('Telegram uses its own prefix, ignores a guild id and takes negative chat ids', () => {
    writeConfig('TELEGRAM_ALLOWED_USER_ID=42\nTELEGRAM_IDLE_TIMEOUT=3\nDISCORD_GUILD_ID=1\nTELEGRAM_STATUS_CHANNEL_ID=-1001234567890', tgPaths);
    const config = loadConfig(TELEGRAM, tgPaths, env);
    expect(config).toMatchObject({ allowedUserIds: ['42'], idleTimeoutMin: 3, guildId: undefined, statusChannelId: '-1001234567890' });
  });
});

describe('requireSetting', () => {
  test('returns a value that is set, throws naming the key and file otherwise', () => {
    const config = loadConfig(DISCORD, paths, env);
    expect(requireSetting(config, 'x', 'K')).toBe('x');
    for (const missing of [undefined, [] as string[]]) {
      const error = thrown(() => requireSetting(config, missing, 'DISCORD_GUILD_ID'));
      expect(error.message).toBe(`DISCORD_GUILD_ID is not set in ${paths.configFile}.`);
      expect(error.hint).toContain('init');
    }
  });
});

describe('paths in JSON files', () => {
  test.each<[string, string]>([
    ['~', '/h'],
    ['~/x', '/h/x'],
    ['~user/x', '~user/x'],
    ['a/~/b', 'a/~/b'],
  ])('expandHome(%j) = %j', (input, expected) => {
    expect(expandHome(input, '/h')).toBe(expected);
  });

  test.each<[string, string]>([
    ['$HOME/p', '/h/p'],
    ['${HOME}/p', '/h/p'],
    ['$PROJECTS/app', '/srv/app'],
    ['${PROJECTS}-old', '/srv-old'],
    ['$UNSET/x', '/x'],
    ['~/p', '/h/p'],
    ['/plain', '/plain'],
  ])('expandPath(%j) = %j', (input, expected) => {
    expect(expandPath(input, { PROJECTS: '/srv', HOME: '/elsewhere' }, '/h')).toBe(expected);
  });

  test('loadWorkdirMap expands $VAR, ${VAR}, $HOME and ~ in every value', () => {
    writeFileSync(paths.workdirMap, JSON.stringify({ general: '$HOME/g', api: '${CODE}/api', infra: '$CODE/infra', notes: '~/notes', abs: '/opt/x' }));
    expect(loadWorkdirMap(paths, { ...env, CODE: '/code' })).toEqual({
      general: join(HOME, 'g'),
      api: '/code/api',
      infra: '/code/infra',
      notes: join(HOME, 'notes'),
      abs: '/opt/x',
    });
  });

  test('a missing or empty map is empty', () => {
    expect(loadWorkdirMap(paths, env)).toEqual({});
    writeFileSync(paths.workdirMap, '  \n');
    expect(loadWorkdirMap(paths, env)).toEqual({});
  });

  test('names that are Object.prototype members are not in the map', () => {
    writeFileSync(paths.workdirMap, '{"general": "/g"}');
    const map = loadStringMap(paths.workdirMap);
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) expect(map[name]).toBeUndefined();
    writeFileSync(paths.workdirMap, '{"__proto__": "/p", "constructor": "/c"}');
    const own = loadStringMap(paths.workdirMap);
    expect(own['__proto__']).toBe('/p');
    expect(own['constructor']).toBe('/c');
  });

  test.each<[string, string, RegExp]>([
    ['malformed JSON', '{"general": "/x",}', /is not valid JSON/],
    ['truncated JSON', '{"general": ', /is not valid JSON/],
    ['an array', '["/x"]', /must hold a JSON object/],
    ['a string', '"/x"', /must hold a JSON object/],
    ['null', 'null', /must hold a JSON object/],
    ['a number value', '{"general": 5}', /the value of "general" is not a string/],
    ['a nested object', '{"general": {"dir": "/x"}}', /the value of "general" is not a string/],
  ])('%s is an error naming the file', (_, text, pattern) => {
    writeFileSync(paths.workdirMap, text);
    const error = thrown(() => loadWorkdirMap(paths, env));
    expect(error.message).toStartWith(paths.workdirMap);
    expect(error.message).toMatch(pattern);
    expect(error.hint).toBeTruthy();
  });
});

describe('profiles.env', () => {
  const FILE = '/cfg/profiles.env';

  test.each<[string, string, Record<string, Record<string, string>>]>([
    ['empty file', '', { default: {} }],
    ['keys before any section are the default', 'CLAUDE_MODEL=sonnet', { default: { CLAUDE_MODEL: 'sonnet' } }],
    [
      'sections',
      '[default]\nCLAUDE_MODEL=sonnet\n\n[work]\nCLAUDE_CODE_OAUTH_TOKEN="tok en"\nCLAUDE_EFFORT=high\n',
      { default: { CLAUDE_MODEL: 'sonnet' }, work: { CLAUDE_CODE_OAUTH_TOKEN: 'tok en', CLAUDE_EFFORT: 'high' } },
    ],
    ['header with blanks and a comment', '  [ work ]  # the job\nA=1', { default: {}, work: { A: '1' } }],
    ['names with dots, dashes and underscores', '[a.b-c_d]\nA=1', { default: {}, 'a.b-c_d': { A: '1' } }],
    ['a repeated section merges', '[w]\nA=1\nB=1\n[w]\nB=2', { default: {}, w: { A: '1', B: '2' } }],
    ['top keys and [default] merge', 'A=1\n[default]\nB=2', { default: { A: '1', B: '2' } }],
    ['$HOME expands', '[w]\nDIR=$HOME/x', { default: {}, w: { DIR: '/h/x' } }],
    ['comments in sections', '[w]\n# note\nA=1 # why', { default: {}, w: { A: '1' } }],
  ])('%s', (_, text, expected) => {
    expect(parseProfiles(text, FILE, { HOME: '/h' })).toEqual(expected);
  });

  test.each<[string, string, string]>([
    ['an invalid section name', 'A=1\n\n[my profile]\nB=2', `${FILE} line 3: invalid profile name [my profile].`],
    ['an empty section name', '[]', `${FILE} line 1: invalid profile name [].`],
    ['a bad line in the second section keeps its line number', '[a]\nX=1\n[b]\nY=1\nZ=$(id)', `${FILE} line 5: command substitution $(...) is not supported, the file is read as data.`],
    ['a bad line before any section', 'X=1 2\n[a]', `${FILE} line 1: unexpected text after the value.`],
    ['an unclosed header', '[a\nX=1', `${FILE} line 1: expected KEY=value, found "[a".`],
  ])('%s', (_, text, message) => {
    expect(thrown(() => parseProfiles(text, FILE, {})).message).toBe(message);
  });

  const profiles = parseProfiles('[default]\nCLAUDE_MODEL=sonnet\nCLAUDE_EFFORT=low\n[work]\nCLAUDE_EFFORT=high\nTOKEN=w\n[bare]\n', FILE, {});

  test.each<[string, Record<string, string>]>([
    ['default', { CLAUDE_MODEL: 'sonnet', CLAUDE_EFFORT: 'low' }],
    ['work', { CLAUDE_MODEL: 'sonnet', CLAUDE_EFFORT: 'high', TOKEN: 'w' }],
    ['bare', { CLAUDE_MODEL: 'sonnet', CLAUDE_EFFORT: 'low' }],
  ])('resolveProfile(%j) merges [default] under it', (name, expected) => {
    expect(resolveProfile(profiles, name, FILE)).toEqual(expected);
  });

  test('default resolves even when profiles.env is empty', () => {
    expect(resolveProfile({}, 'default', FILE)).toEqual({});
  });

  test.each(['personal', 'constructor', 'toString', '__proto__'])('an unknown profile %j is an error naming the file', (name) => {
    const error = thrown(() => resolveProfile(profiles, name, FILE));
    expect(error.message).toBe(`Profile "${name}" is not defined in ${FILE}.`);
    expect(error.hint).toBe(`Add a [${name}] section there or change the channel's profile.`);
  });

  test('loadProfiles reads profiles.env with $HOME as the sandbox home; a missing file is no profiles', () => {
    expect(loadProfiles(paths, env)).toEqual({});
    writeFileSync(paths.profilesFile, '[work]\nCLAUDE_CONFIG=$HOME/.work\n');
    expect(loadProfiles(paths, env)).toEqual({ default: {}, work: { CLAUDE_CONFIG: join(HOME, '.work') } });
  });
});

describe('platforms', () => {
  const PLATFORMS: Record<string, Platform> = { discord: DISCORD, telegram: TELEGRAM };
  test.each<[string, string, boolean]>([
    ['discord', '123456789012345678', true],
    ['discord', '12345', true],
    ['discord', '1234', false],
    ['discord', '-123456', false],
    ['discord', '123456789012345678901', false],
    ['discord', '12345\n', false],
    ['discord', '../12345', false],
    ['telegram', '-1001234567890', true],
    ['telegram', '42', true],
    ['telegram', '4-2', false],
  ])('%s id %j valid: %p', (platform, id, ok) => {
    expect(PLATFORMS[platform]!.idPattern.test(id)).toBe(ok);
  });
});
