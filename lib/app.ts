import { type Clock, systemClock } from './core/util/clock.ts';
import { SessionManager } from './core/sessions/manager.ts';
import { type Env, type Paths, resolvePaths, stateDirOf } from './core/config/paths.ts';
import type { Platform } from './core/config/platform.ts';
import { sessionSettings } from './bridge/hooks.ts';
import { answerDevChannelDialog, bridgeChannelArgs } from './bridge/launch.ts';
import { Tmux, type TmuxRunnerOptions, createTmuxRunner } from './core/host/tmux.ts';

/** Everything a program needs, built once from the environment (the test seams of DESIGN.md). */
export interface AppContext {
  platform: Platform;
  env: Env;
  paths: Paths;
  tmuxOptions: TmuxRunnerOptions;
  tmux: Tmux;
  clock: Clock;
  manager: SessionManager;
}

export function createAppContext(platform: Platform, env: Env, clock: Clock = systemClock): AppContext {
  const paths = resolvePaths(platform, env);
  const tmuxOptions: TmuxRunnerOptions = { socket: env.CRS_TMUX_SOCKET || undefined, env };
  const tmux = new Tmux(createTmuxRunner(tmuxOptions));
  // Sessions get their chat's messages from the platform's router through our bridge channel.
  const channel = {
    channelArgs: bridgeChannelArgs(platform, env, paths),
    sessionSettings: sessionSettings(platform, env, paths),
    afterStart: answerDevChannelDialog(platform, tmux, clock, (name) => conditionDirOf(platform, paths, name)),
  };
  // CRS_UID (a test seam) sets the uid the root check sees, so both cases are tested whoever runs the tests.
  const uid = /^[0-9]+$/.test(env.CRS_UID ?? '') ? Number(env.CRS_UID) : process.getuid?.();
  const manager = new SessionManager({ platform, paths, env, tmux, clock, claudeBin: env.CLAUDE_BIN || 'claude', uid, ...channel });
  return { platform, env, paths, tmuxOptions, tmux, clock, manager };
}

/** The state dir of the session in tmux session `name` (`tg-<id>`), or undefined for another name. */
function conditionDirOf(platform: Platform, paths: Paths, name: string): string | undefined {
  const id = name.slice(platform.prefix.length + 1);
  return name.startsWith(`${platform.prefix}-`) && platform.idPattern.test(id) ? stateDirOf(platform, paths, id) : undefined;
}
