import { dirname, join } from 'node:path';
import plistTemplate from '../../launchd/com.claude-remote-sessions.watchdog.plist' with { type: 'text' };
import unitTemplate from '../../launchd/claude-remote-sessions-watchdog.service' with { type: 'text' };
import type { Env } from '../core/config/paths.ts';

export const LAUNCHD_LABEL = 'com.claude-remote-sessions.watchdog';
export const SYSTEMD_UNIT = 'claude-remote-sessions-watchdog.service';
/** Variables a service copies from the installing shell when they are set. */
const SERVICE_ENV = ['CLAUDE_CONFIG_DIR', 'CLAUDE_BIN', 'CRS_TMUX_SOCKET', 'DISCORD_API_URL', 'TELEGRAM_API_URL', 'LANG'] as const;

export type ServiceKind = 'launchd' | 'systemd';

export interface ServiceSpec {
  kind: ServiceKind;
  /** Where the rendered file goes. */
  file: string;
  content: string;
  /** Commands (argv arrays) that load it; run in order. */
  load: string[][];
  unload: string[][];
}

export interface ServiceOptions {
  kind: ServiceKind;
  /** The watchdog's own argv, running it in the foreground. */
  argv: string[];
  env: Env;
  home: string;
  log: string;
  uid: number;
  /** Resolves a command to its absolute path (Bun.which). */
  which: (command: string) => string | null;
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** systemd's quoting: double quotes with `\\` escapes, and `%` doubled (it is a specifier). */
export function systemdQuote(arg: string): string {
  const escaped = arg.replace(/%/g, '%%');
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(escaped) ? escaped : `"${escaped.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, '\\n')}"`;
}

/** PATH for the service: the folders where tmux, claude and bun were found now, then the usual ones. */
export function servicePath(which: ServiceOptions['which'], env: Env): string {
  const found = ['tmux', env.CLAUDE_BIN || 'claude', 'bun'].map((c) => which(c)).filter((p): p is string => Boolean(p)).map((p) => dirname(p));
  const defaults = ['/opt/homebrew/bin', '/usr/local/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin'];
  return [...new Set([...found, ...defaults])].join(':');
}

/** Renders the LaunchAgent plist or the systemd --user unit from the templates in launchd/. */
export function renderService(options: ServiceOptions): ServiceSpec {
  const env: Record<string, string> = { PATH: servicePath(options.which, options.env), HOME: options.home };
  for (const key of SERVICE_ENV) if (options.env[key]) env[key] = options.env[key]!;
  const fill = (template: string, values: Record<string, string>) => template.replace(/\{\{([A-Z_]+)\}\}/g, (_, key: string) => values[key] ?? '');

  if (options.kind === 'launchd') {
    const file = join(options.home, 'Library/LaunchAgents', `${LAUNCHD_LABEL}.plist`);
    const content = fill(plistTemplate, {
      LABEL: LAUNCHD_LABEL,
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
      load: [['launchctl', 'bootout', `${domain}/${LAUNCHD_LABEL}`], ['launchctl', 'bootstrap', domain, file]],
      unload: [['launchctl', 'bootout', `${domain}/${LAUNCHD_LABEL}`]],
    };
  }
  const file = join(options.home, '.config/systemd/user', SYSTEMD_UNIT);
  const content = fill(unitTemplate, {
    EXEC_START: options.argv.map(systemdQuote).join(' '),
    ENVIRONMENT: Object.entries(env).map(([k, v]) => `Environment=${systemdQuote(`${k}=${v}`)}`).join('\n'),
    HOME: options.home,
    LOG: options.log,
  });
  return {
    kind: 'systemd',
    file,
    content,
    load: [['systemctl', '--user', 'daemon-reload'], ['systemctl', '--user', 'enable', '--now', SYSTEMD_UNIT]],
    unload: [['systemctl', '--user', 'disable', '--now', SYSTEMD_UNIT]],
  };
}
