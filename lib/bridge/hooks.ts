import { join } from 'node:path';
import type { Env, Paths } from '../core/config/paths.ts';
import type { Platform } from '../core/config/platform.ts';
import { writeFileAtomic } from '../core/store/fs-atomic.ts';
import { programArgv } from '../core/util/self.ts';
import { bridgeServerName } from './launch.ts';

/** How long a PermissionRequest hook may wait for the owner (seconds); then Claude Code asks in the terminal. */
export const PERMISSION_HOOK_TIMEOUT_S = 24 * 60 * 60;
/** Variables the hook command carries for our program (Claude Code runs hooks with the session's environment). */
const HOOK_ENV = ['PATH', 'HOME', 'DISCORD_API_URL', 'TELEGRAM_API_URL', 'LANG'] as const;

/** One argument for `sh -c`: single-quoted, a `'` inside written `'\''`. */
export function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The shell command Claude Code runs for one of our hooks: `env CLAUDE_CONFIG_DIR=<ours> … <program> hook <event> --id <id>`. */
export function hookCommand(platform: Platform, env: Env, paths: Paths, event: 'permission-request' | 'notification' | 'turn', id: string): string | undefined {
  const argv = programArgv(platform.cli, ['hook', event, '--id', id]);
  if (!argv) return undefined;
  // Our root, not the session's: a profile may give the session its own CLAUDE_CONFIG_DIR.
  const vars = [`CLAUDE_CONFIG_DIR=${paths.root}`, ...HOOK_ENV.flatMap((key) => (env[key] ? [`${key}=${env[key]}`] : []))];
  return ['env', ...vars, ...argv].map(shellQuote).join(' ');
}

/**
 * The settings a session starts with (`--settings <state>/claude-settings.json`), added to the user's
 * own: a PermissionRequest hook that asks the owner in the chat when Claude Code's channel relay is
 * off (and for a session on the official plugin), a Notification hook that tells the owner the
 * session waits for them, and turn hooks (UserPromptSubmit, Stop, StopFailure) that give its state;
 * and the bridge's tools allowed, so the session answers its chat without asking.
 */
export function sessionSettings(platform: Platform, env: Env, paths: Paths) {
  return (id: string, stateDir: string): string | undefined => {
    const permission = hookCommand(platform, env, paths, 'permission-request', id);
    const notification = hookCommand(platform, env, paths, 'notification', id);
    const turn = hookCommand(platform, env, paths, 'turn', id);
    if (!permission || !notification || !turn) return undefined;
    const turnHook = [{ matcher: '', hooks: [{ type: 'command', command: turn, timeout: 30 }] }];
    const settings = {
      // The session's own channel needs no approval: in a mode that asks (CLAUDE_PERMISSION_MODE=default),
      // every reply to the chat would otherwise wait for the owner to allow it.
      permissions: { allow: [`mcp__${bridgeServerName(platform)}`] },
      hooks: {
        // Busy / idle / a failed turn (a usage limit, a login) come from these, not from screen text.
        UserPromptSubmit: turnHook,
        Stop: turnHook,
        StopFailure: turnHook,
        PermissionRequest: [{ matcher: '*', hooks: [{ type: 'command', command: permission, timeout: PERMISSION_HOOK_TIMEOUT_S }] }],
        // Only what needs the owner: a permission prompt or a question of an MCP server; not "waiting for
        // your input" after every turn.
        Notification: [{ matcher: 'permission_prompt|elicitation_dialog', hooks: [{ type: 'command', command: notification, timeout: 30 }] }],
      },
    };
    const file = join(stateDir, 'claude-settings.json');
    writeFileAtomic(file, `${JSON.stringify(settings, null, 2)}\n`, 0o600);
    return file;
  };
}
