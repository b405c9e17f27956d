import { readFileSync } from 'node:fs';
import type { Config, Profiles } from '../config/config.ts';
import { CrsError } from '../util/errors.ts';

/** Env keys that switch Claude Code's feature flags off, and with them channels: every channel session is deaf. */
export const CHANNEL_OFF_KEYS = ['DISABLE_TELEMETRY', 'CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC', 'DO_NOT_TRACK', 'DISABLE_GROWTHBOOK'] as const;

/** One channel-off key found in a file: `source` names the file (and the profile or `env` object). */
export interface ChannelOffKey {
  key: string;
  source: string;
}

/** Whether sessions start in a mode Claude Code refuses as root unless `IS_SANDBOX=1` is set. */
export function isBypassMode(config: Config): boolean {
  return config.permissionMode === undefined || config.permissionMode === 'bypassPermissions';
}

/** Whether a profile's own `IS_SANDBOX` reaches its sessions as the one value the CLI accepts. */
export function profileOptsIn(profile: Record<string, string>): boolean {
  return profile.IS_SANDBOX === '1';
}

/** Why a session may not start, or null: root, a bypass mode, and neither config.env nor the profile opts in. */
export function rootRefusal(uid: number | undefined, config: Config, profile: Record<string, string>): CrsError | null {
  if (uid !== 0 || !isBypassMode(config) || config.sandbox || profileOptsIn(profile)) return null;
  return rootBypassError(config);
}

/** The one-line error naming the three ways out, with the config file to edit. */
export function rootBypassError(config: Config): CrsError {
  const flag = config.permissionMode === 'bypassPermissions' ? '--permission-mode bypassPermissions' : '--dangerously-skip-permissions';
  return new CrsError(`Claude Code refuses ${flag} as root, so no session was started.`, {
    hint:
      `Run this tool as a normal user; or set CLAUDE_PERMISSION_MODE to a non-bypass mode (e.g. default or acceptEdits) in ${config.file}; ` +
      `or, only if this host is a disposable sandbox or container, add IS_SANDBOX=1 to ${config.file}.`,
  });
}

/** The channel-off keys set in one bag of settings (a config file, a profile, a settings.json `env`). */
export function findChannelOffKeys(values: Record<string, unknown>, source: string): ChannelOffKey[] {
  return CHANNEL_OFF_KEYS.filter((key) => Object.hasOwn(values, key) && switchesChannelsOff(key, values[key])).map((key) => ({ key, source }));
}

/** `DISABLE_TELEMETRY (in /x/profiles.env [work])`: what to remove, and where, in one line. */
export function formatChannelOffKeys(found: ChannelOffKey[]): string {
  return found.map((f) => `${f.key} (in ${f.source})`).join(', ');
}

/** The channel-off keys a profile's sessions get, each named by the section that sets it (`[default]` or its own). */
export function findProfileChannelOffKeys(profiles: Profiles, name: string, file: string): ChannelOffKey[] {
  const own = name === 'default' ? {} : (profiles[name] ?? {});
  const inherited = profiles.default ?? {};
  return CHANNEL_OFF_KEYS.flatMap((key) => {
    const [values, section] = Object.hasOwn(own, key) ? [own, name] : [inherited, 'default'];
    return findChannelOffKeys({ [key]: values[key] }, `${file} [${section}]`);
  });
}

/** The `env` object of a Claude Code settings.json (Claude Code applies it to its own process), or {} when there is none. */
export function loadSettingsEnv(file: string): Record<string, unknown> {
  try {
    const data = JSON.parse(readFileSync(file, 'utf8'));
    return data && typeof data.env === 'object' && data.env !== null && !Array.isArray(data.env) ? data.env : {};
  } catch {
    // Missing or unreadable: nothing set there (Claude Code reports a broken settings file itself).
    return {};
  }
}

/** The channel-off keys a session of `profileName` is configured with: config.env's, then its profile's. */
export function findSessionChannelOffKeys(config: Config, profiles: Profiles, profileName: string, profilesFile: string): ChannelOffKey[] {
  return [...findChannelOffKeys(config.raw, config.file), ...findProfileChannelOffKeys(profiles, profileName, profilesFile)];
}

/** One warning line: which keys, where, and what to do. */
export function formatChannelOffWarning(found: ChannelOffKey[], platformLabel: string): string {
  const one = found.length === 1;
  return (
    `${formatChannelOffKeys(found)} ${one ? 'switches' : 'switch'} Claude Code's channels off: a session that gets ${one ? 'it' : 'them'} ` +
    `is deaf to ${platformLabel}. Remove ${one ? 'it' : 'them'} for channel sessions.`
  );
}

/** Whether `value` of `key` switches channels off as Claude Code reads it (DO_NOT_TRACK only when truthy). */
function switchesChannelsOff(key: string, value: unknown): boolean {
  if (value === undefined || value === null) return false;
  const text = String(value).trim().toLowerCase();
  if (key === 'DO_NOT_TRACK') return ['1', 'true', 'yes', 'on'].includes(text);
  return text !== '';
}
