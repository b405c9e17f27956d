import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConsola } from 'consola';
import { TELEGRAM } from '../../lib/core/config/platform.ts';
import { CHAT_ANSWER_LIMIT, runChatCommand } from '../../lib/core/control/commands.ts';
import { writeCondition } from '../../lib/core/store/condition.ts';
import { formatAgo, formatSessionLine, joinWithin } from '../../lib/core/sessions/format.ts';
import type { SessionRow } from '../../lib/core/sessions/manager.ts';
import { touchState } from '../../lib/core/store/state.ts';
import { formatHolder, isProcessAlive, processStartTime } from '../../lib/core/store/lock.ts';
import { Tmux } from '../../lib/core/host/tmux.ts';
import { acquirePidFile, keepAliveDuty, runDaemon, stopDaemon } from '../../lib/daemons/daemon.ts';
import { type DaemonStatus, type DaemonView, daemonPid, daemonState } from '../../lib/daemons/state.ts';
import { FakeTelegram } from '../fakes/telegram.ts';
import { ROOT, Sandbox, waitFor } from '../helpers.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const proc = Bun.spawn(['true']);
  await proc.exited;
  return proc.pid;
}

describe('formatAgo: relative times', () => {
  const NOW = Date.parse('2026-12-01T12:00:00.000Z');
  test.each([
    [NOW, '0s ago'],
    [NOW - 12_000, '12s ago'],
    [NOW - 59_999, '59s ago'],
    [NOW - MINUTE, '1m ago'],
    [NOW - 3 * MINUTE - 5000, '3m ago'],
    [NOW - 59 * MINUTE, '59m ago'],
    [NOW - 2 * HOUR - 30 * MINUTE, '2h ago'],
    [NOW - DAY + 1, '23h ago'],
    [NOW - 4 * DAY - 5 * HOUR, '4d ago'],
    [NOW + 5000, '0s ago'],
    [new Date(NOW - 3 * MINUTE).toISOString(), '3m ago'],
    [null, '—'],
    [undefined, '—'],
    ['not a time', '—'],
    [Number.NaN, '—'],
  ] as Array<[number | string | null | undefined, string]>)('%p → %p', (at, expected) => {
    expect(formatAgo(at, NOW)).toBe(expected);
  });
});

describe('joinWithin: as many lines as fit, then “… and N more”', () => {
  const lines = Array.from({ length: 10 }, (_, i) => `line ${i}`.padEnd(20, '.'));
  test.each([
    [1000, lines.join('\n')],
    [lines.join('\n').length, lines.join('\n')],
    [96, `${lines.slice(0, 4).join('\n')}\n… and 6 more`],
    [95, `${lines.slice(0, 3).join('\n')}\n… and 7 more`],
    [10, '… and 10 more'],
  ])('within %p characters', (limit, expected) => {
    expect(joinWithin(lines, limit)).toBe(expected);
    if (limit >= 13) expect(joinWithin(lines, limit).length).toBeLessThanOrEqual(limit);
  });
});

describe('list, status and /sessions: since when, last message in and out, the daemons', () => {
  const UP = '1400000000000000001';
  const WAITING = '1400000000000000002';
  const STOPPED = '1400000000000000003';
  const DOWN = '1400000000000000004';
  const MARKED = '1400000000000000005';
  const waitingSince = Date.now() - 5 * MINUTE - 10_000;
  const stoppedAt = new Date(Date.now() - 2 * HOUR - 10 * MINUTE).toISOString();
  const diedAt = new Date(Date.now() - 3 * DAY - HOUR).toISOString();
  const markedAt = Math.floor((Date.now() - 7 * MINUTE) / 1000) * 1000;
  const lastIn = new Date(Date.now() - 3 * MINUTE - 10_000).toISOString();
  const lastOut = new Date(Date.now() - HOUR - 10 * MINUTE).toISOString();
  let sb: Sandbox;
  let created = 0;
  const dir = (id: string) => join(sb.sessionsDir, id);
  const rows = async (): Promise<SessionRow[]> => JSON.parse((await sb.run('list', '--json')).out);

  beforeAll(async () => {
    sb = new Sandbox();
    for (const [id, name] of [[UP, 'up'], [WAITING, 'asking'], [STOPPED, 'stopped'], [DOWN, 'down'], [MARKED, 'marked']] as const) {
      expect((await sb.run('spawn', id, '--name', name)).code).toBe(0);
    }
    created = (await sb.tmux.listSessions()).get(`dc-${UP}`)!.created * 1000;
    writeFileSync(join(dir(UP), '.last-in'), `${lastIn}\n`);
    writeFileSync(join(dir(UP), '.last-out'), `${lastOut}\n`);
    writeCondition(dir(WAITING), 'pane', { state: 'WAITING', cause: 'a dialog waits', fix: '`/session send 1`', since: waitingSince });
    writeFileSync(join(dir(WAITING), '.last-in'), 'not a time\n');
    const { ctx } = sb.context();
    await ctx.manager.stop(STOPPED);
    writeFileSync(join(dir(STOPPED), '.suspended'), `${stoppedAt} stopped\n`);
    await ctx.manager.stop(MARKED);
    // A mark without a time (as older versions wrote it): its file's time counts.
    touchState(dir(MARKED), 'suspended');
    utimesSync(join(dir(MARKED), '.suspended'), markedAt / 1000, markedAt / 1000);
    await sb.tmux.killSession(`dc-${DOWN}`);
    writeFileSync(join(dir(DOWN), 'last-exit'), `${diedAt} exit status 1\nError: boom\n`);
  });

  afterAll(async () => {
    await sb.cleanup();
  });

  test('list --json: since, lastIn and lastOut of every kind of session', async () => {
    const all = await rows();
    const fields = (id: string) => {
      const row = all.find((r) => r.id === id)!;
      return { status: row.status, since: row.since, lastIn: row.lastIn, lastOut: row.lastOut };
    };
    // Running: the pane's start; with a condition, the condition's.
    expect(fields(UP)).toEqual({ status: 'UP', since: created, lastIn, lastOut });
    expect(fields(WAITING)).toEqual({ status: 'WAITING', since: waitingSince, lastIn: null, lastOut: null });
    // Stopped: the suspension (the mark's time, else its file's); died: the recorded exit.
    expect(fields(STOPPED)).toEqual({ status: 'SUSPENDED', since: Date.parse(stoppedAt), lastIn: null, lastOut: null });
    expect(fields(MARKED).since).toBe(markedAt);
    expect(fields(DOWN)).toEqual({ status: 'DOWN', since: Date.parse(diedAt), lastIn: null, lastOut: null });
  });

  test('list keeps one line per session and adds since', async () => {
    const out = (await sb.run('list')).out;
    expect(out).toMatch(new RegExp(`\\[UP  \\]  dc-${UP} +channel  up  since \\d+[sm] ago\\n`));
    expect(out).toMatch(new RegExp(`\\[SUSPENDED\\]  dc-${STOPPED} +channel  stopped  since 2h ago\\n`));
  });

  test('status: one block per session with since, last in and out and the workdir; a condition’s cause and fix under it', async () => {
    const out = (await sb.run('status')).out;
    const work = join(sb.home, 'work');
    expect(out).toMatch(new RegExp(`\\n  \\[UP  \\]  dc-${UP} +up  since \\d+[sm] ago  in 3m ago  out 1h ago  ${work}\\n`));
    expect(out).toContain(`  [WAITING]  dc-${WAITING}    asking  since 5m ago  in —  out —  ${work}\n           a dialog waits\n           fix: \`/session send 1\`\n`);
    expect(out).toContain(`  [SUSPENDED]  dc-${STOPPED}    stopped  since 2h ago  in —  out —  ${work}\n`);
    expect(out).toContain(`  [DOWN]  dc-${DOWN}    down  since 3d ago  in —  out —  ${work}`);
  });

  test('status and status --json show each daemon: running or not, uptime while its process lives, its last error with its age', async () => {
    const dead = await deadPid();
    const now = Date.now();
    const watchdog: DaemonStatus = { pid: process.pid, startedAt: new Date(now - 3 * HOUR - 30 * MINUTE).toISOString(), lastError: { at: new Date(now - 12 * MINUTE - 10_000).toISOString(), text: 'respawn dc-1 failed: boom\n    at somewhere' } };
    const router: DaemonStatus = { pid: dead, startedAt: new Date(now - 4 * DAY).toISOString(), lastError: { at: new Date(now - 2 * DAY - HOUR).toISOString(), text: 'gateway failed' } };
    sb.write('discord-sessions/watchdog.pid', formatHolder());
    sb.write('discord-sessions/watchdog.status.json', JSON.stringify(watchdog));
    sb.write('discord-sessions/slash-daemon.pid', `${dead}\n`);
    sb.write('discord-sessions/router.status.json', JSON.stringify(router));
    try {
      const out = (await sb.run('status')).out;
      expect(out).toContain(`\nWatchdog: RUNNING (pid: ${process.pid})  up 3h  last error 12m ago: respawn dc-1 failed: boom\n`);
      expect(out).toContain('\nSlash daemon: STOPPED  last error 2d ago: gateway failed\n');
      const json = JSON.parse((await sb.run('status', '--json')).out) as { watchdog: unknown; daemons: DaemonView[]; sessions: SessionRow[] };
      expect(json.watchdog).toEqual({ running: true, how: `pid: ${process.pid}` });
      expect(json.daemons).toEqual([
        { name: 'watchdog', label: 'Watchdog', running: true, how: `pid: ${process.pid}`, pid: process.pid, startedAt: watchdog.startedAt, uptimeSeconds: expect.any(Number), lastError: watchdog.lastError },
        { name: 'router', label: 'Slash daemon', running: false, how: null, pid: null, startedAt: null, uptimeSeconds: null, lastError: router.lastError },
      ]);
      expect(Math.abs(json.daemons[0]!.uptimeSeconds! - 3.5 * 3600)).toBeLessThan(30);
      expect(json.sessions.find((r) => r.id === UP)).toMatchObject({ since: created, lastIn, lastOut });
      // No status file: only running or not.
      rmSync(join(sb.sessionsDir, 'watchdog.status.json'));
      expect((await sb.run('status')).out).toContain(`\nWatchdog: RUNNING (pid: ${process.pid})\n`);
    } finally {
      for (const file of ['watchdog.pid', 'watchdog.status.json', 'slash-daemon.pid', 'router.status.json']) rmSync(join(sb.sessionsDir, file), { force: true });
    }
  });

  test('/sessions in chat: state, name, since, last in and out, workdir, one line each', async () => {
    const { ctx } = sb.context();
    const text = await runChatCommand('sessions', '', { manager: ctx.manager, log: ctx.io.log, session: UP, actor: 'owner' });
    const lines = text.split('\n');
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^UP {8}up \\(${UP}\\) · since \\d+[sm] ago · in 3m ago · out 1h ago · ~/work$`)));
    expect(lines).toContain(`WAITING   asking (${WAITING}) · since 5m ago · in — · out — · ~/work · a dialog waits`);
    expect(lines).toContain(`SUSPENDED stopped (${STOPPED}) · since 2h ago · in — · out — · ~/work`);
    expect(lines).toHaveLength(5);
  });
});

describe('/sessions stays within the platforms’ message limits', () => {
  test.each([
    ['discord', undefined],
    ['telegram', TELEGRAM],
  ] as const)('%s: cut with “… and N more”', async (key, platform) => {
    const sb = new Sandbox({ platform });
    try {
      const registry: Record<string, object> = {};
      for (let i = 0; i < 300; i++) registry[`15000000000000${String(i).padStart(5, '0')}`] = { type: platform ? 'chat' : 'channel', name: `a-rather-long-session-name-${i}`, parent: null, created: `2026-01-01 00:${String(i).padStart(4, '0')}` };
      sb.write(`${sb.platform.sessionsDirName}/sessions.json`, JSON.stringify(registry));
      const { ctx } = sb.context();
      const text = await runChatCommand('sessions', '', { manager: ctx.manager, log: ctx.io.log, session: '1500000000000000000', actor: 'owner' });
      expect(text.length).toBeLessThanOrEqual(CHAT_ANSWER_LIMIT[key]);
      expect(text.length).toBeGreaterThan(CHAT_ANSWER_LIMIT[key] - 150);
      const lines = text.split('\n');
      expect(lines[0]).toBe('DOWN      a-rather-long-session-name-0 (1500000000000000000) · since — · in — · out —');
      expect(lines.at(-1)).toBe(`… and ${300 - (lines.length - 1)} more`);
    } finally {
      await sb.cleanup();
    }
  });

  test('a row line carries its condition’s cause', () => {
    const row = { id: '7', status: 'LIMITED', name: 'n', since: 0, lastIn: null, lastOut: new Date(50_000).toISOString(), workdir: '/home/u/api', condition: { cause: 'usage limit' } } as unknown as SessionRow;
    expect(formatSessionLine(row, 60_000, '/home/u')).toBe('LIMITED   n (7) · since 1m ago · in — · out 10s ago · ~/api · usage limit');
    expect(formatSessionLine(row, 60_000, '/home/us')).toBe('LIMITED   n (7) · since 1m ago · in — · out 10s ago · /home/u/api · usage limit');
  });
});

describe('daemon status files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'crs-daemon-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const logger = () => createConsola({ level: 4, reporters: [{ log: () => {} }] });
  const clock = { now: () => Date.parse('2026-12-01T12:00:00.000Z') };
  const read = (name: string): DaemonStatus => JSON.parse(readFileSync(join(dir, `${name}.status.json`), 'utf8'));

  test('runDaemon records the start, each error line logged, and the error it stops on; the pid file is released', async () => {
    const log = logger();
    const pidFile = join(dir, 'watchdog.pid');
    await runDaemon({ name: 'watchdog', what: 'The watchdog', pidFile, sessionsDir: dir, log, clock }, async () => {
      expect(read('watchdog')).toEqual({ pid: process.pid, startedAt: '2026-12-01T12:00:00.000Z', lastError: null });
      expect(readFileSync(pidFile, 'utf8')).toBe(formatHolder());
      log.info('fine');
      log.warn('not an error');
      expect(read('watchdog').lastError).toBeNull();
      log.error('respawn dc-1 failed:', new Error('boom'));
      expect(read('watchdog').lastError).toEqual({ at: '2026-12-01T12:00:00.000Z', text: expect.stringMatching(/^respawn dc-1 failed: Error: boom/) });
    });
    expect(existsSync(pidFile)).toBe(false);
    // The error stays for the next run; an error logged after the run is not recorded.
    log.error('after the run');
    expect(read('watchdog').lastError?.text).toMatch(/^respawn dc-1 failed/);
    const later = { now: () => clock.now() + HOUR };
    const failing = runDaemon({ name: 'watchdog', what: 'The watchdog', pidFile, sessionsDir: dir, log, clock: later }, async () => {
      expect(read('watchdog').lastError?.text).toMatch(/^respawn dc-1 failed/);
      throw new Error('bad token');
    });
    await expect(failing).rejects.toThrow('bad token');
    expect(read('watchdog')).toEqual({ pid: process.pid, startedAt: '2026-12-01T13:00:00.000Z', lastError: { at: '2026-12-01T13:00:00.000Z', text: 'bad token' } });
  });

  test('a second instance is refused and leaves the running one’s status file alone', async () => {
    const pidFile = join(dir, 'router.pid');
    writeFileSync(pidFile, `${process.ppid}\n${processStartTime(process.ppid)}\n`);
    const status = { pid: process.ppid, startedAt: '2026-11-30T00:00:00.000Z', lastError: null };
    writeFileSync(join(dir, 'router.status.json'), JSON.stringify(status));
    let ran = false;
    await expect(runDaemon({ name: 'router', what: 'The router', pidFile, sessionsDir: dir, log: logger(), clock }, async () => void (ran = true))).rejects.toThrow(/already running/);
    expect(ran).toBe(false);
    expect(read('router')).toEqual(status);
  });
});

describe('pid files name the daemon, not whatever took its pid', () => {
  const dir = mkdtempSync(join(tmpdir(), 'crs-pidfile-'));
  /** An unrelated live process (its command line names none of our programs). */
  const stranger = Bun.spawn(['sleep', '60'], { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' });
  afterAll(() => {
    stranger.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  test.each<[string, () => string]>([
    ['its pid with another start time (a reused pid)', () => `${stranger.pid}\n1\n`],
    ['only its pid, as an older version wrote it', () => `${stranger.pid}\n`],
    ['garbage', () => 'garbage\n'],
  ])('a pid file naming an unrelated live process by %s does not block a start, and --stop never signals it', async (_, text) => {
    const pidFile = join(dir, 'watchdog.pid');
    writeFileSync(pidFile, text());
    expect(daemonPid(pidFile)).toBeUndefined();
    expect(daemonState(new Map(), 'dc-watchdog', pidFile)).toEqual({ running: false });
    const release = acquirePidFile(pidFile, 'The watchdog');
    expect(readFileSync(pidFile, 'utf8')).toBe(formatHolder());
    release();
    expect(existsSync(pidFile)).toBe(false);
    writeFileSync(pidFile, text());
    const runner = async () => ({ code: 1, stdout: '', stderr: "can't find session" });
    expect(await stopDaemon(new Tmux(runner), 'dc-watchdog', pidFile)).toBe(false);
    expect(isProcessAlive(stranger.pid)).toBe(true);
  });

  test('a pid file naming the live daemon (pid and start time) refuses a second start', () => {
    const pidFile = join(dir, 'router.pid');
    writeFileSync(pidFile, `${stranger.pid}\n${processStartTime(stranger.pid)}\n`);
    expect(daemonPid(pidFile)).toBe(stranger.pid);
    expect(() => acquirePidFile(pidFile, 'The router')).toThrow(`The router is already running (pid ${stranger.pid}).`);
  });
});

describe('a real daemon writes its status file', () => {
  const OWNER = 123456789;
  let fake: FakeTelegram;
  let sb: Sandbox;

  beforeAll(() => {
    fake = new FakeTelegram().start();
    sb = new Sandbox({ platform: TELEGRAM, token: fake.token, env: { TELEGRAM_API_URL: fake.url }, config: `TELEGRAM_ALLOWED_USER_ID="${OWNER}"\nTELEGRAM_SESSION_WORKDIR="$HOME/work"` });
  });

  afterAll(async () => {
    await sb.cleanup();
    await fake.stop();
  });

  test('the watchdog starts the router in tmux only when no process holds its pid file', async () => {
    const pidFile = join(sb.sessionsDir, 'router.pid');
    const started: string[] = [];
    const duty = keepAliveDuty({ name: 'router', tmux: sb.tmux, tmuxName: 'tg-router', pidFile, argv: () => ['sleep', '30'], env: sb.env, cwd: sb.home, everyMs: () => 5000, onStart: (m) => started.push(m) });
    // A router run in the foreground (or under systemd) holds the pid file: nothing is started beside it.
    writeFileSync(pidFile, formatHolder());
    await duty.run();
    expect(await sb.tmux.hasSession('tg-router')).toBe(false);
    // It stopped: the watchdog starts one.
    writeFileSync(pidFile, '999999999\n');
    await duty.run();
    expect(await sb.tmux.hasSession('tg-router')).toBe(true);
    expect(started).toEqual(['router was not running: started in tmux session tg-router']);
    await sb.tmux.killSession('tg-router');
    rmSync(pidFile, { force: true });
  });

  test('telegram-session-manager serve: its start and a polling error in router.status.json, shown by status', async () => {
    fake.fail(/getUpdates/, 500, 1);
    const proc = Bun.spawn(['bun', join(ROOT, 'bin/telegram-session-manager.ts'), 'serve'], { env: sb.env as Record<string, string>, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
    const file = join(sb.sessionsDir, 'router.status.json');
    try {
      const read = (): DaemonStatus | undefined => (existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined);
      await waitFor(() => read()?.lastError?.text.includes('polling failed') ?? false, 15_000, 'the polling error recorded');
      const status = read()!;
      expect(status.pid).toBe(proc.pid);
      expect(Date.now() - Date.parse(status.startedAt)).toBeLessThan(30_000);
      expect(Date.parse(status.lastError!.at)).toBeGreaterThanOrEqual(Date.parse(status.startedAt));
      const json = JSON.parse((await sb.runBin('telegram-session-manager', ['status', '--json'])).out) as { daemons: DaemonView[] };
      expect(json.daemons.find((d) => d.name === 'router')).toMatchObject({ label: 'Router', running: true, how: `pid: ${proc.pid}`, pid: proc.pid, startedAt: status.startedAt, lastError: status.lastError });
      expect(json.daemons.find((d) => d.name === 'watchdog')).toMatchObject({ running: false, uptimeSeconds: null, lastError: null });
      const text = (await sb.runBin('telegram-session-manager', ['status'])).out;
      expect(text).toMatch(new RegExp(`\\nRouter: RUNNING \\(pid: ${proc.pid}\\)  up \\d+s  last error \\d+s ago: polling failed: `));
    } finally {
      proc.kill('SIGTERM');
      await proc.exited;
    }
    expect(existsSync(join(sb.sessionsDir, 'router.pid'))).toBe(false);
    const text = (await sb.runBin('telegram-session-manager', ['status'])).out;
    expect(text).toMatch(/\nRouter: STOPPED  last error \d+s ago: polling failed: /);
  }, 30_000);
});
