import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { writeCondition } from '../../lib/core/store/condition.ts';
import { formatHolder } from '../../lib/core/store/lock.ts';
import { clearTurn, recordTurnHook } from '../../lib/core/store/turn.ts';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Clock, systemClock } from '../../lib/core/util/clock.ts';
import { createDiscordSessionManagerCommand } from '../../lib/commands/discord-session-manager/index.ts';
import { createAppContext } from '../../lib/app.ts';
import { SessionManager } from '../../lib/core/sessions/manager.ts';
import { resolvePaths } from '../../lib/core/config/paths.ts';
import { DISCORD } from '../../lib/core/config/platform.ts';
import { runCli } from '../../lib/commands/program.ts';
import { Tmux, type TmuxRunner, type TmuxSessionInfo } from '../../lib/core/host/tmux.ts';
import { sessionIdFor } from '../../lib/core/host/session-id.ts';
import { OWNER_ID, type RunResult, Sandbox, resumedId, waitFor } from '../helpers.ts';

/** A clock whose time is the real time plus an offset the test moves (tmux activity is real time). */
function createFakeClock(): Clock & { advance(ms: number): void } {
  let offset = 0;
  return { now: () => Date.now() + offset, sleep: systemClock.sleep, advance: (ms) => (offset += ms) };
}

/** Runs discord-session-manager in-process like `sb.run`, with the given clock. */
async function runAt(sb: Sandbox, clock: Clock, ...args: string[]): Promise<RunResult> {
  const { ctx, out, err } = sb.context();
  Object.assign(ctx, createAppContext(sb.platform, sb.env, clock));
  const code = await runCli(createDiscordSessionManagerCommand(ctx), args, ctx.io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

async function statuses(sb: Sandbox): Promise<Record<string, string>> {
  const list = await sb.run('list', '--json');
  expect(list.code).toBe(0);
  return Object.fromEntries((JSON.parse(list.out) as Array<{ id: string; status: string }>).map((r) => [r.id, r.status]));
}

function writeScript(sb: Sandbox, name: string, body: string): string {
  const file = join(sb.dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}

const MINUTE = 60_000;

describe('suspend-idle, wake, wake-all, pin', () => {
  const IDLE = '300000000000000001';
  const PINNED = '300000000000000002';
  const BUSY = '300000000000000003';
  let sb: Sandbox;
  const clock = createFakeClock();

  beforeAll(async () => {
    sb = new Sandbox({
      config: [`DISCORD_ALLOWED_USER_ID="${OWNER_ID}"`, 'DISCORD_GUILD_ID="1100000000000000001"', 'DISCORD_SESSION_WORKDIR="$HOME/work"', 'DISCORD_IDLE_TIMEOUT=1'].join('\n'),
    });
    expect((await sb.run('spawn', IDLE, '--name', 'idle')).code).toBe(0);
    expect((await sb.run('spawn', PINNED, '--name', 'pinned')).code).toBe(0);
    // A claude that is working: its screen says so.
    const busy = writeScript(sb, 'busy-claude', 'echo "✻ Thinking… (esc to interrupt)"\nexec sleep 2147483647');
    await createAppContext(DISCORD, { ...sb.env, CLAUDE_BIN: busy }).manager.spawn(BUSY, { name: 'busy' });
    await sb.waitForPane(`dc-${IDLE}`, /\(new\)/);
    await sb.waitForPane(`dc-${PINNED}`, /\(new\)/);
    await sb.waitForPane(`dc-${BUSY}`, /esc to interrupt/);
  });
  afterAll(async () => {
    await sb.cleanup();
  });

  test('pin marks the session; pin and unpin of an unknown or invalid id fail', async () => {
    const pin = await sb.run('pin', PINNED);
    expect(pin).toEqual({ code: 0, out: `PINNED  dc-${PINNED}`, err: '' });
    expect(existsSync(join(sb.sessionsDir, PINNED, '.no-idle'))).toBe(true);
    for (const verb of ['pin', 'unpin']) {
      const unknown = await sb.run(verb, '399999999999999999');
      expect(unknown.code).toBe(1);
      expect(unknown.err).toContain('No session for Discord id "399999999999999999". Run `discord-session-manager list`.');
      expect(existsSync(join(sb.sessionsDir, '399999999999999999'))).toBe(false);
      expect((await sb.run(verb, 'general')).code).toBe(2);
    }
    const rows = JSON.parse((await sb.run('list', '--json')).out) as Array<{ id: string; pinned: boolean }>;
    expect(rows.map((r) => [r.id, r.pinned])).toEqual([
      [IDLE, false],
      [PINNED, true],
      [BUSY, false],
    ]);
  });

  test('nothing is suspended before the idle timeout', async () => {
    const result = await runAt(sb, clock, 'suspend-idle');
    expect(result).toEqual({ code: 0, out: 'Suspended 0 idle session(s).', err: '' });
    expect(await statuses(sb)).toEqual({ [IDLE]: 'UP', [PINNED]: 'UP', [BUSY]: 'UP' });
  });

  test('a session waiting for the owner (a permission question) is not idle', async () => {
    clock.advance(2 * MINUTE);
    writeCondition(join(sb.sessionsDir, IDLE), 'router', { state: 'WAITING', cause: 'asks to use Bash: ls', fix: 'Allow or Deny in the chat', since: clock.now() });
    const result = await runAt(sb, clock, 'suspend-idle');
    expect(result.out.split('\n')).toContain(`WAITING    dc-${IDLE}  (waiting for you, not suspended)`);
    expect(await sb.tmux.hasSession(`dc-${IDLE}`)).toBe(true);
    writeCondition(join(sb.sessionsDir, IDLE), 'router', undefined);
  });

  test('a turn under way or stopped by a usage limit is not idle; a turn marked busy whose pane is still (an interrupt) is', async () => {
    const dir = join(sb.sessionsDir, IDLE);
    recordTurnHook(dir, { hook_event_name: 'UserPromptSubmit' }, clock.now());
    expect((await statuses(sb))[IDLE]).toBe('BUSY');
    let result = await runAt(sb, clock, 'suspend-idle');
    expect(result.out).toBe(`BUSY       dc-${BUSY}  (working, not suspended)\nSuspended 0 idle session(s).`);
    // Its pane has not changed for minutes: the turn ended without its Stop hook.
    recordTurnHook(dir, { hook_event_name: 'UserPromptSubmit' }, clock.now() - 2 * MINUTE);
    const listed = JSON.parse((await runAt(sb, clock, 'list', '--json')).out) as Array<{ id: string; status: string }>;
    expect(listed.find((r) => r.id === IDLE)?.status).toBe('UP');
    recordTurnHook(dir, { hook_event_name: 'StopFailure', error: 'rate_limit', last_assistant_message: "You've hit your session limit" }, clock.now() - 2 * MINUTE);
    result = await runAt(sb, clock, 'suspend-idle');
    expect(result.out.split('\n')).toContain(`LIMITED    dc-${IDLE}  (waiting for the usage limit, not suspended)`);
    expect((await statuses(sb))[IDLE]).toBe('LIMITED');
    // A turn that ended a minute ago is idle from then: not yet past the timeout.
    recordTurnHook(dir, { hook_event_name: 'Stop' }, clock.now() - 30_000);
    expect((await statuses(sb))[IDLE]).toBe('UP');
    expect((await runAt(sb, clock, 'suspend-idle')).out).toBe(`BUSY       dc-${BUSY}  (working, not suspended)\nSuspended 0 idle session(s).`);
    clearTurn(dir);
  });

  test('past the timeout the idle session is suspended; pinned and busy ones are kept', async () => {
    const result = await runAt(sb, clock, 'suspend-idle');
    expect(result.code).toBe(0);
    expect(result.out.split('\n')).toEqual([`SUSPENDED  dc-${IDLE}`, `BUSY       dc-${BUSY}  (working, not suspended)`, 'Suspended 1 idle session(s).']);
    expect(await sb.tmux.hasSession(`dc-${IDLE}`)).toBe(false);
    expect(await sb.tmux.hasSession(`dc-${PINNED}`)).toBe(true);
    expect(await sb.tmux.hasSession(`dc-${BUSY}`)).toBe(true);
    const mark = readFileSync(join(sb.sessionsDir, IDLE, '.suspended'), 'utf8');
    expect(new Date(mark.trim()).getTime()).toBeGreaterThan(Date.now() + MINUTE);
  });

  test('list shows SUSPENDED, and idle seconds follow the clock', async () => {
    expect(await statuses(sb)).toEqual({ [IDLE]: 'SUSPENDED', [PINNED]: 'UP', [BUSY]: 'UP' });
    const { manager } = createAppContext(DISCORD, sb.env, clock);
    const rows = await manager.list();
    const pinned = rows.find((r) => r.id === PINNED)!;
    expect(pinned.idleSeconds).toBeGreaterThanOrEqual(120);
    expect(pinned.idleSeconds).toBeLessThan(180);
    expect(rows.find((r) => r.id === IDLE)!.idleSeconds).toBeNull();
    expect((await sb.run('list')).out).toContain(`[SUSPENDED]  dc-${IDLE}`);
  });

  test('respawn-dead leaves a suspended session down', async () => {
    const runs = sb.claudeRuns().length;
    const result = await sb.run('respawn-dead');
    expect(result.code).toBe(0);
    expect(result.out).toBe('All sessions are up.');
    expect(await sb.tmux.hasSession(`dc-${IDLE}`)).toBe(false);
    expect(sb.claudeRuns()).toHaveLength(runs);
    expect((await statuses(sb))[IDLE]).toBe('SUSPENDED');
  });

  test('wake brings it back in the same conversation with --resume', async () => {
    const runs = sb.claudeRuns().length;
    const result = await sb.run('wake', IDLE);
    expect(result.code).toBe(0);
    expect(result.out).toBe(`WOKE  dc-${IDLE}  name=idle  workdir=${join(sb.home, 'work')}  profile=default  (resumed)`);
    const run = (await sb.waitForRuns(runs + 1))[runs]!;
    expect(resumedId(run.argv)).toBe(sessionIdFor(IDLE));
    expect(run.argv).not.toContain('--session-id');
    expect(existsSync(join(sb.sessionsDir, IDLE, '.suspended'))).toBe(false);
    await sb.waitForPane(`dc-${IDLE}`, /\(resume\)/);
    expect((await statuses(sb))[IDLE]).toBe('UP');
  });

  test('wake of a running session says ALIVE and starts nothing; of an unknown id fails', async () => {
    const runs = sb.claudeRuns().length;
    expect(await sb.run('wake', PINNED)).toEqual({ code: 0, out: `ALIVE  dc-${PINNED}`, err: '' });
    const unknown = await sb.run('wake', '399999999999999999');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('No session for Discord id "399999999999999999"');
    expect(sb.claudeRuns()).toHaveLength(runs);
  });

  test('after unpin both sessions are suspended, and wake-all wakes every suspended one', async () => {
    expect((await sb.run('unpin', PINNED)).out).toBe(`UNPINNED  dc-${PINNED}`);
    expect(existsSync(join(sb.sessionsDir, PINNED, '.no-idle'))).toBe(false);
    clock.advance(2 * MINUTE);
    const suspended = await runAt(sb, clock, 'suspend-idle');
    expect(suspended.out).toContain(`SUSPENDED  dc-${IDLE}`);
    expect(suspended.out).toContain(`SUSPENDED  dc-${PINNED}`);
    expect(suspended.out).toContain('Suspended 2 idle session(s).');
    expect(await statuses(sb)).toEqual({ [IDLE]: 'SUSPENDED', [PINNED]: 'SUSPENDED', [BUSY]: 'UP' });

    const runs = sb.claudeRuns().length;
    const result = await sb.run('wake-all');
    expect(result.code).toBe(0);
    expect(result.out.split('\n')).toEqual([
      `WOKE  dc-${IDLE}  name=idle  workdir=${join(sb.home, 'work')}  profile=default  (resumed)`,
      `WOKE  dc-${PINNED}  name=pinned  workdir=${join(sb.home, 'work')}  profile=default  (resumed)`,
      'Woke 2 session(s).',
    ]);
    const woken = (await sb.waitForRuns(runs + 2)).slice(runs);
    expect(woken.map((r) => resumedId(r.argv)).sort()).toEqual([sessionIdFor(IDLE), sessionIdFor(PINNED)].sort());
    expect(await statuses(sb)).toEqual({ [IDLE]: 'UP', [PINNED]: 'UP', [BUSY]: 'UP' });
    expect((await sb.run('wake-all')).out).toBe('Woke 0 session(s).');
  });

  test('an idle timeout of 0 turns suspension off', async () => {
    const config = join(sb.sessionsDir, 'config.env');
    writeFileSync(config, readFileSync(config, 'utf8').replace('DISCORD_IDLE_TIMEOUT=1', 'DISCORD_IDLE_TIMEOUT=0'));
    clock.advance(365 * 24 * 60 * MINUTE);
    expect((await runAt(sb, clock, 'suspend-idle')).out).toBe('Suspended 0 idle session(s).');
    expect(await statuses(sb)).toEqual({ [IDLE]: 'UP', [PINNED]: 'UP', [BUSY]: 'UP' });
  });
});

describe('kill-all', () => {
  let sb: Sandbox;
  beforeAll(() => {
    sb = new Sandbox();
  });
  afterAll(async () => {
    await sb.cleanup();
  });

  test('kills only dc-<id> sessions and empties the registry; daemons and other sessions survive', async () => {
    expect((await sb.run('spawn', '310000000000000001', '--name', 'a')).code).toBe(0);
    expect((await sb.run('spawn', '310000000000000002', '--name', 'b')).code).toBe(0);
    for (const name of ['dc-watchdog', 'other', 'dc-1234', 'tg-310000000000000003']) {
      await sb.tmux.newSession({ name, cwd: sb.home, argv: ['sleep', '1000'], env: {} });
    }
    const result = await sb.run('kill-all');
    expect(result.code).toBe(0);
    expect(result.out.split('\n').sort()).toEqual(['KILLED  dc-310000000000000001', 'KILLED  dc-310000000000000002', 'Total: 2'].sort());
    expect(sb.registry()).toEqual({});
    expect([...(await sb.tmux.listSessions()).keys()].sort()).toEqual(['dc-1234', 'dc-watchdog', 'other', 'tg-310000000000000003']);
    // The conversations are kept for a later spawn.
    expect(existsSync(join(sb.sessionsDir, '310000000000000001', '.session-id'))).toBe(true);
    expect((await sb.run('kill-all')).out).toBe('Total: 0');
  });
});

describe('status, motd, list, attach', () => {
  const UP = '320000000000000001';
  const DOWN = '320000000000000002';
  const SUSPENDED = '320000000000000003';
  let sb: Sandbox;
  beforeAll(async () => {
    sb = new Sandbox();
    for (const [id, name] of [
      [UP, 'up'],
      [DOWN, 'down'],
      [SUSPENDED, 'sleepy'],
    ] as const) {
      expect((await sb.run('spawn', id, '--name', name)).code).toBe(0);
    }
    await sb.tmux.killSession(`dc-${DOWN}`);
    writeFileSync(join(sb.sessionsDir, SUSPENDED, '.suspended'), '');
    await sb.tmux.killSession(`dc-${SUSPENDED}`);
  });
  afterAll(async () => {
    await sb.cleanup();
  });

  test('motd: counts, watchdog, and the sessions that need a look', async () => {
    const result = await sb.run('motd');
    expect(result.code).toBe(0);
    expect(result.out.split('\n')).toEqual(['Discord sessions: 1 up · 1 down · 1 suspended — watchdog STOPPED', `  DOWN      down (${DOWN})`]);
  });

  test('status --json', async () => {
    const result = await sb.run('status', '--json');
    expect(result.code).toBe(0);
    const status = JSON.parse(result.out);
    expect(status).toMatchObject({
      tokenFile: join(sb.root, 'channels/discord/.env'),
      token: true,
      guildId: '1100000000000000001',
      allowedUserIds: [OWNER_ID],
      sessionsDir: sb.sessionsDir,
      watchdog: { running: false },
    });
    expect(status.sessions.map((s: { id: string; status: string; name: string }) => [s.id, s.status, s.name])).toEqual([
      [UP, 'UP', 'up'],
      [DOWN, 'DOWN', 'down'],
      [SUSPENDED, 'SUSPENDED', 'sleepy'],
    ]);
    expect(status.sessions[0]).toMatchObject({ type: 'channel', tmux: `dc-${UP}`, parent: null, workdir: join(sb.home, 'work'), profile: 'default', sessionId: sessionIdFor(UP), pinned: false });
  });

  test('status text and list text', async () => {
    const status = await sb.run('status');
    expect(status.code).toBe(0);
    expect(status.out).toContain(`Bot token: configured (${join(sb.root, 'channels/discord/.env')})`);
    expect(status.out).toContain('Guild: 1100000000000000001');
    expect(status.out).toContain(`Allowed users: ${OWNER_ID}`);
    expect(status.out).toContain('Watchdog: STOPPED');
    expect(status.out).toContain(`[UP  ]  dc-${UP}`);
    const list = await sb.run('list');
    expect(list.out.split('\n')[0]).toBe('Discord Sessions:');
    expect(list.out).toMatch(new RegExp(`\\[DOWN\\]  dc-${DOWN} +channel  down`));
  });

  test('the watchdog shows as running from its tmux session or its pid file', async () => {
    writeFileSync(join(sb.sessionsDir, 'watchdog.pid'), formatHolder());
    expect((await sb.run('motd')).out).toContain(`watchdog RUNNING (pid: ${process.pid})`);
    await sb.tmux.newSession({ name: 'dc-watchdog', cwd: sb.home, argv: ['sleep', '1000'], env: {} });
    expect((await sb.run('motd')).out).toContain('watchdog RUNNING (tmux: dc-watchdog)');
    const status = JSON.parse((await sb.run('status', '--json')).out);
    expect(status.watchdog).toEqual({ running: true, how: 'tmux: dc-watchdog' });
    await sb.tmux.killSession('dc-watchdog');
  });

  test('status without a token or config says what is missing', async () => {
    const bare = new Sandbox({ token: null, config: '' });
    try {
      const status = await bare.run('status');
      expect(status.code).toBe(0);
      expect(status.out).toContain('Bot token: MISSING');
      expect(status.out).toContain('Guild: NOT SET');
      expect(status.out).toContain('Allowed users: NOT SET');
      expect(status.out).toContain('  (none)');
      const spawn = await bare.run('spawn', '320000000000000009');
      expect(spawn.code).toBe(1);
      expect(spawn.err).toContain('No Discord bot token');
    } finally {
      await bare.cleanup();
    }
  });

  test('attach to a missing session fails with a hint; to a live one it runs tmux attach on the private socket', async () => {
    const missing = await sb.run('attach', DOWN);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain(`Session dc-${DOWN} is not running. Start it with \`discord-session-manager wake ${DOWN}\`.`);

    const { ctx, err } = sb.context();
    const calls: string[][] = [];
    ctx.runInteractive = async (argv) => {
      calls.push(argv);
      return calls.length === 1 ? 0 : 1;
    };
    const command = createDiscordSessionManagerCommand(ctx);
    expect(await runCli(command, ['attach', UP], ctx.io)).toBe(0);
    expect(calls[0]).toEqual(['tmux', '-S', sb.env.CRS_TMUX_SOCKET!, 'attach-session', '-t', `=dc-${UP}`]);
    expect(await runCli(command, ['attach', UP], ctx.io)).toBe(1);
    expect(err.join('\n')).toContain(`tmux attach to dc-${UP} exited with 1.`);
  });
});

describe('a session that dies', () => {
  let sb: Sandbox;
  beforeAll(() => {
    sb = new Sandbox();
  });
  afterAll(async () => {
    await sb.cleanup();
  });

  test('its last output is kept in last-exit when it is respawned', async () => {
    const id = '330000000000000001';
    sb.write(`discord-sessions/${id}/fake-claude-exit`, 'Not logged in · Please run /login\n');
    // The spawn sees it die before its prompt: it fails with the session's last line.
    const spawned = await sb.run('spawn', id);
    expect(spawned.code).toBe(1);
    expect(spawned.out).toContain(`SPAWNED  dc-${id}`);
    expect(spawned.err).toContain(`Session dc-${id} exited at once: Not logged in · Please run /login`);
    expect((await sb.tmux.listSessions()).get(`dc-${id}`)?.dead).toBe(true);
    expect((await statuses(sb))[id]).toBe('DOWN');
    await sb.run('respawn-dead');
    const lastExit = sb.read(`discord-sessions/${id}/last-exit`);
    expect(lastExit).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z.*\nNot logged in · Please run \/login\n$/);
  });

  test('a respawn whose saved workdir is gone falls back to the configured one', async () => {
    const id = '330000000000000003';
    const project = join(sb.home, 'project');
    mkdirSync(project);
    expect((await sb.run('spawn', id, '--workdir', project)).out).toContain(`workdir=${project}`);
    await sb.tmux.killSession(`dc-${id}`);
    rmSync(project, { recursive: true });
    const result = await sb.run('respawn-dead');
    expect(result.out).toContain(`RESPAWNED  dc-${id}  name=ch-000003  workdir=${join(sb.home, 'work')}`);
    const stateDir = join(sb.sessionsDir, id);
    await waitFor(() => sb.claudeRuns().some((r) => r.env.DISCORD_STATE_DIR === stateDir && r.cwd === join(sb.home, 'work')), 5000, 'the respawned claude');
    expect(sb.read(`discord-sessions/${id}/.workdir`)).toBe(join(sb.home, 'work'));
  });

  test('recordExit keeps the program’s lines, not the blank rows tmux 3.3 leaves above "Pane is dead"', async () => {
    // What `capture-pane -S -N` returns for a dead pane: the output scrolled into the history, then blank rows.
    const screen = ['Error: Session ID x is already in use.', ...Array(48).fill(''), 'Pane is dead (status 1, Wed Nov 25 12:00:00 2026)', ''].join('\n');
    const calls: string[][] = [];
    const runner: TmuxRunner = async (args) => {
      calls.push(args);
      return { code: 0, stdout: args[0] === 'capture-pane' ? screen : '', stderr: '' };
    };
    const paths = resolvePaths(DISCORD, sb.env);
    const manager = new SessionManager({ platform: DISCORD, paths, env: sb.env, tmux: new Tmux(runner), clock: systemClock, claudeBin: 'claude' });
    const id = '330000000000000002';
    sb.write(`discord-sessions/${id}/.session-id`, 'x');
    const info = { name: `dc-${id}`, dead: true, activity: 0, created: 0, panePid: 1, deadStatus: 1, deadTime: 1 } as TmuxSessionInfo;
    await manager.recordExit(id, info);
    const lastExit = sb.read(`discord-sessions/${id}/last-exit`);
    expect(lastExit.split('\n').slice(1)).toEqual(['Error: Session ID x is already in use.', '']);
    expect(calls.map((c) => c[0])).toEqual(['capture-pane', 'kill-session']);
  });
});

describe('stopping and starting one session', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = new Sandbox();
    // Another session keeps the tmux server up (when the last one goes, the server exits and a killed pane lingers).
    await sb.tmux.newSession({ name: 'other', cwd: sb.home, argv: ['sleep', '1000'], env: {} });
  });
  afterAll(async () => {
    await sb.cleanup();
  });

  test('a stop or restart returns only once the old Claude Code has exited (it writes its transcript as it exits)', async () => {
    const id = '350000000000000001';
    // Takes 300 ms to exit after the hangup tmux sends, and says when it is done.
    const slow = writeScript(sb, 'slow-exit-claude', `trap 'sleep 0.3; echo "$$" >> "$DISCORD_STATE_DIR/exited"; exit 0' HUP\necho ready\necho '❯ '\nsleep 1000 &\nwait`);
    const { manager } = createAppContext(DISCORD, { ...sb.env, CLAUDE_BIN: slow });
    await manager.spawn(id);
    await sb.waitForPane(`dc-${id}`, /ready/);
    const exited = join(sb.sessionsDir, id, 'exited');
    await manager.restart(id);
    expect(readFileSync(exited, 'utf8').trim().split('\n')).toHaveLength(1);
    await sb.waitForPane(`dc-${id}`, /ready/);
    await manager.stop(id);
    expect(readFileSync(exited, 'utf8').trim().split('\n')).toHaveLength(2);
  });

  test('two starts at once: one starts it, the other finds it ALIVE and leaves its state alone', async () => {
    const id = '350000000000000002';
    for (const dir of ['a', 'b']) mkdirSync(join(sb.home, dir));
    expect((await sb.run('spawn', id)).code).toBe(0);
    await sb.tmux.killSession(`dc-${id}`);
    const runs = sb.claudeRuns().length;
    const { manager } = createAppContext(DISCORD, sb.env);
    const results = await Promise.all([manager.spawn(id, { workdir: join(sb.home, 'a') }), manager.spawn(id, { workdir: join(sb.home, 'b') })]);
    expect(results.map((r) => r.status).sort()).toEqual(['ALIVE', 'SPAWNED']);
    const started = results.find((r) => r.status === 'SPAWNED')!;
    const [run] = (await sb.waitForRuns(runs + 1)).slice(runs);
    expect(run!.cwd).toBe(started.workdir);
    expect(sb.read(`discord-sessions/${id}/.workdir`)).toBe(started.workdir);
    expect(sb.claudeRuns()).toHaveLength(runs + 1);
  });
});
