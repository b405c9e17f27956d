import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createDiscordWatchdogCommand } from '../../lib/commands/discord-watchdog/index.ts';
import { createTelegramSessionManagerCommand } from '../../lib/commands/telegram-session-manager/index.ts';
import { runCli } from '../../lib/commands/program.ts';
import { DISCORD, TELEGRAM } from '../../lib/core/config/platform.ts';
import { daemonEnv } from '../../lib/daemons/daemon.ts';
import { type ServiceHost, findUserBus, renderService, serviceTarget, systemServiceHost, systemdQuote } from '../../lib/daemons/service.ts';
import { OWNER_ID, Sandbox } from '../helpers.ts';

const { label: LAUNCHD_LABEL, unit: SYSTEMD_UNIT } = serviceTarget(DISCORD);
const FOUND: Record<string, string> = { tmux: '/opt/homebrew/bin/tmux', claude: '/Users/me/.local/bin/claude', bun: '/Users/me/.bun/bin/bun' };
/** Bun.which on a PATH, for the machine these tests describe. */
const which = (command: string, path: string) => (FOUND[command] && path.split(':').includes(dirname(FOUND[command]!)) ? FOUND[command]! : null);
const base = {
  target: serviceTarget(DISCORD),
  argv: ['/Users/me/bin/discord-watchdog', '--foreground'],
  env: { CLAUDE_CONFIG_DIR: '/Users/me/.claude', PATH: '/opt/homebrew/bin:/Users/me/.local/bin:/Users/me/.bun/bin:/usr/bin' },
  home: '/Users/me',
  log: '/Users/me/.claude/discord-sessions/watchdog.log',
  uid: 501,
  which,
};

/** A minimal well-formedness check: every tag closes in order (no XML library is needed for a plist). */
function assertWellFormed(xml: string): void {
  const stack: string[] = [];
  for (const [, close, name, selfClose] of xml.replace(/<\?xml[^>]*\?>|<!DOCTYPE[^>]*>/g, '').matchAll(/<(\/?)([A-Za-z]+)[^>]*?(\/?)>/g)) {
    if (selfClose) continue;
    if (close) expect(stack.pop()).toBe(name);
    else stack.push(name!);
  }
  expect(stack).toEqual([]);
  expect(xml).not.toMatch(/&(?!amp;|lt;|gt;|quot;)/);
}

describe('service files', () => {
  test('the LaunchAgent plist is well-formed with RunAtLoad, KeepAlive, PATH of the tools found, and the log', () => {
    const spec = renderService({ ...base, kind: 'launchd' });
    expect(spec.file).toBe(`/Users/me/Library/LaunchAgents/${LAUNCHD_LABEL}.plist`);
    assertWellFormed(spec.content);
    expect(spec.content).toContain(`<key>Label</key>\n  <string>${LAUNCHD_LABEL}</string>`);
    expect(spec.content).toMatch(/<key>RunAtLoad<\/key>\s*<true\/>/);
    expect(spec.content).toMatch(/<key>KeepAlive<\/key>\s*<true\/>/);
    expect(spec.content).toContain('<string>/Users/me/bin/discord-watchdog</string>\n    <string>--foreground</string>');
    expect(spec.content).toMatch(/<key>PATH<\/key>\s*<string>\/opt\/homebrew\/bin:\/Users\/me\/.local\/bin:\/Users\/me\/.bun\/bin:/);
    expect(spec.content).toMatch(/<key>CLAUDE_CONFIG_DIR<\/key>\s*<string>\/Users\/me\/.claude<\/string>/);
    expect(spec.content).toMatch(/<key>StandardErrorPath<\/key>\s*<string>\/Users\/me\/.claude\/discord-sessions\/watchdog.log<\/string>/);
    expect(spec.load).toEqual([['launchctl', 'bootout', `gui/501/${LAUNCHD_LABEL}`], ['launchctl', 'bootstrap', 'gui/501', spec.file]]);
  });

  test('values with XML characters are escaped', () => {
    const spec = renderService({ ...base, kind: 'launchd', home: '/Users/a&b <c>' });
    assertWellFormed(spec.content);
    expect(spec.content).toContain('<string>/Users/a&amp;b &lt;c&gt;</string>');
  });

  test('the systemd unit restarts always, kills only the watchdog, and quotes its arguments', () => {
    const spec = renderService({ ...base, kind: 'systemd', argv: ['/home/me/my tools/discord-watchdog', '--foreground'], home: '/home/me' });
    expect(spec.file).toBe(`/home/me/.config/systemd/user/${SYSTEMD_UNIT}`);
    expect(spec.content).toContain('ExecStart="/home/me/my tools/discord-watchdog" --foreground\n');
    expect(spec.content).toContain('Restart=always\n');
    expect(spec.content).toContain('KillMode=process\n');
    expect(spec.content).toMatch(/^Environment=PATH=\/opt\/homebrew\/bin:/m);
    expect(spec.content).toContain('StandardError=append:/Users/me/.claude/discord-sessions/watchdog.log');
    expect(spec.content).toContain('WantedBy=default.target');
    expect(spec.content).not.toContain('{{');
    expect(spec.load).toEqual([['systemctl', '--user', 'daemon-reload'], ['systemctl', '--user', 'enable', '--now', SYSTEMD_UNIT]]);
  });

  test.each([
    ['plain/path', 'plain/path'],
    ['with space', '"with space"'],
    ['100%', '100%%'],
    ['say "hi"', '"say \\"hi\\""'],
  ])('systemdQuote(%p) = %p', (input, expected) => {
    expect(systemdQuote(input)).toBe(expected);
  });
});

describe('the environment of what a service starts', () => {
  const network = { HTTPS_PROXY: 'http://u:p@proxy.corp:3128', NO_PROXY: 'localhost', NODE_EXTRA_CA_CERTS: '/etc/ssl/corp.pem', SSL_CERT_FILE: '/etc/ssl/cert.pem', http_proxy: 'http://proxy.corp:3128' };

  test('the unit and the plist carry the proxy and CA settings set at install time, and no secret of the shell', () => {
    const env = { ...base.env, ...network, ANTHROPIC_API_KEY: 'sk-shell', GITHUB_TOKEN: 'ghp-shell' };
    const unit = renderService({ ...base, kind: 'systemd', env }).content;
    expect(unit).toContain('Environment=HTTPS_PROXY=http://u:p@proxy.corp:3128\n');
    expect(unit).toContain('Environment=NO_PROXY=localhost\n');
    expect(unit).toContain('Environment=NODE_EXTRA_CA_CERTS=/etc/ssl/corp.pem\n');
    expect(unit).toContain('Environment=SSL_CERT_FILE=/etc/ssl/cert.pem\n');
    expect(unit).toContain('Environment=http_proxy=http://proxy.corp:3128\n');
    expect(unit).not.toMatch(/ANTHROPIC_API_KEY|GITHUB_TOKEN/);
    const plist = renderService({ ...base, kind: 'launchd', env }).content;
    expect(plist).toMatch(/<key>NODE_EXTRA_CA_CERTS<\/key>\s*<string>\/etc\/ssl\/corp.pem<\/string>/);
    expect(renderService({ ...base, kind: 'systemd' }).content).not.toMatch(/PROXY|CA_CERTS/i);
  });

  test('a daemon started in tmux gets them too (the router and the watchdog reach the platform through the proxy)', () => {
    expect(daemonEnv({ PATH: '/bin', ...network, GITHUB_TOKEN: 'x' })).toEqual({ PATH: '/bin', ...network });
  });

  test('tmux or claude not on the PATH the service gets are reported', () => {
    expect(renderService({ ...base, kind: 'systemd' }).missing).toEqual([]);
    // claude lives in a folder the installing shell's PATH does not name, and the service's usual folders do not either.
    expect(renderService({ ...base, kind: 'launchd', env: { ...base.env, PATH: '/usr/bin' } }).missing).toEqual(['claude']);
    const noTmux = (command: string, path: string) => (command === 'tmux' ? null : which(command, path));
    expect(renderService({ ...base, kind: 'systemd', which: noTmux, env: { ...base.env, PATH: '/usr/bin' } }).missing).toEqual(['tmux', 'claude']);
    // CLAUDE_BIN is looked for as it is.
    const custom = (command: string, path: string) => (command === '/opt/claude/bin/claude' ? command : which(command, path));
    expect(renderService({ ...base, kind: 'systemd', which: custom, env: { ...base.env, CLAUDE_BIN: '/opt/claude/bin/claude' } }).missing).toEqual([]);
  });
});

describe('discord-watchdog install-service', () => {
  let sb: Sandbox;
  beforeAll(() => {
    sb = new Sandbox();
  });
  afterAll(async () => {
    await sb.cleanup();
  });

  test('--dry-run prints the unit and the commands and writes nothing', async () => {
    const { ctx, out } = sb.context();
    const ran: string[][] = [];
    ctx.runInteractive = async (argv) => (ran.push(argv), 0);
    const code = await runCli(createDiscordWatchdogCommand(ctx), ['install-service', '--dry-run', '--kind', 'systemd'], ctx.io);
    expect(code).toBe(0);
    expect(out.join('\n')).toContain('ExecStart=');
    expect(out.join('\n')).toContain(`$ systemctl --user enable --now ${SYSTEMD_UNIT}`);
    expect(ran).toEqual([]);
    expect(existsSync(join(sb.home, '.config/systemd/user', SYSTEMD_UNIT))).toBe(false);
  });

  test('install writes the unit under HOME and runs systemctl; uninstall reverses it', async () => {
    const { ctx } = sb.context();
    const ran: string[][] = [];
    ctx.runInteractive = async (argv) => (ran.push(argv), 0);
    expect(await runCli(createDiscordWatchdogCommand(ctx), ['install-service', '--kind', 'systemd'], ctx.io)).toBe(0);
    const file = join(sb.home, '.config/systemd/user', SYSTEMD_UNIT);
    expect(readFileSync(file, 'utf8')).toContain('bin/discord-watchdog.ts --foreground');
    expect(ran).toEqual([['systemctl', '--user', 'daemon-reload'], ['systemctl', '--user', 'enable', '--now', SYSTEMD_UNIT]]);
    expect(await runCli(createDiscordWatchdogCommand(ctx), ['uninstall-service', '--kind', 'systemd'], ctx.io)).toBe(0);
    expect(existsSync(file)).toBe(false);
  });

  test('a failing systemctl is reported with exit 1', async () => {
    const { ctx, err } = sb.context();
    ctx.runInteractive = async () => 1;
    expect(await runCli(createDiscordWatchdogCommand(ctx), ['install-service', '--kind', 'systemd'], ctx.io)).toBe(1);
    expect(err.join('\n')).toContain('systemctl --user daemon-reload` failed');
  });
});

describe('telegram-session-manager install-service', () => {
  const target = serviceTarget(TELEGRAM);
  const sandboxes: Sandbox[] = [];
  afterAll(async () => {
    for (const sb of sandboxes) await sb.cleanup();
  });

  /** A Telegram sandbox, and a run of its install-service/uninstall-service on `host` that records launchctl/systemctl. */
  function telegram(env: Record<string, string> = {}, config: string[] = []) {
    const sb = new Sandbox({ platform: TELEGRAM, env, config: [`TELEGRAM_ALLOWED_USER_ID="${OWNER_ID}"`, ...config].join('\n') });
    sandboxes.push(sb);
    const ran: string[][] = [];
    const run = async (host: ServiceHost | undefined, ...args: string[]) => {
      const { ctx, out, err } = sb.context();
      if (host) ctx.serviceHost = host;
      ctx.runInteractive = async (argv) => (ran.push(argv), 0);
      const code = await runCli(createTelegramSessionManagerCommand(ctx), args, ctx.io);
      return { code, out: out.join('\n'), err: err.join('\n') };
    };
    return { sb, ran, run, unitFile: join(sb.home, '.config/systemd/user', target.unit) };
  }
  const good: ServiceHost = { kind: 'systemd', uid: 1000, user: 'ann', userBus: 'unix:path=/run/user/1000/bus', linger: true };

  test('installs a systemd --user unit that runs the Telegram watchdog, mode 600, then enables it; uninstall removes it', async () => {
    const { ran, run, unitFile } = telegram({ HTTPS_PROXY: 'http://proxy.corp:3128', NODE_EXTRA_CA_CERTS: '/etc/ssl/corp.pem' });
    const result = await run(good, 'install-service');
    expect(result.code).toBe(0);
    expect(result.out).toContain(`Wrote ${unitFile}`);
    expect(result.out).toContain('Service enabled; it starts at boot.');
    expect(result.err).toBe('');
    const unit = readFileSync(unitFile, 'utf8');
    expect(unit).toMatch(/^ExecStart=\S+ \S+\/bin\/telegram-session-manager\.ts watchdog --foreground$/m);
    expect(unit).toContain('Description=claude-remote-sessions Telegram watchdog');
    expect(unit).toMatch(/^StandardOutput=append:\S+\/telegram-sessions\/watchdog\.log$/m);
    expect(unit).toContain('Environment=HTTPS_PROXY=http://proxy.corp:3128\n');
    expect(unit).toContain('Environment=NODE_EXTRA_CA_CERTS=/etc/ssl/corp.pem\n');
    expect(statSync(unitFile).mode & 0o777).toBe(0o600);
    expect(ran).toEqual([['systemctl', '--user', 'daemon-reload'], ['systemctl', '--user', 'enable', '--now', target.unit]]);
    // The Discord watchdog's unit is another file: both can be installed.
    expect(target.unit).not.toBe(SYSTEMD_UNIT);

    expect((await run(good, 'uninstall-service')).code).toBe(0);
    expect(ran.at(-1)).toEqual(['systemctl', '--user', 'disable', '--now', target.unit]);
    expect(existsSync(unitFile)).toBe(false);
  });

  test('without a systemd user bus it stops before writing anything, with the fix', async () => {
    const { ran, run, unitFile } = telegram();
    const noBus = { ...good, userBus: null };
    for (const verb of ['install-service', 'uninstall-service']) {
      const result = await run(noBus, verb);
      expect(result.code).toBe(1);
      expect(result.err.split('\n')).toHaveLength(1);
      expect(result.err).toContain('No systemd user bus in this shell (XDG_RUNTIME_DIR and DBUS_SESSION_BUS_ADDRESS are unset)');
      expect(result.err).toContain('sudo loginctl enable-linger ann');
      expect(result.err).toContain('`telegram-session-manager watchdog --daemon`');
    }
    expect(existsSync(unitFile)).toBe(false);
    expect(ran).toEqual([]);

    const dry = await run(noBus, 'install-service', '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.out).toContain(`# ${unitFile}`);
    expect(dry.err).toContain('This shell has no systemd user bus, so these commands would fail.');
    expect(existsSync(unitFile)).toBe(false);
  });

  test('with lingering off it says the service stops at logout and how to keep it', async () => {
    const { run } = telegram();
    const result = await run({ ...good, linger: false }, 'install-service');
    expect(result.code).toBe(0);
    expect(result.out).toContain('Service enabled; it starts when you log in.');
    expect(result.err).toContain('Lingering is off for ann: the service stops when you log out. Run `sudo loginctl enable-linger ann`');
  });

  test('claude not on the PATH the service gets is a warning', async () => {
    const { run } = telegram({ CLAUDE_BIN: 'crs-no-such-claude' });
    const result = await run(good, 'install-service', '--dry-run');
    expect(result.code).toBe(0);
    expect(result.err).toContain('`crs-no-such-claude` is not on the PATH the service gets, so its sessions cannot start');
  });

  test('a LaunchAgent: the plist and launchctl, and the keychain warning until a long-lived token is configured', async () => {
    const { sb, ran, run } = telegram();
    const mac: ServiceHost = { kind: 'launchd', uid: 501, user: 'ann', userBus: null, linger: false };
    const result = await run(mac, 'install-service');
    expect(result.code).toBe(0);
    const plist = join(sb.home, 'Library/LaunchAgents', `${target.label}.plist`);
    expect(readFileSync(plist, 'utf8')).toContain(`<string>${target.label}</string>`);
    expect(readFileSync(plist, 'utf8')).toMatch(/<string>watchdog<\/string>\s*<string>--foreground<\/string>/);
    expect(ran).toEqual([['launchctl', 'bootout', `gui/501/${target.label}`], ['launchctl', 'bootstrap', 'gui/501', plist]]);
    expect(result.err).toContain('A session started by a LaunchAgent may not reach the login keychain and come up LOGGED_OUT: make a long-lived token with `claude setup-token`');

    sb.write('telegram-sessions/config.env', `TELEGRAM_ALLOWED_USER_ID="${OWNER_ID}"\nCLAUDE_CODE_OAUTH_TOKEN=sk-ant-oat01-not-real\n`, 0o600);
    expect((await run(mac, 'install-service')).err).not.toContain('keychain');
  });

  test('--help works and runs nothing', async () => {
    const { ran, run } = telegram();
    const result = await run(undefined, 'install-service', '--help');
    expect(result.code).toBe(0);
    expect(result.out).toContain('USAGE telegram-session-manager install-service');
    expect(ran).toEqual([]);
  });
});

describe('the host a service is installed on', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'crs-host-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('the user bus: DBUS_SESSION_BUS_ADDRESS, else a socket under XDG_RUNTIME_DIR, else none', () => {
    const run = join(dir, 'run');
    mkdirSync(join(run, 'systemd'), { recursive: true });
    expect(findUserBus({})).toBeNull();
    expect(findUserBus({ XDG_RUNTIME_DIR: run })).toBeNull();
    writeFileSync(join(run, 'bus'), '');
    expect(findUserBus({ XDG_RUNTIME_DIR: run })).toBe(join(run, 'bus'));
    writeFileSync(join(run, 'systemd/private'), '');
    expect(findUserBus({ XDG_RUNTIME_DIR: run })).toBe(join(run, 'systemd/private'));
    expect(findUserBus({ DBUS_SESSION_BUS_ADDRESS: 'unix:path=/x/bus' })).toBe('unix:path=/x/bus');
  });

  test('lingering is read from systemd\'s linger folder for the user', () => {
    const linger = join(dir, 'linger');
    mkdirSync(linger, { recursive: true });
    expect(systemServiceHost({ USER: 'ann' }, linger)).toMatchObject({ user: 'ann', linger: false, userBus: null });
    writeFileSync(join(linger, 'ann'), '');
    expect(systemServiceHost({ USER: 'ann' }, linger).linger).toBe(true);
    expect(systemServiceHost({ USER: 'bob' }, linger).linger).toBe(false);
    // Without USER or LOGNAME (a service, a bare shell), the name comes from the user database.
    const name = Bun.spawnSync(['id', '-un']).stdout.toString().trim();
    expect(systemServiceHost({}, linger).user).toBe(name);
  });
});
