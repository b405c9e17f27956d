import type { Config } from '../config/config.ts';
import { cleanLine } from '../util/text.ts';
import type { Env } from '../config/paths.ts';
import type { Platform } from '../config/platform.ts';

/** Keys that would make claude bill an API key instead of the account or profile token. */
export const STRIPPED_ENV = ['ANTHROPIC_API_KEY', 'CLAUDE_API_KEY'] as const;
/** How this machine reaches the network: proxies and extra CA certificates, which a session needs as much as a shell does. */
export const NETWORK_ENV = [
  'HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY', 'ALL_PROXY', 'https_proxy', 'http_proxy', 'no_proxy', 'all_proxy',
  'NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'SSL_CERT_DIR',
] as const;
/** Variables of the caller handed on explicitly (a tmux session gets the server's env, not ours). */
const PASSED_ENV = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TMPDIR', 'CLAUDE_CONFIG_DIR', ...NETWORK_ENV] as const;
/** Profile keys that become claude flags rather than environment variables. */
const PROFILE_FLAGS: Record<string, string> = { CLAUDE_MODEL: '--model', CLAUDE_EFFORT: '--effort' };

export interface LaunchOptions {
  platform: Platform;
  config: Config;
  /** Caller environment: PATH, HOME and CLAUDE_CONFIG_DIR are taken from it. */
  env: Env;
  claudeBin: string;
  stateDir: string;
  label: string;
  resume: ['--session-id' | '--resume', string];
  profile: Record<string, string>;
  /** File holding extra system prompt text (a thread's parent context). */
  promptFile?: string;
  /** Replaces `--channels <plugin>` (the Telegram router's bridge). */
  channelArgs?: string[];
  /** A settings file added to the user's own (`--settings`): the session's hooks. */
  settingsFile?: string;
}

export interface Launch {
  argv: string[];
  env: Record<string, string>;
}

/** Printable, one line, at most 100 characters, no bidi tricks: what `--name` and listings show of a chat name. */
export function formatLabel(name: string): string {
  const label = cleanLine(name).slice(0, 100);
  // The cut must not split an emoji: a lone surrogate reaches argv as U+FFFD but sessions.json as "\ud83d".
  return label.replace(/[\ud800-\udbff]$/, '').toWellFormed();
}

/** Builds the claude argv and the environment of one session. Pure: no disk, no tmux. */
export function buildLaunch(options: LaunchOptions): Launch {
  const { platform, config, profile } = options;
  const permission = config.permissionMode ? ['--permission-mode', config.permissionMode] : ['--dangerously-skip-permissions'];
  const flags = Object.entries(PROFILE_FLAGS).flatMap(([key, flag]) => (profile[key] ? [flag, profile[key]!] : []));
  const argv = [
    'env',
    ...STRIPPED_ENV.flatMap((key) => ['-u', key]),
    options.claudeBin,
    ...(options.channelArgs ?? ['--channels', platform.plugin]),
    ...permission,
    ...options.resume,
    '--name',
    formatLabel(options.label) || options.resume[1],
    ...flags,
    // The file variant keeps chat text out of tmux's command line and `ps`.
    ...(options.promptFile ? ['--append-system-prompt-file', options.promptFile] : []),
    ...(options.settingsFile ? ['--settings', options.settingsFile] : []),
  ];

  const env: Record<string, string> = {};
  for (const key of PASSED_ENV) if (options.env[key]) env[key] = options.env[key]!;
  // A login for every session (`claude setup-token`), where the keychain is out of reach (a LaunchAgent); a profile's own wins.
  if (config.raw.CLAUDE_CODE_OAUTH_TOKEN) env.CLAUDE_CODE_OAUTH_TOKEN = config.raw.CLAUDE_CODE_OAUTH_TOKEN;
  for (const [key, value] of Object.entries(profile)) {
    if (!(key in PROFILE_FLAGS) && !(STRIPPED_ENV as readonly string[]).includes(key)) env[key] = value;
  }
  // The CLI takes exactly "1"; config.env's opt-in wins over a profile's value.
  if (config.sandbox) env.IS_SANDBOX = '1';
  env[platform.stateDirVar] = options.stateDir;
  return { argv, env };
}

/** What a session's pane runs first: a fixed script that loads the environment file named by `$0`, then execs the rest. */
const ENV_FILE_SCRIPT = 'set -a && . "$0" && set +a && exec "$@"';
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The environment of a session as a file `sh` reads (`KEY='value'` lines; names checked, values quoted),
 * written 0600 into its state folder. A profile's token then never rides on an argv: tmux keeps the
 * `-e KEY=value` of the command that started its server in that server's command line, visible in `ps`.
 */
export function formatEnvFile(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([key, value]) => {
      if (!ENV_NAME.test(key)) throw new Error(`not an environment variable name: ${JSON.stringify(key.slice(0, 40))}`);
      return `${key}='${value.replaceAll("'", `'\\''`)}'\n`;
    })
    .join('');
}

/** `argv` run with the environment of `file` (see formatEnvFile): only the file's path is on the command line. */
export function envFileArgv(file: string, argv: string[]): string[] {
  return ['/bin/sh', '-c', ENV_FILE_SCRIPT, file, ...argv];
}
