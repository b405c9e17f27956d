import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createDiscordWatchdogCommand } from '../../lib/commands/discord-watchdog/index.ts';
import { runCli } from '../../lib/commands/program.ts';
import { DISCORD } from '../../lib/core/config/platform.ts';
import { renderService, serviceTarget, systemdQuote } from '../../lib/daemons/service.ts';
import { Sandbox } from '../helpers.ts';

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
