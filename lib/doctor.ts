import { statSync } from 'node:fs';
import { loadProfiles, loadStringMap, loadWorkdirMap } from './config.ts';
import { formatError } from './errors.ts';
import type { SessionManager } from './manager.ts';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /** What to do when it failed. */
  fix?: string;
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
      return v ? { ok: true, detail: `${bin} ${v}` } : { ok: false, detail: `${bin} did not answer --version`, fix: 'Reinstall Claude Code (≥ 2.1.80).' };
    }),
  );
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
