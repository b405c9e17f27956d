import { homedir } from 'node:os';
import { join } from 'node:path';
import { usageError } from '../util/errors.ts';
import type { Platform } from './platform.ts';

/** Every file the tool reads or writes for one platform, all under `$CLAUDE_CONFIG_DIR` (default `~/.claude`). */
export interface Paths {
  root: string;
  home: string;
  sessionsDir: string;
  configFile: string;
  registryFile: string;
  registryMarkdown: string;
  lockFile: string;
  workdirMap: string;
  profilesFile: string;
  channelProfiles: string;
  /** Channels the owner killed: discovery starts no session for them (`ignored.json`). */
  ignoredFile: string;
  channelDir: string;
  tokenFile: string;
  projectsDir: string;
  watchdogPidFile: string;
  watchdogLog: string;
  /** The router's pid file (Discord: the slash-command daemon, which routes too). */
  routerPidFile: string;
  /** The router's log file, written when the watchdog (or `--daemon`) runs it. */
  routerLog: string;
}

export type Env = Record<string, string | undefined>;

/** Resolves the file layout from the environment (`CLAUDE_CONFIG_DIR`, `HOME`). */
export function resolvePaths(platform: Platform, env: Env): Paths {
  const home = env.HOME || homedir();
  const root = env.CLAUDE_CONFIG_DIR || join(home, '.claude');
  const sessionsDir = join(root, platform.sessionsDirName);
  const channelDir = join(root, 'channels', platform.key);
  return {
    root,
    home,
    sessionsDir,
    configFile: join(sessionsDir, 'config.env'),
    registryFile: join(sessionsDir, 'sessions.json'),
    registryMarkdown: join(sessionsDir, 'SESSIONS.md'),
    lockFile: join(sessionsDir, '.sessions.lock'),
    workdirMap: join(sessionsDir, 'workdir-map.json'),
    profilesFile: join(sessionsDir, 'profiles.env'),
    channelProfiles: join(sessionsDir, 'channel-profiles.json'),
    ignoredFile: join(sessionsDir, 'ignored.json'),
    channelDir,
    tokenFile: join(channelDir, '.env'),
    projectsDir: join(root, 'projects'),
    watchdogPidFile: join(sessionsDir, 'watchdog.pid'),
    watchdogLog: join(sessionsDir, 'watchdog.log'),
    routerPidFile: join(sessionsDir, platform.key === 'discord' ? 'slash-daemon.pid' : 'router.pid'),
    routerLog: join(sessionsDir, platform.key === 'discord' ? 'slash-daemon.log' : 'router.log'),
  };
}

/** Checks that `id` is a platform id (digits only), so it is safe as a path segment and tmux name. */
export function assertId(platform: Platform, id: string, what = 'id'): string {
  if (!platform.idPattern.test(id)) {
    throw usageError(
      `Invalid ${platform.label} ${what} ${JSON.stringify(id.slice(0, 40))}: expected ${platform.idDescription}.`,
      platform.idHint,
    );
  }
  return id;
}

/** The per-session state folder `<sessions-dir>/<id>/` (the id is validated first). */
export function stateDirOf(platform: Platform, paths: Paths, id: string): string {
  return join(paths.sessionsDir, assertId(platform, id));
}

/** The tmux session name of a platform id. */
export function tmuxNameOf(platform: Platform, id: string): string {
  return `${platform.prefix}-${assertId(platform, id)}`;
}
