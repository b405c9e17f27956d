import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import plistTemplate from '../../launchd/com.claude-remote-sessions.watchdog.plist' with { type: 'text' };
import unitTemplate from '../../launchd/claude-remote-sessions-watchdog.service' with { type: 'text' };
import { readOptionalFile } from '../core/config/config.ts';
import type { Env } from '../core/config/paths.ts';
import type { Platform } from '../core/config/platform.ts';
import { NETWORK_ENV } from '../core/host/launch.ts';

/** Variables a service copies from the installing shell when they are set (sessions need the network ones too). */
const SERVICE_ENV = ['CLAUDE_CONFIG_DIR', 'CLAUDE_BIN', 'CRS_TMUX_SOCKET', 'DISCORD_API_URL', 'TELEGRAM_API_URL', 'LANG', ...NETWORK_ENV] as const;
/** Where systemd marks a user whose services run without a login (`loginctl enable-linger`). */
const LINGER_DIR = '/var/lib/systemd/linger';

export type ServiceKind = 'launchd' | 'systemd';

/** One watchdog's service: the Discord watchdog, or the Telegram one (which keeps the router alive). */
export interface ServiceTarget {
  /** LaunchAgent label, also the plist's name. */
  label: string;
  /** systemd --user unit name. */
  unit: string;
  description: string;
  /** Our program and the arguments that run the watchdog in the foreground. */
  program: string;
  args: string[];
}

/** The service of a platform's watchdog. The Discord names are those of earlier installs, kept so they are replaced in place. */
export function serviceTarget(platform: Platform): ServiceTarget {
  if (platform.key === 'discord') {
    return {
      label: 'com.claude-remote-sessions.watchdog',
      unit: 'claude-remote-sessions-watchdog.service',
      description: 'claude-remote-sessions Discord watchdog: keeps per-channel Claude Code sessions alive',
      program: 'discord-watchdog',
      args: ['--foreground'],
    };
  }
  return {
    label: 'com.claude-remote-sessions.telegram-watchdog',
    unit: 'claude-remote-sessions-telegram-watchdog.service',
    description: 'claude-remote-sessions Telegram watchdog: keeps the router and per-chat Claude Code sessions alive',
    program: 'telegram-session-manager',
    args: ['watchdog', '--foreground'],
  };
}

/** What install-service and doctor need to know about this machine; tests pass their own. */
export interface ServiceHost {
  /** The service manager of this OS: launchd on macOS, systemd elsewhere. */
  kind: ServiceKind;
  uid: number;
  user: string;
  /** systemd: how `systemctl --user` reaches the user's manager from this shell, or null when it cannot. */
  userBus: string | null;
  /** systemd: whether the user's services run without a login (`loginctl enable-linger`). */
  linger: boolean;
}

/**
 * The user bus `systemctl --user` would use: `DBUS_SESSION_BUS_ADDRESS`, or the systemd socket or bus
 * under `XDG_RUNTIME_DIR`. Null when neither is there (a `su`/`sudo` shell, a container, a cron job).
 */
export function findUserBus(env: Env): string | null {
  if (env.DBUS_SESSION_BUS_ADDRESS) return env.DBUS_SESSION_BUS_ADDRESS;
  if (!env.XDG_RUNTIME_DIR) return null;
  return [join(env.XDG_RUNTIME_DIR, 'systemd/private'), join(env.XDG_RUNTIME_DIR, 'bus')].find((path) => existsSync(path)) ?? null;
}

/** This machine, seen from the environment `env` a command runs in. */
export function systemServiceHost(env: Env, lingerDir = LINGER_DIR): ServiceHost {
  const uid = process.getuid?.() ?? 0;
  const user = env.USER || env.LOGNAME || passwdName(uid) || '$USER';
  return {
    kind: process.platform === 'darwin' ? 'launchd' : 'systemd',
    uid,
    user,
    userBus: findUserBus(env),
    linger: existsSync(join(lingerDir, user)),
  };
}

/** The user name of `uid` from /etc/passwd (Bun's `os.userInfo()` may say "unknown"). */
function passwdName(uid: number): string | undefined {
  const line = (readOptionalFile('/etc/passwd') ?? '').split('\n').find((l) => l.split(':')[2] === String(uid));
  return line?.split(':')[0] || undefined;
}

export interface ServiceSpec {
  kind: ServiceKind;
  /** Where the rendered file goes. */
  file: string;
  content: string;
  /** Commands (argv arrays) that load it; run in order. */
  load: string[][];
  unload: string[][];
  /** Commands the service needs that are not on the PATH it gets: sessions started by it would fail. */
  missing: string[];
}

export interface ServiceOptions {
  kind: ServiceKind;
  target: ServiceTarget;
  /** The watchdog's own argv, running it in the foreground. */
  argv: string[];
  env: Env;
  home: string;
  log: string;
  uid: number;
  /** Resolves a command on a PATH to its absolute path (Bun.which). */
  which: (command: string, path: string) => string | null;
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** systemd's quoting: double quotes with `\\` escapes, and `%` doubled (it is a specifier). */
export function systemdQuote(arg: string): string {
  const escaped = arg.replace(/%/g, '%%');
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(escaped) ? escaped : `"${escaped.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, '\\n')}"`;
}

/** The commands the service's sessions run: tmux, and claude (or `CLAUDE_BIN`). */
function neededCommands(env: Env): string[] {
  return ['tmux', env.CLAUDE_BIN || 'claude'];
}

/** PATH for the service: the folders where tmux, claude and bun were found now, then the usual ones. */
export function servicePath(which: ServiceOptions['which'], env: Env): string {
  const found = [...neededCommands(env), 'bun'].map((c) => which(c, env.PATH ?? '')).filter((p): p is string => Boolean(p)).map((p) => dirname(p));
  const defaults = ['/opt/homebrew/bin', '/usr/local/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin'];
  return [...new Set([...found, ...defaults])].join(':');
}

/** Renders the LaunchAgent plist or the systemd --user unit from the templates in launchd/. */
export function renderService(options: ServiceOptions): ServiceSpec {
  const { target } = options;
  const env: Record<string, string> = { PATH: servicePath(options.which, options.env), HOME: options.home };
  for (const key of SERVICE_ENV) if (options.env[key]) env[key] = options.env[key]!;
  const missing = neededCommands(options.env).filter((command) => !options.which(command, env.PATH!));
  const fill = (template: string, values: Record<string, string>) => template.replace(/\{\{([A-Z_]+)\}\}/g, (_, key: string) => values[key] ?? '');

  if (options.kind === 'launchd') {
    const file = join(options.home, 'Library/LaunchAgents', `${target.label}.plist`);
    const content = fill(plistTemplate, {
      LABEL: xml(target.label),
      PROGRAM_ARGUMENTS: options.argv.map((a) => `    <string>${xml(a)}</string>`).join('\n'),
      ENVIRONMENT: Object.entries(env).map(([k, v]) => `    <key>${xml(k)}</key>\n    <string>${xml(v)}</string>`).join('\n'),
      HOME: xml(options.home),
      LOG: xml(options.log),
    });
    const domain = `gui/${options.uid}`;
    return {
      kind: 'launchd',
      file,
      content,
      load: [['launchctl', 'bootout', `${domain}/${target.label}`], ['launchctl', 'bootstrap', domain, file]],
      unload: [['launchctl', 'bootout', `${domain}/${target.label}`]],
      missing,
    };
  }
  const file = join(options.home, '.config/systemd/user', target.unit);
  const content = fill(unitTemplate, {
    DESCRIPTION: target.description,
    EXEC_START: options.argv.map(systemdQuote).join(' '),
    ENVIRONMENT: Object.entries(env).map(([k, v]) => `Environment=${systemdQuote(`${k}=${v}`)}`).join('\n'),
    HOME: options.home,
    LOG: options.log,
  });
  return {
    kind: 'systemd',
    file,
    content,
    load: [['systemctl', '--user', 'daemon-reload'], ['systemctl', '--user', 'enable', '--now', target.unit]],
    unload: [['systemctl', '--user', 'disable', '--now', target.unit]],
    missing,
  };
}

/** The fix for a shell without a systemd user bus, for `user`. */
export function userBusFix(user: string, daemonCommand: string): string {
  return `Run install-service from a login of ${user} itself (ssh ${user}@host, not su or sudo), or run \`sudo loginctl enable-linger ${user}\` and \`export XDG_RUNTIME_DIR=/run/user/$(id -u)\` first; without systemd, use \`${daemonCommand}\` instead.`;
}

/** The fix for a user whose services stop at logout. */
export function lingerFix(user: string): string {
  return `Run \`sudo loginctl enable-linger ${user}\` so the service starts at boot and keeps running after you log out.`;
}

/** Where the service is, for doctor: its state on this host and, when it cannot work, the fix. */
export function checkService(
  host: ServiceHost,
  target: ServiceTarget,
  commands: { install: string; daemon: string },
  home: string,
): { ok: true; detail: string; warning?: boolean; fix?: string } {
  if (host.kind === 'launchd') {
    const file = join(home, 'Library/LaunchAgents', `${target.label}.plist`);
    return { ok: true, detail: existsSync(file) ? `LaunchAgent ${file}` : `launchd; no LaunchAgent yet (\`${commands.install}\`)` };
  }
  const installed = existsSync(join(home, '.config/systemd/user', target.unit));
  const what = installed ? `${target.unit} installed` : `no service yet (\`${commands.install}\`)`;
  if (!host.userBus) {
    return {
      ok: true,
      warning: true,
      detail: `${what}; this shell has no systemd user bus (XDG_RUNTIME_DIR and DBUS_SESSION_BUS_ADDRESS unset), so \`systemctl --user\` and install-service cannot work`,
      fix: userBusFix(host.user, commands.daemon),
    };
  }
  if (!host.linger) {
    return { ok: true, warning: true, detail: `${what}; lingering is off for ${host.user}: user services start only at login and stop at logout`, fix: lingerFix(host.user) };
  }
  return { ok: true, detail: `${what}; systemd user bus ${host.userBus}, lingering on` };
}
