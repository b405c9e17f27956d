import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expandHome, loadProfiles, loadStringMap, loadWorkdirMap, resolveProfile } from '../config/config.ts';
import { CrsError } from '../util/errors.ts';
import type { SessionManager } from './manager.ts';
import { type ChannelOffKey, findChannelOffKeys, formatChannelOffKeys, isBypassMode, loadSettingsEnv, profileOptsIn, rootBypassError } from '../host/preflight.ts';

/** The oldest Claude Code with channels (`--channels`) and the flags the sessions are started with. */
export const MIN_CLAUDE_VERSION = '2.1.80';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /** What to do when it failed (or, for a warning, what to consider). */
  fix?: string;
  /** Passed, but with something worth acting on: shown as `!`, does not fail doctor. */
  warning?: boolean;
}

/** What one check found. */
export type CheckResult = Omit<Check, 'name'>;

/** A named check; `fallbackFix` is the fix when it throws an error that names none. */
export type CheckSpec = [name: string, run: () => Promise<CheckResult> | CheckResult, fallbackFix?: string];

/** The fix Claude Code's version and install problems get. */
const UPDATE_CLAUDE = '`claude update` or `npm install -g @anthropic-ai/claude-code@latest`';

/** `[2, 1, 197]` from `2.1.197 (Claude Code)`, or null when no version is in the text. */
export function parseVersion(text: string): number[] | null {
  const match = /(\d+)\.(\d+)\.(\d+)/.exec(text);
  return match ? match.slice(1, 4).map(Number) : null;
}

/** Negative when a < b, 0 when equal, positive when a > b. */
export function compareVersions(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const diff = (a[i] ?? 0) - (b[i] ?? 0);
    if (diff) return diff;
  }
  return 0;
}

async function version(argv: string[], env: Record<string, string | undefined>): Promise<string | null> {
  try {
    const proc = Bun.spawn(argv, { env: env as Record<string, string>, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
    const timer = setTimeout(() => proc.kill(), 10_000);
    const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    clearTimeout(timer);
    return code === 0 ? out.trim().split('\n')[0]! : null;
  } catch {
    return null;
  }
}

/**
 * Runs one check. A thrown error fails it: its message is the detail, its hint (or `fallbackFix`) the
 * fix. A failure or warning always leaves with a fix.
 */
export async function runCheck(name: string, fn: CheckSpec[1], fallbackFix: string): Promise<Check> {
  let result: CheckResult;
  try {
    result = await fn();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    result = { ok: false, detail: message, fix: error instanceof CrsError && error.hint ? error.hint : fallbackFix };
  }
  if ((!result.ok || result.warning) && !result.fix) result = { ...result, fix: fallbackFix };
  return { name, ...result };
}

export interface DoctorOptions {
  /** Checks of this machine added by the program (the login service). */
  local?: CheckSpec[];
  /** The platform's API checks (guild reachable, bot identity), run only when config.env is ready. */
  remote?: Array<[string, () => Promise<string>]>;
}

/**
 * Everything a session needs, each failure or warning with its fix: tmux, claude and its version,
 * root, channel-off keys, token file and its mode, config keys, the JSON/INI side files, the official
 * plugin where a profile uses it, files holding tokens, the registry, then `local` and `remote`.
 */
export async function runDoctor(manager: SessionManager, options: DoctorOptions = {}): Promise<Check[]> {
  const { paths, platform } = manager;
  const env = manager.deps.env;
  const fixConfig = `Fix ${paths.configFile} (README, Configuration), or run \`${platform.cli} init\`.`;
  const fixFiles = `Fix the file named on this line, then run \`${platform.cli} doctor\` again.`;
  let configOk = false;
  const specs: CheckSpec[] = [
    [
      'tmux',
      async () => {
        const v = await version(['tmux', '-V'], env);
        return v ? { ok: true, detail: v } : { ok: false, detail: 'not found on PATH', fix: 'Install tmux 3.0 or later (brew install tmux / apt-get install tmux).' };
      },
    ],
    ['claude', () => checkClaude(manager), `Install Claude Code ${MIN_CLAUDE_VERSION} or later (${UPDATE_CLAUDE}), or set CLAUDE_BIN to its path.`],
    ['root', () => checkRoot(manager), fixConfig],
    ['channel-off keys', () => checkChannelOffKeys(manager), fixFiles],
    [
      'bot token',
      () => {
        manager.botToken();
        const mode = statSync(paths.tokenFile).mode & 0o777;
        if (mode & 0o077) {
          return { ok: false, detail: `${paths.tokenFile} is mode ${mode.toString(8)}`, fix: `chmod 600 ${paths.tokenFile}` };
        }
        return { ok: true, detail: `${paths.tokenFile} (mode 600)` };
      },
      `Run \`${platform.cli} init --token <bot token>\`.`,
    ],
    [
      'config.env',
      () => {
        const config = manager.requireReady();
        configOk = true;
        const guild = config.guildId ? `, guild ${config.guildId}` : '';
        return { ok: true, detail: `${config.allowedUserIds.length} allowed user(s)${guild}, workdir ${config.workdir}` };
      },
      fixConfig,
    ],
    [
      'workdir',
      () => {
        const config = manager.config();
        return statSync(config.workdir, { throwIfNoEntry: false })?.isDirectory()
          ? { ok: true, detail: config.workdir }
          : { ok: false, detail: `${config.workdir} does not exist`, fix: `Create it or set ${platform.configPrefix}_SESSION_WORKDIR in ${paths.configFile}.` };
      },
      fixConfig,
    ],
    [
      'maps and profiles',
      () => {
        const map = loadWorkdirMap(paths, env);
        const profiles = loadProfiles(paths, env);
        const channelProfiles = loadStringMap(paths.channelProfiles);
        for (const [channel, profile] of Object.entries(channelProfiles)) {
          if (profile !== 'default' && !(profile in profiles)) {
            return { ok: false, detail: `${paths.channelProfiles}: "${channel}" uses profile "${profile}"`, fix: `Add [${profile}] to ${paths.profilesFile}.` };
          }
        }
        const missing = Object.entries(map).filter(([, dir]) => !statSync(dir, { throwIfNoEntry: false })?.isDirectory());
        if (missing.length) {
          return { ok: false, detail: `workdir-map.json: ${missing.map(([n, d]) => `${n} → ${d}`).join(', ')} missing`, fix: `Create the directories or fix ${paths.workdirMap}.` };
        }
        return { ok: true, detail: `${Object.keys(map).length} mapped workdir(s), ${Object.keys(profiles).length} profile(s)` };
      },
      fixFiles,
    ],
    ['channel plugin', () => checkPlugin(manager), fixFiles],
    ['token files', () => checkTokenFiles(manager), fixFiles],
    [
      'registry',
      () => ({ ok: true, detail: `${Object.keys(manager.registry()).length} session(s) in ${paths.registryFile}` }),
      `Fix or move ${paths.registryFile} aside (mv ${paths.registryFile} ${paths.registryFile}.bad).`,
    ],
    ...(options.local ?? []),
  ];
  const checks: Check[] = [];
  // One broken file fails every check that reads it: it is reported once, at the first.
  const failures = new Set<string>();
  const add = (c: Check) => {
    if (c.ok || !failures.has(c.detail)) checks.push(c);
    if (!c.ok) failures.add(c.detail);
  };
  for (const [name, fn, fallback] of specs) add(await runCheck(name, fn, fallback ?? fixFiles));
  if (configOk) {
    for (const [name, fn] of options.remote ?? []) {
      add(await runCheck(name, async () => ({ ok: true, detail: await fn() }), 'Check the network connection (a proxy: HTTPS_PROXY) and the bot token, then run doctor again.'));
    }
  }
  return checks;
}

/** The Claude Code sessions run: found, answering `--version`, and at least MIN_CLAUDE_VERSION. */
async function checkClaude(manager: SessionManager): Promise<CheckResult> {
  const bin = manager.resolveClaude();
  const v = await version([bin, '--version'], manager.deps.env);
  if (!v) return { ok: false, detail: `${bin} did not answer --version`, fix: `Reinstall Claude Code (\`npm install -g @anthropic-ai/claude-code@latest\`), or set CLAUDE_BIN to a working one.` };
  const parsed = parseVersion(v);
  if (!parsed) return { ok: true, warning: true, detail: `${bin} ${v}`, fix: `No version number in that answer; Claude Code ${MIN_CLAUDE_VERSION} or later is needed (${UPDATE_CLAUDE}).` };
  if (compareVersions(parsed, parseVersion(MIN_CLAUDE_VERSION)!) < 0) {
    return {
      ok: false,
      detail: `${bin} ${v} is older than ${MIN_CLAUDE_VERSION}`,
      fix: `Update Claude Code (${UPDATE_CLAUDE}): sessions need ${MIN_CLAUDE_VERSION} or later for --channels.`,
    };
  }
  return { ok: true, detail: `${bin} ${v}` };
}

/** As root, Claude Code refuses the bypass modes unless IS_SANDBOX=1 (config.env, or every profile). */
function checkRoot(manager: SessionManager): CheckResult {
  const uid = manager.uid;
  if (uid !== 0) return { ok: true, detail: `not root (uid ${uid ?? 'unknown'})` };
  const config = manager.config();
  if (!isBypassMode(config)) return { ok: true, detail: `root, CLAUDE_PERMISSION_MODE=${config.permissionMode} (not a bypass mode)` };
  if (config.sandbox) return { ok: true, detail: `root, IS_SANDBOX=1 in ${config.file}` };
  const profiles = loadProfiles(manager.paths, manager.deps.env);
  const refused = manager.profileNames().filter((name) => !profileOptsIn(resolveProfile(profiles, name, manager.paths.profilesFile)));
  if (!refused.length) return { ok: true, detail: `root, IS_SANDBOX=1 in every profile of ${manager.paths.profilesFile}` };
  const error = rootBypassError(config);
  const which = refused.length < manager.profileNames().length ? ` (profiles without IS_SANDBOX=1: ${refused.join(', ')})` : '';
  return { ok: false, detail: `root in a bypass mode: Claude Code exits at once, no session can start${which}`, fix: error.hint };
}

/**
 * Keys that switch channels off, wherever a session could get them: config.env, every profile,
 * the settings.json `env` of our config dir and of each profile's CLAUDE_CONFIG_DIR, and this
 * environment (a tmux server started from it hands it to every session).
 */
function checkChannelOffKeys(manager: SessionManager): CheckResult {
  const { paths } = manager;
  const env = manager.deps.env;
  const config = manager.config();
  const profiles = loadProfiles(paths, env);
  const found: ChannelOffKey[] = [...findChannelOffKeys(config.raw, config.file)];
  for (const [name, values] of Object.entries(profiles)) found.push(...findChannelOffKeys(values, `${paths.profilesFile} [${name}]`));
  const configDirs = new Set([paths.root, ...Object.values(profiles).flatMap((p) => (p.CLAUDE_CONFIG_DIR ? [expandHome(p.CLAUDE_CONFIG_DIR, paths.home)] : []))]);
  for (const dir of configDirs) {
    const file = join(dir, 'settings.json');
    found.push(...findChannelOffKeys(loadSettingsEnv(file), `the env of ${file}`));
  }
  found.push(...findChannelOffKeys(env, 'this shell\'s environment'));
  if (!found.length) return { ok: true, detail: 'none of DISABLE_TELEMETRY, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC, DO_NOT_TRACK, DISABLE_GROWTHBOOK is set' };
  return {
    ok: true,
    warning: true,
    detail: formatChannelOffKeys(found),
    fix: `Remove ${found.length === 1 ? 'it' : 'them'} for channel sessions: Claude Code switches channels off with any of them, and every channel session that gets one is deaf.`,
  };
}

/** Whether `<pluginsDir>/installed_plugins.json` lists `plugin` (`name@marketplace`; Claude Code compares it case-insensitively). */
export function isPluginInstalled(pluginsDir: string, plugin: string): boolean {
  try {
    const data = JSON.parse(readFileSync(join(pluginsDir, 'installed_plugins.json'), 'utf8')) as { plugins?: Record<string, unknown> };
    return Object.keys(data?.plugins ?? {}).some((key) => key.toLowerCase() === plugin.toLowerCase());
  } catch {
    return false;
  }
}

/**
 * Plugin mode: a profile with its own bot token runs the official plugin (`--channels plugin:…`), which
 * must be installed in that profile's config dir (its `plugins/`, or CLAUDE_CODE_PLUGIN_CACHE_DIR), and
 * whose server runs with bun.
 */
function checkPlugin(manager: SessionManager): CheckResult {
  const { paths, platform } = manager;
  const env = manager.deps.env;
  const profiles = loadProfiles(paths, env);
  const users = manager.profileNames().map((name) => ({ name, profile: resolveProfile(profiles, name, paths.profilesFile) })).filter((p) => p.profile[platform.tokenVar]);
  if (!users.length) return { ok: true, detail: `no profile has its own ${platform.tokenVar}: every session gets its messages through the bridge` };
  const plugin = platform.plugin.replace(/^plugin:/, '');
  const names = users.map((u) => u.name).join(', ');
  const missing = new Map<string, { prefix: string; names: string[] }>();
  for (const { name, profile } of users) {
    const configDir = manager.claudeConfigDirs(profile).own;
    const cacheDir = profile.CLAUDE_CODE_PLUGIN_CACHE_DIR ? expandHome(profile.CLAUDE_CODE_PLUGIN_CACHE_DIR, paths.home) : undefined;
    const pluginsDir = cacheDir ?? join(configDir, 'plugins');
    if (isPluginInstalled(pluginsDir, plugin)) continue;
    const prefix = `CLAUDE_CONFIG_DIR=${configDir}${cacheDir ? ` CLAUDE_CODE_PLUGIN_CACHE_DIR=${cacheDir}` : ''}`;
    const entry = missing.get(pluginsDir) ?? { prefix, names: [] };
    entry.names.push(name);
    missing.set(pluginsDir, entry);
  }
  if (missing.size) {
    const where = missing.size === 1 ? [...missing.keys()][0] : [...missing].map(([dir, m]) => `${dir} (profile ${m.names.join(', ')})`).join(', ');
    const commands = [...missing.values()].map((m) => `\`${m.prefix} claude plugin install ${plugin}\``).join(' and ');
    return {
      ok: false,
      detail: `profile ${names} run${users.length === 1 ? 's' : ''} on the official plugin (own ${platform.tokenVar}), but ${plugin} is not installed in ${where}: those sessions get no messages`,
      fix: `Install it with ${commands} (first \`claude plugin marketplace add anthropics/claude-plugins-official\` if that marketplace is unknown), or remove ${platform.tokenVar} from the profile to use the bridge.`,
    };
  }
  const withoutBun = users.filter((u) => !Bun.which('bun', { PATH: u.profile.PATH ?? env.PATH ?? '' }));
  if (withoutBun.length) {
    return { ok: false, detail: `${plugin} is installed, but bun, which runs its server, is not on the sessions' PATH`, fix: 'Install Bun (`npm install -g bun`) where the sessions\' PATH finds it.' };
  }
  return { ok: true, detail: `${plugin} installed for profile ${names}` };
}

/** Keys whose value logs in as someone: a file holding one must be readable by its owner only. */
const TOKEN_KEYS = ['CLAUDE_CODE_OAUTH_TOKEN', 'DISCORD_BOT_TOKEN', 'TELEGRAM_BOT_TOKEN', 'ANTHROPIC_API_KEY', 'CLAUDE_API_KEY'];

/** config.env and profiles.env may hold tokens (a long-lived login, a profile's bot): then mode 600. */
function checkTokenFiles(manager: SessionManager): CheckResult {
  const { paths } = manager;
  const profiles = loadProfiles(paths, manager.deps.env);
  const holders: Array<[string, string[]]> = [
    [paths.configFile, TOKEN_KEYS.filter((key) => manager.config().raw[key])],
    [paths.profilesFile, TOKEN_KEYS.filter((key) => Object.values(profiles).some((p) => p[key]))],
  ];
  const withTokens = holders.filter(([, keys]) => keys.length);
  if (!withTokens.length) return { ok: true, detail: 'no token in config.env or profiles.env' };
  const open = withTokens.filter(([file]) => (statSync(file).mode & 0o077) !== 0);
  if (!open.length) return { ok: true, detail: `${withTokens.map(([file]) => file).join(', ')} (mode 600)` };
  return {
    ok: true,
    warning: true,
    detail: open.map(([file, keys]) => `${file} holds ${keys.join(', ')} and is mode ${(statSync(file).mode & 0o777).toString(8)}`).join('; '),
    fix: `chmod 600 ${open.map(([file]) => file).join(' ')}`,
  };
}
