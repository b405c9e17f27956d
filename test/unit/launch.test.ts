import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../lib/core/config/config.ts';
import { type LaunchOptions, buildLaunch, formatLabel } from '../../lib/core/host/launch.ts';
import { DISCORD, TELEGRAM } from '../../lib/core/config/platform.ts';
import { sessionIdFor } from '../../lib/core/host/session-id.ts';
import { Sandbox, flagValue } from '../helpers.ts';

const SID = sessionIdFor('123456789012345678');
const CONFIG: Config = {
  file: '/cfg/config.env',
  allowedUserIds: ['1'],
  workdir: '/w',
  idleTimeoutMin: 120,
  watchdogIntervalS: 30,
  discoverIntervalS: 60,
  cleanupIntervalS: 300,
  threadContextLimit: 20,
  raw: {},
};
const CALLER_ENV = {
  PATH: '/usr/bin:/bin',
  HOME: '/home/me',
  LANG: 'C.UTF-8',
  CLAUDE_CONFIG_DIR: '/home/me/.claude',
  ANTHROPIC_API_KEY: 'sk-caller',
  CLAUDE_API_KEY: 'sk-caller-2',
  SECRET_OF_CALLER: 'x',
  TMUX: '/tmp/tmux-1/default,1,0',
};

function launch(overrides: Partial<LaunchOptions> = {}) {
  return buildLaunch({
    platform: DISCORD,
    config: CONFIG,
    env: CALLER_ENV,
    claudeBin: '/opt/claude',
    stateDir: '/state/123456789012345678',
    label: 'general',
    resume: ['--session-id', SID],
    profile: {},
    ...overrides,
  });
}

const PREFIX = ['env', '-u', 'ANTHROPIC_API_KEY', '-u', 'CLAUDE_API_KEY', '/opt/claude'];

describe('buildLaunch argv', () => {
  test.each<[string, Partial<LaunchOptions>, string[]]>([
    ['default: official plugin, skip permissions, new conversation', {}, ['--channels', 'plugin:discord@claude-plugins-official', '--dangerously-skip-permissions', '--session-id', SID, '--name', 'general']],
    ['resume', { resume: ['--resume', SID] }, ['--channels', 'plugin:discord@claude-plugins-official', '--dangerously-skip-permissions', '--resume', SID, '--name', 'general']],
    [
      'CLAUDE_PERMISSION_MODE',
      { config: { ...CONFIG, permissionMode: 'acceptEdits' } },
      ['--channels', 'plugin:discord@claude-plugins-official', '--permission-mode', 'acceptEdits', '--session-id', SID, '--name', 'general'],
    ],
    [
      'profile model and effort become flags',
      { profile: { CLAUDE_MODEL: 'opus', CLAUDE_EFFORT: 'high', CLAUDE_CODE_OAUTH_TOKEN: 'tok' } },
      ['--channels', 'plugin:discord@claude-plugins-official', '--dangerously-skip-permissions', '--session-id', SID, '--name', 'general', '--model', 'opus', '--effort', 'high'],
    ],
    ['empty profile model gives no flag', { profile: { CLAUDE_MODEL: '' } }, ['--channels', 'plugin:discord@claude-plugins-official', '--dangerously-skip-permissions', '--session-id', SID, '--name', 'general']],
    [
      'thread prompt file',
      { promptFile: '/state/1/.system-prompt' },
      ['--channels', 'plugin:discord@claude-plugins-official', '--dangerously-skip-permissions', '--session-id', SID, '--name', 'general', '--append-system-prompt-file', '/state/1/.system-prompt'],
    ],
    [
      'channel args replace the plugin',
      { channelArgs: ['--dangerously-load-development-channels', 'server:crs-bridge'] },
      ['--dangerously-load-development-channels', 'server:crs-bridge', '--dangerously-skip-permissions', '--session-id', SID, '--name', 'general'],
    ],
    ['telegram plugin', { platform: TELEGRAM }, ['--channels', 'plugin:telegram@claude-plugins-official', '--dangerously-skip-permissions', '--session-id', SID, '--name', 'general']],
    ['label is sanitised', { label: '  my\tchannel\n;rm -rf ~ ' }, ['--channels', 'plugin:discord@claude-plugins-official', '--dangerously-skip-permissions', '--session-id', SID, '--name', 'my channel ;rm -rf ~']],
    ['an unprintable label falls back to the session id', { label: '\u0000\u001b\n' }, ['--channels', 'plugin:discord@claude-plugins-official', '--dangerously-skip-permissions', '--session-id', SID, '--name', SID]],
  ])('%s', (_, overrides, tail) => {
    expect(launch(overrides).argv).toEqual([...PREFIX, ...tail]);
  });
});

describe('buildLaunch env', () => {
  test('passes the basics and the state dir, nothing else of the caller', () => {
    expect(launch().env).toEqual({
      PATH: '/usr/bin:/bin',
      HOME: '/home/me',
      LANG: 'C.UTF-8',
      CLAUDE_CONFIG_DIR: '/home/me/.claude',
      DISCORD_STATE_DIR: '/state/123456789012345678',
    });
  });

  test('profile keys become env, except the flag keys and API keys', () => {
    const { env } = launch({
      profile: {
        CLAUDE_CODE_OAUTH_TOKEN: 'oauth-tok',
        CLAUDE_MODEL: 'opus',
        CLAUDE_EFFORT: 'high',
        ANTHROPIC_API_KEY: 'sk-profile',
        CLAUDE_API_KEY: 'sk-profile-2',
        HTTPS_PROXY: 'http://proxy:3128',
        DISCORD_STATE_DIR: '/elsewhere',
      },
    });
    expect(env.CLAUDE_CODE_OAUTH_TOKEN).toBe('oauth-tok');
    expect(env.HTTPS_PROXY).toBe('http://proxy:3128');
    for (const key of ['CLAUDE_MODEL', 'CLAUDE_EFFORT', 'ANTHROPIC_API_KEY', 'CLAUDE_API_KEY', 'SECRET_OF_CALLER', 'TMUX']) expect(env).not.toHaveProperty(key);
    // The state dir is the session's own, whatever a profile says.
    expect(env.DISCORD_STATE_DIR).toBe('/state/123456789012345678');
  });

  test('config.env IS_SANDBOX gives every session IS_SANDBOX=1, winning over a profile value', () => {
    expect(launch({ config: { ...CONFIG, sandbox: true } }).env.IS_SANDBOX).toBe('1');
    expect(launch({ config: { ...CONFIG, sandbox: true }, profile: { IS_SANDBOX: '0' } }).env.IS_SANDBOX).toBe('1');
    expect(launch({ config: { ...CONFIG, sandbox: false } }).env).not.toHaveProperty('IS_SANDBOX');
    // A profile's own value is passed as it is, like any profile key.
    expect(launch({ profile: { IS_SANDBOX: '1' } }).env.IS_SANDBOX).toBe('1');
  });

  test("the caller's proxy and CA settings reach the session, as a shell-started one would need them", () => {
    const network = {
      HTTPS_PROXY: 'http://proxy.corp:3128',
      http_proxy: 'http://proxy.corp:3128',
      NO_PROXY: 'localhost,127.0.0.1',
      NODE_EXTRA_CA_CERTS: '/etc/ssl/corp-ca.pem',
      SSL_CERT_FILE: '/etc/ssl/cert.pem',
    };
    const { env } = launch({ env: { ...CALLER_ENV, ...network } });
    expect(env).toMatchObject(network);
    // A profile's value wins over the caller's.
    expect(launch({ env: { ...CALLER_ENV, ...network }, profile: { HTTPS_PROXY: 'http://other:8080' } }).env.HTTPS_PROXY).toBe('http://other:8080');
  });

  test("config.env's CLAUDE_CODE_OAUTH_TOKEN logs every session in; a profile's own wins", () => {
    const config = { ...CONFIG, raw: { CLAUDE_CODE_OAUTH_TOKEN: 'sk-ant-oat01-from-config' } };
    expect(launch({ config }).env.CLAUDE_CODE_OAUTH_TOKEN).toBe('sk-ant-oat01-from-config');
    expect(launch({ config, profile: { CLAUDE_CODE_OAUTH_TOKEN: 'sk-ant-oat01-profile' } }).env.CLAUDE_CODE_OAUTH_TOKEN).toBe('sk-ant-oat01-profile');
    expect(launch().env).not.toHaveProperty('CLAUDE_CODE_OAUTH_TOKEN');
  });

  test('telegram sets TELEGRAM_STATE_DIR', () => {
    const { env } = launch({ platform: TELEGRAM, stateDir: '/tg/-100' });
    expect(env.TELEGRAM_STATE_DIR).toBe('/tg/-100');
    expect(env).not.toHaveProperty('DISCORD_STATE_DIR');
  });

  test('unset caller variables are left out rather than passed empty', () => {
    const { env } = launch({ env: { PATH: '/bin', HOME: '' } });
    expect(env).toEqual({ PATH: '/bin', DISCORD_STATE_DIR: '/state/123456789012345678' });
  });
});

describe('formatLabel', () => {
  test.each<[string, string]>([
    ['general', 'general'],
    ['  spaced   out  ', 'spaced out'],
    ['tab\there', 'tab here'],
    ['line1\nline2\r\nline3', 'line1 line2 line3'],
    ['bell\u0007esc\u001b[31mred', 'bell esc [31mred'],
    ['del\u007fchar', 'del char'],
    ['nul\u0000byte', 'nul byte'],
    ['émoji 🎉 ünïcode', 'émoji 🎉 ünïcode'],
    ['#{session_name};$HOME', '#{session_name};$HOME'],
    ['x'.repeat(150), 'x'.repeat(100)],
    ['\n\t ', ''],
  ])('%j → %j', (input, expected) => {
    expect(formatLabel(input)).toBe(expected);
  });
});

describe('launch in tmux (stand-in claude)', () => {
  let sb: Sandbox;
  beforeAll(() => {
    // The tmux server is started with API keys in its environment: the session must not inherit them.
    sb = new Sandbox({ env: { ANTHROPIC_API_KEY: 'sk-server', CLAUDE_API_KEY: 'sk-server-2' } });
    sb.write('discord-sessions/profiles.env', '[default]\nCLAUDE_EFFORT=low\n[work]\nCLAUDE_MODEL=opus\nCLAUDE_CODE_OAUTH_TOKEN="oauth work"\nANTHROPIC_API_KEY=sk-profile\n');
    sb.write('discord-sessions/channel-profiles.json', '{"ops": "work"}');
  });
  afterAll(async () => {
    await sb.cleanup();
  });

  test('API keys are stripped, the profile token and flags reach claude', async () => {
    const result = await sb.run('spawn', '200000000000000001', '--name', 'ops');
    expect(result.code).toBe(0);
    expect(result.out).toContain('profile=work');
    const [run] = await sb.waitForRuns(1);
    expect(run!.env).not.toHaveProperty('ANTHROPIC_API_KEY');
    expect(run!.env).not.toHaveProperty('CLAUDE_API_KEY');
    expect(run!.env.CLAUDE_CODE_OAUTH_TOKEN).toBe('oauth work');
    expect(run!.env.DISCORD_STATE_DIR).toBe(join(sb.sessionsDir, '200000000000000001'));
    expect(flagValue(run!.argv, '--model')).toBe('opus');
    expect(flagValue(run!.argv, '--effort')).toBe('low');
    expect(run!.argv).not.toContain('--append-system-prompt-file');
  });

  test('names and prompts with tmux/shell syntax reach claude as plain text', async () => {
    const name = 'evil;';
    const prompt = 'Context: #{session_name} $(id) `id` ;\nsecond line';
    const result = await sb.run('spawn', '200000000000000002', '--name', name, '--system-prompt', prompt);
    expect(result.code).toBe(0);
    const runs = await sb.waitForRuns(2);
    const run = runs[1]!;
    expect(flagValue(run.argv, '--name')).toBe('evil;');
    const file = flagValue(run.argv, '--append-system-prompt-file')!;
    expect(file).toBe(join(sb.sessionsDir, '200000000000000002/.system-prompt'));
    expect(readFileSync(file, 'utf8')).toBe(prompt);
    expect(await sb.tmux.hasSession('dc-200000000000000001')).toBe(true);
  });

  test('a channel named like an Object.prototype member spawns with the default workdir and profile', async () => {
    const result = await sb.run('spawn', '200000000000000003', '--name', 'constructor');
    expect(result.err).toBe('');
    expect(result.code).toBe(0);
    expect(result.out).toContain(`workdir=${join(sb.home, 'work')}  profile=default`);
  });
});
