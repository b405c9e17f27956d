import { afterEach, describe, expect, test } from 'bun:test';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { FakeDiscord } from '../fakes/discord.ts';
import { OWNER_ID, ROOT, Sandbox, waitFor } from '../helpers.ts';

interface World {
  sb: Sandbox;
  fake: FakeDiscord;
  proc?: Subprocess<'ignore', 'pipe', 'pipe'>;
  log: string[];
}

const worlds: World[] = [];

/** A sandbox whose config.env runs the watchdog with 1-second intervals against a fresh Discord fake. */
function createWorld(extraConfig: string[] = []): World {
  const fake = new FakeDiscord().start();
  const sb = new Sandbox({
    env: { DISCORD_API_URL: fake.url },
    config: [
      `DISCORD_ALLOWED_USER_ID="${OWNER_ID}"`,
      `DISCORD_GUILD_ID="${fake.guildId}"`,
      'DISCORD_SESSION_WORKDIR="$HOME/work"',
      'DISCORD_WATCHDOG_INTERVAL=1',
      'DISCORD_DISCOVER_INTERVAL=1',
      'DISCORD_CLEANUP_INTERVAL=1',
      'DISCORD_SLASH_DAEMON=off',
      ...extraConfig,
    ].join('\n'),
  });
  const world: World = { sb, fake, log: [] };
  worlds.push(world);
  return world;
}

/** Runs `discord-watchdog` in the foreground as its own process, collecting its log lines. */
function startWatchdog(world: World, args: string[] = []): Subprocess<'ignore', 'pipe', 'pipe'> {
  const proc = Bun.spawn(['bun', join(ROOT, 'bin/discord-watchdog.ts'), ...args], {
    env: world.sb.env as Record<string, string>,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  world.proc = proc;
  (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) world.log.push(...decoder.decode(chunk).split('\n').filter(Boolean));
  })();
  return proc;
}

async function listJson(sb: Sandbox): Promise<Array<Record<string, any>>> {
  const result = await sb.run('list', '--json');
  return JSON.parse(result.out);
}

afterEach(async () => {
  for (const world of worlds.splice(0)) {
    world.proc?.kill('SIGTERM');
    await world.proc?.exited;
    await world.sb.cleanup();
    await world.fake.stop();
  }
});

describe('discord-watchdog loop (1-second intervals, real tmux, Discord fake)', () => {
  test('discovers channels, brings a killed session back, spawns a new channel and cleans a deleted one', async () => {
    const world = createWorld();
    const { sb, fake } = world;
    const general = fake.addChannel('general');
    startWatchdog(world);
    await waitFor(async () => (await sb.tmux.hasSession(`dc-${general.id}`)), 8000, 'discovery of #general');
    expect(world.log.join('\n')).toMatch(/^\[\d\d:\d\d:\d\d\] Watchdog started/m);

    const before = (await sb.tmux.listSessions()).get(`dc-${general.id}`)!.panePid;
    await sb.tmux.killSession(`dc-${general.id}`);
    await waitFor(async () => {
      const info = (await sb.tmux.listSessions()).get(`dc-${general.id}`);
      return Boolean(info && !info.dead && info.panePid !== before);
    }, 4000, 'respawn of #general');

    const added = fake.addChannel('added-later');
    await waitFor(() => sb.tmux.hasSession(`dc-${added.id}`), 6000, 'discovery of #added-later');

    fake.channels.delete(added.id);
    await waitFor(async () => !(await sb.tmux.hasSession(`dc-${added.id}`)) && !(added.id in sb.registry()), 6000, 'cleanup of #added-later');
    await waitFor(() => world.log.join('\n').includes(`STALE  added-later (${added.id})`), 3000, 'the STALE log line');
  }, 30_000);

  test("discovery spawns an owner's thread, never a stranger's, and logs that refusal once", async () => {
    const world = createWorld();
    const { sb, fake } = world;
    const general = fake.addChannel('general');
    const mine = fake.addThread(general.id, 'mine');
    const theirs = fake.addThread(general.id, 'theirs', { owner_id: '1999999999999999999' });
    startWatchdog(world);
    await waitFor(async () => (await sb.tmux.hasSession(`dc-${mine.id}`)) && existsSync(join(sb.sessionsDir, 'sessions.json')) && mine.id in sb.registry(), 8000, "discovery of the owner's thread");
    // Several discovery passes (1 s each) later, the stranger's thread still has no session.
    await Bun.sleep(2500);
    expect(theirs.id in sb.registry()).toBe(false);
    expect(await sb.tmux.hasSession(`dc-${theirs.id}`)).toBe(false);
    const refusals = world.log.filter((l) => l.includes('REFUSED thread creation') && l.includes(theirs.id));
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toContain('from user 1999999999999999999');
  }, 30_000);

  test('an idle session is suspended and then not respawned', async () => {
    const world = createWorld(['DISCORD_IDLE_TIMEOUT=0.02']);
    const channel = world.fake.addChannel('quiet');
    startWatchdog(world);
    await waitFor(async () => (await listJson(world.sb)).some((r) => r.status === 'SUSPENDED'), 10_000, 'idle suspension');
    // Two more respawn passes must leave it down.
    const passes = world.log.length;
    await waitFor(() => world.log.length >= passes && existsSync(join(world.sb.sessionsDir, channel.id, '.suspended')), 2000);
    await Bun.sleep(2500);
    expect(await world.sb.tmux.hasSession(`dc-${channel.id}`)).toBe(false);
    expect((await listJson(world.sb))[0]!.status).toBe('SUSPENDED');
  }, 30_000);

  test('a session that dies at once is respawned, then backs off and shows CRASHLOOP with its cause', async () => {
    const world = createWorld();
    const { sb, fake } = world;
    const channel = fake.addChannel('broken');
    startWatchdog(world);
    await waitFor(() => sb.tmux.hasSession(`dc-${channel.id}`), 8000, 'discovery');
    writeFileSync(join(sb.sessionsDir, channel.id, 'fake-claude-exit'), 'Error: Invalid API key · Please run /login\n');
    await sb.tmux.killSession(`dc-${channel.id}`);
    // The registry entry is written once the start is done: the list may still be empty at first.
    await waitFor(async () => (await listJson(sb))[0]?.status === 'CRASHLOOP', 10_000, 'CRASHLOOP');
    const [row] = await listJson(sb);
    expect(row!.crash.quickDeaths).toBeGreaterThanOrEqual(3);
    expect(row!.crash.backoffUntil).toBeGreaterThan(Date.now() + 20_000);
    expect(row!.lastExit).toContain('Error: Invalid API key');
    expect((await sb.run('list')).out).toMatch(/\[CRASHLOOP\].*last: Error: Invalid API key/);
    const runs = sb.claudeRuns().length;
    await Bun.sleep(2500);
    expect(sb.claudeRuns().length).toBe(runs);
    expect(world.log.join('\n')).toMatch(/CRASHLOOP  dc-\d+  next try/);

    // Once the cause is fixed, an explicit spawn clears the streak.
    rmSync(join(sb.sessionsDir, channel.id, 'fake-claude-exit'));
    const result = await sb.run('spawn', channel.id);
    expect(result.code).toBe(0);
    expect(JSON.parse(readFileSync(join(sb.sessionsDir, channel.id, '.crash.json'), 'utf8')).quickDeaths).toBe(0);
  }, 30_000);

  test('a second loop refuses to start, and SIGTERM stops the first cleanly', async () => {
    const world = createWorld();
    const proc = startWatchdog(world);
    const pidFile = join(world.sb.sessionsDir, 'watchdog.pid');
    await waitFor(() => existsSync(pidFile), 8000, 'pid file');
    expect(readFileSync(pidFile, 'utf8').split('\n')[0]).toBe(String(proc.pid));
    const second = await world.sb.runBin('discord-watchdog', []);
    expect(second.code).toBe(1);
    expect(second.err).toContain('already running');
    proc.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    expect(existsSync(pidFile)).toBe(false);
    expect(world.log.join('\n')).toContain('Watchdog stopped');
  }, 30_000);

  test('--daemon runs the loop in tmux dc-watchdog; --status and --stop report and stop it', async () => {
    const world = createWorld();
    const { sb } = world;
    const started = await sb.runBin('discord-watchdog', ['--daemon']);
    expect(started.code).toBe(0);
    expect(started.out).toContain("Watchdog started in tmux session 'dc-watchdog'");
    await waitFor(() => existsSync(join(sb.sessionsDir, 'watchdog.pid')), 8000, 'daemon pid file');
    const again = await sb.runBin('discord-watchdog', ['--daemon']);
    expect(again.out).toContain('already running');
    const status = await sb.runBin('discord-watchdog', ['--status']);
    expect(status.out).toContain('Watchdog: RUNNING (tmux: dc-watchdog)');
    expect(status.out).toContain('Slash daemon: STOPPED');
    const stopped = await sb.runBin('discord-watchdog', ['--stop']);
    expect(stopped.out).toContain('Watchdog stopped');
    const after = await sb.runBin('discord-watchdog', ['--status']);
    expect(after.out).toContain('Watchdog: STOPPED');
  }, 30_000);

  test('--daemon whose daemon exits at once fails (exit 1) with its last lines instead of saying started', async () => {
    const world = createWorld();
    const { sb } = world;
    sb.write('channels/discord/.env', 'DISCORD_BOT_TOKEN=wrong-token-0123456789abcdef\n', 0o600);
    const result = await sb.runBin('discord-watchdog', ['--daemon']);
    expect(result.code).toBe(1);
    expect(result.out).not.toContain('started');
    expect(result.err).toMatch(/error: Discord GET \S+ failed with HTTP 401.*\n.*Watchdog exited right after it started/);
    expect(result.err).toContain('Watchdog exited right after it started (its last lines are above). Fix what it says, then start it again');
    const status = await sb.runBin('discord-watchdog', ['--status']);
    expect(status.out).toContain('Watchdog: STOPPED');
  }, 30_000);

  test('a rejected token is fatal at start-up (exit 1), so a service manager notices', async () => {
    const world = createWorld();
    world.sb.write('channels/discord/.env', 'DISCORD_BOT_TOKEN=wrong-token-0123456789abcdef\n', 0o600);
    const result = await world.sb.runBin('discord-watchdog', []);
    expect(result.code).toBe(1);
    expect(result.err).toContain('HTTP 401');
  });
});
