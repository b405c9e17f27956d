import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { createConsola } from 'consola';
import { createTelegramSessionManagerCommand } from '../../lib/commands/telegram-session-manager/index.ts';
import { runCli } from '../../lib/commands/program.ts';
import { TELEGRAM } from '../../lib/core/config/platform.ts';
import { runDaemon } from '../../lib/daemons/daemon.ts';
import { FakeDiscord } from '../fakes/discord.ts';
import { OWNER_ID, ROOT, Sandbox, waitFor } from '../helpers.ts';

/** `[2026-03-20T14:05:33+01:00] ` at the start of a log file line. */
const DATED = /^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d\] /;

describe('logs verb', () => {
  let sb: Sandbox;
  beforeAll(() => {
    sb = new Sandbox();
  });
  afterAll(() => sb.cleanup());

  test('prints the last lines of the watchdog log (the default) or the slash daemon’s, reaching into the rotated file', async () => {
    writeFileSync(join(sb.sessionsDir, 'watchdog.log.1'), '[2026-01-01T00:00:00+00:00] older\n');
    writeFileSync(join(sb.sessionsDir, 'watchdog.log'), '[2026-01-02T00:00:00+00:00] one\n[2026-01-02T00:00:01+00:00] two \u202Eevil\n');
    writeFileSync(join(sb.sessionsDir, 'slash-daemon.log'), 's1\ns2\ns3\n');
    expect(await sb.run('logs')).toMatchObject({ code: 0, out: '[2026-01-01T00:00:00+00:00] older\n[2026-01-02T00:00:00+00:00] one\n[2026-01-02T00:00:01+00:00] two evil' });
    expect((await sb.run('logs', 'watchdog', '-n', '1')).out).toBe('[2026-01-02T00:00:01+00:00] two evil');
    expect((await sb.run('logs', 'slash-daemon', '-n', '2')).out).toBe('s2\ns3');
  });

  test('a wrong daemon name or line count is a usage error that names the choices', async () => {
    const wrong = await sb.run('logs', 'router');
    expect(wrong.code).toBe(2);
    expect(wrong.err).toContain('Unknown daemon "router". Use watchdog or slash-daemon.');
    const count = await sb.run('logs', '-n', 'lots');
    expect(count.code).toBe(2);
    expect(count.err).toContain('-n takes a whole number of lines');
  });

  test('no log yet is said, not an error', async () => {
    const bare = new Sandbox();
    try {
      const result = await bare.run('logs', 'slash-daemon');
      expect(result.code).toBe(0);
      expect(result.out).toBe('');
      expect(result.err).toContain(`No slash daemon log at ${join(bare.sessionsDir, 'slash-daemon.log')} yet`);
    } finally {
      await bare.cleanup();
    }
  });

  test('--follow prints what is appended until interrupted', async () => {
    const file = join(sb.sessionsDir, 'slash-daemon.log');
    writeFileSync(file, 'first\n');
    const { ctx, out } = sb.context();
    const stop = new AbortController();
    ctx.signal = stop.signal;
    const { createDiscordSessionManagerCommand } = await import('../../lib/commands/discord-session-manager/index.ts');
    const running = runCli(createDiscordSessionManagerCommand(ctx), ['logs', 'slash-daemon', '--follow', '-n', '1'], ctx.io);
    await waitFor(() => out.length === 1);
    writeFileSync(file, 'first\nsecond\n');
    await waitFor(() => out.length === 2, 5000, 'the appended line');
    stop.abort();
    expect(await running).toBe(0);
    expect(out).toEqual(['first', 'second']);
  });

  test('telegram-session-manager logs: watchdog or router', async () => {
    const tg = new Sandbox({ platform: TELEGRAM, config: `TELEGRAM_ALLOWED_USER_ID="${OWNER_ID}"` });
    try {
      writeFileSync(join(tg.sessionsDir, 'router.log'), 'r1\nr2\n');
      const { ctx, out, err } = tg.context();
      expect(await runCli(createTelegramSessionManagerCommand(ctx), ['logs', 'router', '-n', '1'], ctx.io)).toBe(0);
      expect(out).toEqual(['r2']);
      expect(await runCli(createTelegramSessionManagerCommand(ctx), ['logs', 'slash-daemon'], ctx.io)).toBe(2);
      expect(err.join('\n')).toContain('Use watchdog or router.');
    } finally {
      await tg.cleanup();
    }
  });
});

describe('an invalid config.env while a daemon runs', () => {
  test('is one line in its log; the settings in use stay until the file loads again', async () => {
    const sb = new Sandbox();
    const lines: string[] = [];
    const log = createConsola({ level: 4, reporters: [{ log: (entry) => lines.push(`[${entry.type}] ${entry.args.map(String).join(' ')}`) }] });
    const { manager } = sb.context().ctx;
    const config = (extra: string) =>
      writeFileSync(join(sb.sessionsDir, 'config.env'), `DISCORD_ALLOWED_USER_ID="${OWNER_ID}"\nDISCORD_GUILD_ID="1100000000000000001"\n${extra}\n`);
    try {
      config('DISCORD_IDLE_TIMEOUT=7');
      await runDaemon({ name: 'watchdog', what: 'The watchdog', pidFile: join(sb.sessionsDir, 'watchdog.pid'), sessionsDir: sb.sessionsDir, log, clock: Date, manager }, async () => {
        expect(manager.config().idleTimeoutMin).toBe(7);
        config('DISCORD_IDLE_TIMEOUT=soon');
        for (let i = 0; i < 5; i++) expect(manager.config().idleTimeoutMin).toBe(7);
        expect(lines).toEqual([
          `[error] ${join(sb.sessionsDir, 'config.env')} changed but does not load, so the previous settings stay in use: ${join(sb.sessionsDir, 'config.env')}: DISCORD_IDLE_TIMEOUT="soon" is not a number ≥ 0. Fix DISCORD_IDLE_TIMEOUT in ${join(sb.sessionsDir, 'config.env')}.`,
        ]);
        config('DISCORD_IDLE_TIMEOUT=12');
        expect(manager.config().idleTimeoutMin).toBe(12);
        expect(lines[1]).toBe(`[info] ${join(sb.sessionsDir, 'config.env')} loaded again: its new settings are in use`);
        expect(lines).toHaveLength(2);
      });
      // A one-shot command (nothing loaded before) still fails on it at once.
      config('DISCORD_IDLE_TIMEOUT=later');
      const result = await sb.run('spawn', '1300000000000000001');
      expect(result.code).toBe(1);
      expect(result.err).toContain('DISCORD_IDLE_TIMEOUT="later" is not a number');
    } finally {
      await sb.cleanup();
    }
  });
});

describe('daemon log files (real processes)', () => {
  let fake: FakeDiscord;
  let sb: Sandbox;
  let proc: Subprocess<'ignore', 'pipe', 'pipe'> | undefined;

  beforeAll(() => {
    fake = new FakeDiscord().start();
    sb = new Sandbox({
      env: { DISCORD_API_URL: fake.url },
      config: [`DISCORD_ALLOWED_USER_ID="${OWNER_ID}"`, `DISCORD_GUILD_ID="${fake.guildId}"`, 'DISCORD_SESSION_WORKDIR="$HOME/work"', 'DISCORD_WATCHDOG_INTERVAL=1'].join('\n'),
    });
  });

  afterAll(async () => {
    proc?.kill('SIGTERM');
    await proc?.exited;
    await sb.cleanup();
    await fake.stop();
  });

  test('the watchdog and the slash daemon it starts write dated lines to their logs; a config typo is one line there', async () => {
    const log = join(sb.sessionsDir, 'watchdog.log');
    proc = Bun.spawn(['bun', join(ROOT, 'bin/discord-watchdog.ts'), '--log-file', log], { env: sb.env as Record<string, string>, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
    const read = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);
    await waitFor(() => read(log).some((l) => l.includes('Watchdog started')), 10_000, 'the watchdog log');
    expect(read(log).every((l) => DATED.test(l))).toBe(true);
    const slashLog = join(sb.sessionsDir, 'slash-daemon.log');
    await waitFor(() => read(slashLog).some((l) => l.includes('Slash daemon connected')), 15_000, 'the slash daemon log');
    expect(read(slashLog).every((l) => DATED.test(l))).toBe(true);
    expect((await sb.run('logs', 'slash-daemon', '-n', '1')).out).toMatch(DATED);

    const configFile = join(sb.sessionsDir, 'config.env');
    const good = readFileSync(configFile, 'utf8');
    writeFileSync(configFile, `${good}DISCORD_CLEANUP_INTERVAL=often\n`);
    await waitFor(() => read(log).some((l) => l.includes('changed but does not load')), 5000, 'the config line');
    // Several ticks of every duty later, still that one line, and no stack.
    await Bun.sleep(2000);
    const after = read(log).filter((l) => !l.includes('Watchdog started') && !l.includes('slash daemon was not running'));
    expect(after).toEqual([expect.stringMatching(new RegExp(`${DATED.source}error: .*config.env changed but does not load, so the previous settings stay in use: .*DISCORD_CLEANUP_INTERVAL="often" is not a number`))]);
    writeFileSync(configFile, good);
    await waitFor(() => read(log).some((l) => l.includes('loaded again')), 5000, 'the reload line');
  }, 40_000);
});
