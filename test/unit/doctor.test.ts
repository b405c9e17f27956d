import { afterEach, describe, expect, test } from 'bun:test';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandContext } from '../../lib/commands/_context.ts';
import { createDiscordSessionManagerCommand } from '../../lib/commands/discord-session-manager/index.ts';
import { createTelegramSessionManagerCommand } from '../../lib/commands/telegram-session-manager/index.ts';
import { runCli } from '../../lib/commands/program.ts';
import { DISCORD, type Platform, TELEGRAM } from '../../lib/core/config/platform.ts';
import type { Check } from '../../lib/core/sessions/doctor.ts';
import type { ServiceHost } from '../../lib/daemons/service.ts';
import { FakeDiscord } from '../fakes/discord.ts';
import { FakeTelegram } from '../fakes/telegram.ts';
import { OWNER_ID, type RunResult, Sandbox } from '../helpers.ts';

const GOOD_HOST: ServiceHost = { kind: 'systemd', uid: 1000, user: 'ann', userBus: 'unix:path=/run/user/1000/bus', linger: true };

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A setup doctor passes on, for one platform, with its API on a local fake. */
function setup(platform: Platform, options: { env?: Record<string, string>; config?: string[]; token?: string } = {}): Sandbox {
  let env: Record<string, string>;
  let token: string;
  if (platform === DISCORD) {
    const fake = new FakeDiscord().start();
    cleanups.push(() => fake.stop());
    env = { DISCORD_API_URL: fake.url };
    token = fake.token;
  } else {
    const fake = new FakeTelegram().start();
    cleanups.push(() => fake.stop());
    env = { TELEGRAM_API_URL: fake.url };
    token = fake.token;
  }
  const P = platform.configPrefix;
  const config = [`${P}_ALLOWED_USER_ID="${OWNER_ID}"`, platform === DISCORD ? 'DISCORD_GUILD_ID="1100000000000000001"' : '', `${P}_SESSION_WORKDIR="$HOME/work"`, ...(options.config ?? [])];
  const sb = new Sandbox({ platform, config: config.join('\n'), token: options.token ?? token, env: { ...env, ...options.env } });
  cleanups.push(() => sb.cleanup());
  return sb;
}

/** Runs `doctor` (with `--json` when asked) of the sandbox's platform on a host. */
async function doctor(sb: Sandbox, host: ServiceHost = GOOD_HOST, ...args: string[]): Promise<RunResult> {
  const { ctx, out, err } = sb.context();
  ctx.serviceHost = host;
  const command = (c: CommandContext) => (sb.platform === DISCORD ? createDiscordSessionManagerCommand(c) : createTelegramSessionManagerCommand(c));
  const code = await runCli(command(ctx), ['doctor', ...args], ctx.io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

async function checks(sb: Sandbox, host: ServiceHost = GOOD_HOST): Promise<Check[]> {
  return JSON.parse((await doctor(sb, host, '--json')).out) as Check[];
}

function find(list: Check[], name: string): Check {
  const found = list.find((c) => c.name === name);
  if (!found) throw new Error(`no check named ${name}`);
  return found;
}

/** A stand-in claude that answers --version with `answer`. */
function claudeAnswering(sb: Sandbox, answer: string): string {
  const file = join(sb.dir, 'claude-version');
  writeFileSync(file, `#!/bin/sh\necho '${answer}'\n`);
  chmodSync(file, 0o755);
  return file;
}

/** An `installed_plugins.json` as Claude Code writes it (version 2), in `pluginsDir`. */
function installPlugin(pluginsDir: string, key: string): void {
  mkdirSync(pluginsDir, { recursive: true });
  const entry = [{ scope: 'user', installPath: join(pluginsDir, 'cache', key), version: '0.0.1', installedAt: '2026-01-01T00:00:00.000Z' }];
  writeFileSync(join(pluginsDir, 'installed_plugins.json'), JSON.stringify({ version: 2, plugins: { [key]: entry } }));
}

describe.each([DISCORD, TELEGRAM])('doctor of $cli', (platform) => {
  test('a good setup passes with every line ✓ and no warning', async () => {
    const sb = setup(platform);
    const result = await doctor(sb);
    expect(result.code).toBe(0);
    expect(result.err).toBe('');
    expect(result.out.split('\n').every((line) => line.startsWith('✓ '))).toBe(true);
  });

  test('Claude Code older than 2.1.80 fails with the update command', async () => {
    const sb = setup(platform);
    sb.env.CLAUDE_BIN = claudeAnswering(sb, '2.0.5 (Claude Code)');
    const result = await doctor(sb);
    expect(result.code).toBe(1);
    expect(result.out).toContain('is older than 2.1.80\n    → Update Claude Code (`claude update` or `npm install -g @anthropic-ai/claude-code@latest`)');
  });

  test('Claude Code not found fails with how to install it', async () => {
    const sb = setup(platform, { env: { CLAUDE_BIN: join('/nonexistent', 'claude') } });
    const claude = find(await checks(sb), 'claude');
    expect(claude).toMatchObject({ ok: false, detail: 'Claude Code (`/nonexistent/claude`) was not found.' });
    expect(claude.fix).toContain('npm install -g @anthropic-ai/claude-code');
  });

  test('root in a bypass mode fails with the ways out', async () => {
    const sb = setup(platform, { env: { CRS_UID: '0' } });
    const root = find(await checks(sb), 'root');
    expect(root).toMatchObject({ ok: false, detail: 'root in a bypass mode: Claude Code exits at once, no session can start' });
    expect(root.fix).toContain(`add IS_SANDBOX=1 to ${join(sb.sessionsDir, 'config.env')}`);
    expect((await doctor(sb)).code).toBe(1);
  });

  test('a profile with its own bot token needs the official plugin installed in its config dir', async () => {
    const sb = setup(platform);
    const own = join(sb.dir, 'work-claude');
    sb.write(`${platform.sessionsDirName}/profiles.env`, `[work]\nCLAUDE_CONFIG_DIR=${own}\n${platform.tokenVar}=another-bot-token\n`, 0o600);
    const key = `${platform.key}@claude-plugins-official`;
    const missing = find(await checks(sb), 'channel plugin');
    expect(missing.ok).toBe(false);
    expect(missing.detail).toBe(
      `profile work runs on the official plugin (own ${platform.tokenVar}), but ${key} is not installed in ${join(own, 'plugins')}: those sessions get no messages`,
    );
    expect(missing.fix).toStartWith(`Install it with \`CLAUDE_CONFIG_DIR=${own} claude plugin install ${key}\``);

    // Installed in the main config dir is not enough: the profile's sessions read their own.
    installPlugin(join(sb.root, 'plugins'), key);
    expect(find(await checks(sb), 'channel plugin').ok).toBe(false);

    // Another plugin is not this one.
    installPlugin(join(own, 'plugins'), `${platform === DISCORD ? 'telegram' : 'discord'}@claude-plugins-official`);
    expect(find(await checks(sb), 'channel plugin').ok).toBe(false);

    installPlugin(join(own, 'plugins'), key.toUpperCase());
    expect(find(await checks(sb), 'channel plugin')).toEqual({ name: 'channel plugin', ok: true, detail: `${key} installed for profile work` });
    expect((await doctor(sb)).code).toBe(0);
  });

  test('plugin mode without bun on the sessions\' PATH fails: the plugin\'s server runs with it', async () => {
    const sb = setup(platform);
    const bin = join(sb.dir, 'bin');
    mkdirSync(bin);
    symlinkSync(Bun.which('tmux')!, join(bin, 'tmux'));
    sb.write(`${platform.sessionsDirName}/profiles.env`, `[default]\n${platform.tokenVar}=another-bot-token\nPATH=${bin}\n`, 0o600);
    installPlugin(join(sb.root, 'plugins'), `${platform.key}@claude-plugins-official`);
    const plugin = find(await checks(sb), 'channel plugin');
    expect(plugin.ok).toBe(false);
    expect(plugin.fix).toContain('npm install -g bun');
  });

  test('a token in a config file others can read is a warning with chmod 600', async () => {
    const sb = setup(platform, { config: ['CLAUDE_CODE_OAUTH_TOKEN=sk-ant-oat01-not-a-real-token'] });
    const config = join(sb.sessionsDir, 'config.env');
    chmodSync(config, 0o644);
    expect(find(await checks(sb), 'token files')).toEqual({
      name: 'token files',
      ok: true,
      warning: true,
      detail: `${config} holds CLAUDE_CODE_OAUTH_TOKEN and is mode 644`,
      fix: `chmod 600 ${config}`,
    });
    chmodSync(config, 0o600);
    expect(find(await checks(sb), 'token files')).toMatchObject({ ok: true, detail: `${config} (mode 600)` });
  });

  test.each<[string, ServiceHost, RegExp, RegExp]>([
    ['no user bus', { ...GOOD_HOST, userBus: null }, /no systemd user bus \(XDG_RUNTIME_DIR and DBUS_SESSION_BUS_ADDRESS unset\)/, /ssh ann@host, not su or sudo.*sudo loginctl enable-linger ann.*use `\S+.* --daemon` instead/],
    ['lingering off', { ...GOOD_HOST, linger: false }, /lingering is off for ann/, /^Run `sudo loginctl enable-linger ann`/],
  ])('login service with %s: a warning with the fix', async (name, host, detail, fix) => {
    const sb = setup(platform);
    const result = await doctor(sb, host);
    expect(result.code).toBe(0);
    expect(result.err).toContain('1 warning(s)');
    const service = find(await checks(sb, host), 'login service');
    expect(service).toMatchObject({ ok: true, warning: true });
    expect(service.detail).toMatch(detail);
    expect(service.fix).toMatch(fix);
    if (name === 'no user bus') expect(service.fix).toContain(platform === DISCORD ? '`discord-watchdog --daemon`' : '`telegram-session-manager watchdog --daemon`');
  });

  test('login service on a working systemd names the unit once installed; on macOS it is launchd', async () => {
    const sb = setup(platform);
    const unit = platform === DISCORD ? 'claude-remote-sessions-watchdog.service' : 'claude-remote-sessions-telegram-watchdog.service';
    expect(find(await checks(sb), 'login service').detail).toStartWith(`no service yet (\`${platform === DISCORD ? 'discord-watchdog' : 'telegram-session-manager'} install-service\`)`);
    mkdirSync(join(sb.home, '.config/systemd/user'), { recursive: true });
    writeFileSync(join(sb.home, '.config/systemd/user', unit), '');
    expect(find(await checks(sb), 'login service')).toEqual({ name: 'login service', ok: true, detail: `${unit} installed; systemd user bus unix:path=/run/user/1000/bus, lingering on` });
    expect(find(await checks(sb, { ...GOOD_HOST, kind: 'launchd', userBus: null, linger: false }), 'login service')).toMatchObject({ ok: true, detail: expect.stringMatching(/^launchd; no LaunchAgent yet/) });
  });
});

describe('every failing or warning check carries a one-line fix', () => {
  /** Setups broken in as many ways as doctor knows, on both platforms. */
  const broken: Array<[string, Platform, (sb: Sandbox) => void, Record<string, string>]> = [
    ['no token file', TELEGRAM, (sb) => sb.write('channels/telegram/.env', ''), {}],
    ['a token Telegram rejects', TELEGRAM, (sb) => sb.write('channels/telegram/.env', 'TELEGRAM_BOT_TOKEN=123:rejected\n', 0o600), {}],
    ['a token Discord rejects', DISCORD, (sb) => sb.write('channels/discord/.env', 'DISCORD_BOT_TOKEN=rejected\n', 0o600), {}],
    ['Telegram unreachable', TELEGRAM, () => {}, { TELEGRAM_API_URL: 'http://127.0.0.1:9' }],
    ['Discord unreachable', DISCORD, () => {}, { DISCORD_API_URL: 'http://127.0.0.1:9/api' }],
    ['a config value of the wrong kind', TELEGRAM, (sb) => sb.write('telegram-sessions/config.env', `TELEGRAM_ALLOWED_USER_ID=ann\nIS_SANDBOX=maybe\n`), {}],
    ['no owner', DISCORD, (sb) => sb.write('discord-sessions/config.env', 'DISCORD_GUILD_ID=1100000000000000001\n'), {}],
    ['a missing workdir', TELEGRAM, (sb) => sb.write('telegram-sessions/config.env', `TELEGRAM_ALLOWED_USER_ID=${OWNER_ID}\nTELEGRAM_SESSION_WORKDIR=/nonexistent/work\n`), {}],
    ['corrupt maps', DISCORD, (sb) => (sb.write('discord-sessions/workdir-map.json', '{'), sb.write('discord-sessions/channel-profiles.json', '{"a": "nope"}')), {}],
    ['a bad profiles.env', TELEGRAM, (sb) => sb.write('telegram-sessions/profiles.env', '[bad name!]\nX=1\n'), {}],
    ['a corrupt registry', TELEGRAM, (sb) => sb.write('telegram-sessions/sessions.json', '{not json'), {}],
    ['a token file others can read', DISCORD, (sb) => chmodSync(join(sb.root, 'channels/discord/.env'), 0o644), {}],
    ['channel-off keys', TELEGRAM, () => {}, { DO_NOT_TRACK: '1' }],
    ['no claude', DISCORD, () => {}, { CLAUDE_BIN: 'crs-no-such-claude' }],
    ['root', TELEGRAM, () => {}, { CRS_UID: '0' }],
  ];

  test.each(broken)('%s', async (_name, platform, breakIt, env) => {
    const sb = setup(platform, { env });
    breakIt(sb);
    const list = await checks(sb, { ...GOOD_HOST, userBus: null });
    const flagged = list.filter((c) => !c.ok || c.warning);
    expect(flagged.length).toBeGreaterThan(1);
    for (const c of flagged) {
      expect(c.fix, `${c.name}: ${c.detail}`).toBeString();
      expect(c.fix!.trim().length, c.name).toBeGreaterThan(10);
      expect(c.fix, c.name).not.toContain('\n');
      // The detail says what is wrong, the fix what to do: an error's text is not a fix.
      expect(c.detail, c.name).not.toBe('failed');
      expect(c.fix, `${c.name} repeats its detail as its fix`).not.toContain(c.detail);
    }
  });

  test('one broken file is reported once, at the first check that reads it', async () => {
    const sb = setup(TELEGRAM);
    sb.write('telegram-sessions/profiles.env', '[bad name!]\nX=1\n');
    const result = await doctor(sb);
    expect(result.code).toBe(1);
    const lines = result.out.split('\n').filter((line) => line.includes('invalid profile name [bad name!]'));
    expect(lines).toEqual([`✗ channel-off keys   ${join(sb.sessionsDir, 'profiles.env')} line 1: invalid profile name [bad name!].`]);
    expect(result.err).toContain('1 check(s) failed.');
  });

  test('Telegram rejecting the token says which file to check', async () => {
    const sb = setup(TELEGRAM, { token: '123:rejected' });
    const bot = find(await checks(sb), 'Telegram bot');
    expect(bot).toMatchObject({ ok: false, detail: 'Telegram getMe failed with 401: Unauthorized.' });
    expect(bot.fix).toContain('check TELEGRAM_BOT_TOKEN in ~/.claude/channels/telegram/.env');
  });
});
