import { statSync } from 'node:fs';
import { join } from 'node:path';
import { expandHome, loadProfiles, loadStringMap, loadWorkdirMap, resolveProfile } from '../config/config.ts';
import { formatError } from '../util/errors.ts';
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

/** Runs one check; a thrown error becomes a failed check with its message as the fix. */
async function check(name: string, fn: () => Promise<Omit<Check, 'name'>> | Omit<Check, 'name'>): Promise<Check> {
  try {
    return { name, ...(await fn()) };
  } catch (error) {
    return { name, ok: false, detail: 'failed', fix: formatError(error) };
  }
}

/**
 * Everything a session needs, each failure with its fix: tmux, claude, token file and its mode,
 * config keys, the JSON/INI side files, the registry, and (through `remote`) the platform's API.
 */
export async function runDoctor(manager: SessionManager, remote: Array<[string, () => Promise<string>]> = []): Promise<Check[]> {
  const { paths, platform } = manager;
  const env = manager.deps.env;
  const checks: Check[] = [];
  checks.push(
    await check('tmux', async () => {
      const v = await version(['tmux', '-V'], env);
      return v ? { ok: true, detail: v } : { ok: false, detail: 'not found', fix: 'Install tmux (brew install tmux / apt-get install tmux).' };
    }),
  );
  checks.push(
    await check('claude', async () => {
      const bin = manager.resolveClaude();
      const v = await version([bin, '--version'], env);
      if (!v) return { ok: false, detail: `${bin} did not answer --version`, fix: `Reinstall Claude Code (≥ ${MIN_CLAUDE_VERSION}).` };
      const parsed = parseVersion(v);
      if (!parsed) return { ok: true, warning: true, detail: `${bin} ${v}`, fix: `No version number in that answer; Claude Code ${MIN_CLAUDE_VERSION} or later is needed.` };
      if (compareVersions(parsed, parseVersion(MIN_CLAUDE_VERSION)!) < 0) {
        return {
          ok: false,
          detail: `${bin} ${v} is older than ${MIN_CLAUDE_VERSION}`,
          fix: `Update Claude Code (\`claude update\` or \`npm install -g @anthropic-ai/claude-code@latest\`): sessions need ${MIN_CLAUDE_VERSION} or later for --channels.`,
        };
      }
      return { ok: true, detail: `${bin} ${v}` };
    }),
  );
  checks.push(await check('root', () => checkRoot(manager)));
  checks.push(await check('channel-off keys', () => checkChannelOffKeys(manager)));
  checks.push(
    await check('bot token', () => {
      manager.botToken();
      const mode = statSync(paths.tokenFile).mode & 0o777;
      if (mode & 0o077) {
        return { ok: false, detail: `${paths.tokenFile} is mode ${mode.toString(8)}`, fix: `chmod 600 ${paths.tokenFile}` };
      }
      return { ok: true, detail: `${paths.tokenFile} (mode 600)` };
    }),
  );
  let configOk = false;
  checks.push(
    await check('config.env', () => {
      const config = manager.requireReady();
      configOk = true;
      const guild = config.guildId ? `, guild ${config.guildId}` : '';
      return { ok: true, detail: `${config.allowedUserIds.length} allowed user(s)${guild}, workdir ${config.workdir}` };
    }),
  );
  checks.push(
    await check('workdir', () => {
      const config = manager.config();
      return statSync(config.workdir, { throwIfNoEntry: false })?.isDirectory()
        ? { ok: true, detail: config.workdir }
        : { ok: false, detail: `${config.workdir} does not exist`, fix: `Create it or set ${platform.configPrefix}_SESSION_WORKDIR.` };
    }),
  );
  checks.push(
    await check('maps and profiles', () => {
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
        return { ok: false, detail: `workdir-map.json: ${missing.map(([n, d]) => `${n} → ${d}`).join(', ')} missing`, fix: 'Create the directories or fix the map.' };
      }
      return { ok: true, detail: `${Object.keys(map).length} mapped workdir(s), ${Object.keys(profiles).length} profile(s)` };
    }),
  );
  checks.push(
    await check('registry', () => ({ ok: true, detail: `${Object.keys(manager.registry()).length} session(s) in ${paths.registryFile}` })),
  );
  if (configOk) {
    for (const [name, fn] of remote) checks.push(await check(name, async () => ({ ok: true, detail: await fn() })));
  }
  return checks;
}

/** As root, Claude Code refuses the bypass modes unless IS_SANDBOX=1 (config.env, or every profile). */
function checkRoot(manager: SessionManager): Omit<Check, 'name'> {
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
function checkChannelOffKeys(manager: SessionManager): Omit<Check, 'name'> {
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
