import { afterEach, beforeEach, describe, expect, test } from 'bun:test';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createConsola } from 'consola';
import { type Condition, readCondition, writeCondition } from '../../lib/core/store/condition.ts';
import { formatRow } from '../../lib/core/sessions/format.ts';
import { SessionManager } from '../../lib/core/sessions/manager.ts';
import type { ConditionNotify } from '../../lib/platforms/notify.ts';
import { TELEGRAM } from '../../lib/core/config/platform.ts';
import { Tmux, type TmuxResult } from '../../lib/core/host/tmux.ts';
import { DEV_DIALOG_GRACE_MS, MIN_CAPTURE_MS, PaneObserver } from '../../lib/daemons/pane-observer.ts';
import { paneDuty } from '../../lib/daemons/duties.ts';
import { ROOT, Sandbox } from '../helpers.ts';

const fixture = (name: string) => readFileSync(join(ROOT, 'test/fixtures/panes', `${name}.txt`), 'utf8');

interface FakePane {
  screen: string;
  /** tmux activity, seconds since the epoch. */
  activity: number;
  pid: number;
  created: number;
  dead?: boolean;
}

/** A tmux server in memory: answers list-sessions and capture-pane, and counts every call by command. */
class FakeTmuxServer {
  readonly panes = new Map<string, FakePane>();
  readonly calls: string[][] = [];
  private nextPid = 1000;

  constructor(private readonly clock: { now: number }) {}

  add(name: string, screen: string): FakePane {
    const pane = { screen, activity: Math.floor(this.clock.now / 1000) - 30, pid: this.nextPid++, created: Math.floor(this.clock.now / 1000) - 60 };
    this.panes.set(name, pane);
    return pane;
  }

  /** New text on a pane: its activity moves to now. */
  show(name: string, screen: string): void {
    const pane = this.panes.get(name)!;
    pane.screen = screen;
    pane.activity = Math.floor(this.clock.now / 1000);
  }

  restart(name: string, screen: string): void {
    const pane = this.panes.get(name)!;
    Object.assign(pane, { screen, pid: this.nextPid++, created: Math.floor(this.clock.now / 1000), activity: Math.floor(this.clock.now / 1000) });
  }

  count(command: string): number {
    return this.calls.filter((c) => c[0] === command).length;
  }

  readonly tmux = new Tmux(async (args): Promise<TmuxResult> => {
    this.calls.push(args);
    if (args[0] === 'list-sessions') {
      const lines = [...this.panes].map(([name, p]) => [name, p.dead ? 1 : 0, p.activity, p.activity, p.created, p.pid, '', ''].join('\t'));
      return { code: 0, stdout: `${lines.join('\n')}\n`, stderr: '' };
    }
    if (args[0] === 'capture-pane') {
      const name = args[args.indexOf('-t') + 1]!.replace(/^=/, '').replace(/:$/, '');
      const pane = this.panes.get(name);
      return pane ? { code: 0, stdout: pane.screen, stderr: '' } : { code: 1, stdout: '', stderr: `can't find session: ${name}` };
    }
    return { code: 0, stdout: '', stderr: '' };
  });
}

let sb: Sandbox;
let clock: { now: number };
let server: FakeTmuxServer;
let manager: SessionManager;
let told: Array<{ id: string; condition: Condition }>;
let logs: string[];
let notify: ConditionNotify;

function createObserver(options: { notify?: ConditionNotify } = {}): PaneObserver {
  const log = createConsola({ level: 4, reporters: [{ log: (entry) => logs.push(`[${entry.type}] ${entry.args.join(' ')}`) }] });
  return new PaneObserver({ manager, log, now: () => clock.now, notify: options.notify ?? notify });
}

function register(ids: string[]): void {
  const registry = Object.fromEntries(ids.map((id) => [id, { type: 'channel', name: `ch-${id.slice(-4)}`, tmux: `dc-${id}`, parent: null, created: '' }]));
  sb.write('discord-sessions/sessions.json', JSON.stringify(registry));
  for (const id of ids) mkdirSync(dirOf(id), { recursive: true });
}

const idOf = (n: number) => String(100000000000000000n + BigInt(n));
const dirOf = (id: string) => join(sb.sessionsDir, id);

beforeEach(() => {
  sb = new Sandbox();
  clock = { now: Date.UTC(2026, 10, 30, 7, 20) };
  server = new FakeTmuxServer(clock);
  manager = new SessionManager({ ...sb.context().ctx.manager.deps, tmux: server.tmux, clock: { now: () => clock.now, sleep: async () => {} } });
  told = [];
  logs = [];
  notify = async (session, condition) => void told.push({ id: session.id, condition });
});

afterEach(async () => {
  await sb.cleanup();
});

describe('pane observer: cheap at 200 sessions', () => {
  test('one listing per pass; every pane read once, then only the one that changed', async () => {
    const ids = Array.from({ length: 200 }, (_, i) => idOf(i));
    register(ids);
    for (const id of ids) server.add(`dc-${id}`, fixture('ready'));
    const observer = createObserver();

    expect(await observer.tick()).toHaveLength(200);
    expect(server.count('list-sessions')).toBe(1);

    clock.now += 5000;
    expect(await observer.tick()).toEqual([]);
    expect(server.count('list-sessions')).toBe(2);
    expect(server.count('capture-pane')).toBe(200);

    server.show(`dc-${ids[7]}`, fixture('trust'));
    clock.now += 5000;
    expect(await observer.tick()).toEqual([ids[7]!]);
    expect(server.count('capture-pane')).toBe(201);
    expect(readCondition(dirOf(ids[7]!), 'pane')?.state).toBe('WAITING');
    expect(told.map((t) => t.id)).toEqual([ids[7]!]);
  });

  test('a pane that keeps changing is read at most once per MIN_CAPTURE_MS', async () => {
    const id = idOf(1);
    register([id]);
    server.add(`dc-${id}`, fixture('ready'));
    const observer = createObserver();
    const captures: number[] = [];
    for (let t = 0; t < 10_000; t += 250) {
      server.show(`dc-${id}`, `${fixture('ready')}\n${t}`);
      if ((await observer.tick()).length) captures.push(t);
      clock.now += 250;
    }
    expect(captures.length).toBeGreaterThanOrEqual(4);
    for (let i = 1; i < captures.length; i++) expect(captures[i]! - captures[i - 1]!).toBeGreaterThanOrEqual(MIN_CAPTURE_MS);
  });

  test('a change within the second of the last read (same activity stamp) is still read, once', async () => {
    const id = idOf(2);
    register([id]);
    server.add(`dc-${id}`, fixture('ready'));
    server.show(`dc-${id}`, fixture('ready'));
    const observer = createObserver();
    await observer.tick();
    // Same second, new text: tmux's activity stamp does not move.
    server.panes.get(`dc-${id}`)!.screen = fixture('trust');
    clock.now += MIN_CAPTURE_MS;
    expect(await observer.tick()).toEqual([id]);
    expect(readCondition(dirOf(id), 'pane')?.state).toBe('WAITING');
    clock.now += MIN_CAPTURE_MS;
    expect(await observer.tick()).toEqual([]);
  });
});

describe('pane observer: conditions and telling the owner once', () => {
  test('a trust dialog is WAITING with the fix, told once, shown by list; answered, it clears', async () => {
    const id = idOf(3);
    register([id]);
    server.add(`dc-${id}`, fixture('trust'));
    const observer = createObserver();
    await observer.tick();
    const recorded = readCondition(dirOf(id), 'pane')!;
    expect(recorded).toMatchObject({ state: 'WAITING', notified: true, since: clock.now });
    expect(recorded.fix).toContain('`/session send 1` trusts the folder');
    expect(told).toHaveLength(1);
    expect(told[0]!.condition).toMatchObject({ state: 'WAITING', cause: recorded.cause });

    // More activity on the same dialog (a redraw): nothing new to tell.
    for (let i = 0; i < 3; i++) {
      clock.now += 3000;
      server.show(`dc-${id}`, `${fixture('trust')}\n`);
      await observer.tick();
    }
    expect(told).toHaveLength(1);
    expect(readCondition(dirOf(id), 'pane')!.since).toBe(recorded.since);

    const [row] = await manager.list();
    expect(row).toMatchObject({ status: 'WAITING', condition: { state: 'WAITING', cause: recorded.cause, fix: recorded.fix } });
    expect(formatRow(row!)).toMatch(/^ {2}\[WAITING\] .*\n {11}Claude Code asks whether to trust the workdir .*\n {11}fix: `\/session send 1` trusts/);

    clock.now += 3000;
    server.show(`dc-${id}`, fixture('ready'));
    await observer.tick();
    expect(readCondition(dirOf(id), 'pane')).toBeUndefined();
    expect((await manager.list())[0]).toMatchObject({ status: 'UP', condition: null });
    expect(logs.join('\n')).toContain(`CLEARED  dc-${id}: no longer WAITING`);
  });

  test('channels off is DEAF and stays DEAF after the notice scrolls away, until the session restarts', async () => {
    const id = idOf(4);
    register([id]);
    sb.write('discord-sessions/profiles.env', '[default]\nDISABLE_TELEMETRY=1\n');
    server.add(`dc-${id}`, fixture('deaf-channels-flag'));
    const observer = createObserver();
    await observer.tick();
    const deaf = readCondition(dirOf(id), 'pane')!;
    expect(deaf.state).toBe('DEAF');
    expect(deaf.fix).toBe(`remove DISABLE_TELEMETRY (in ${sb.sessionsDir}/profiles.env [default]), then \`/session restart\``);

    clock.now += 3000;
    server.show(`dc-${id}`, fixture('ready'));
    await observer.tick();
    expect(readCondition(dirOf(id), 'pane')).toMatchObject({ state: 'DEAF', since: deaf.since });
    // A new watchdog (empty memory) keeps it too.
    const again = createObserver();
    clock.now += 3000;
    await again.tick();
    expect(readCondition(dirOf(id), 'pane')?.state).toBe('DEAF');
    expect(told).toHaveLength(1);

    clock.now += 3000;
    server.restart(`dc-${id}`, fixture('ready'));
    await again.tick();
    expect(readCondition(dirOf(id), 'pane')).toBeUndefined();
  });

  test('a dialog on a deaf session takes over, and deafness returns after it without a second notice', async () => {
    const id = idOf(5);
    register([id]);
    server.add(`dc-${id}`, fixture('deaf-dev-channels'));
    const observer = createObserver();
    await observer.tick();
    clock.now += 3000;
    server.show(`dc-${id}`, fixture('limit-session-options'));
    await observer.tick();
    expect(readCondition(dirOf(id), 'pane')?.state).toBe('LIMITED');
    clock.now += 3000;
    server.show(`dc-${id}`, fixture('ready'));
    await observer.tick();
    expect(readCondition(dirOf(id), 'pane')?.state).toBe('DEAF');
    // The limit was over before its hook wait: only the deafness was told, once.
    expect(told.map((t) => t.condition.state)).toEqual(['DEAF']);
  });

  test("a usage limit the session's StopFailure hook reported is left to the router's one message; one with no hook is told after a wait", async () => {
    const [hooked, bare] = [idOf(14), idOf(15)];
    register([hooked, bare]);
    server.add(`dc-${hooked}`, fixture('limit-session-options'));
    server.add(`dc-${bare}`, fixture('limit-session-options'));
    writeCondition(dirOf(hooked), 'hook', { state: 'LIMITED', cause: 'You have hit your session limit', fix: 'x', since: clock.now });
    const observer = createObserver();
    await observer.tick();
    expect(readCondition(dirOf(hooked), 'pane')).toMatchObject({ state: 'LIMITED', notified: true });
    expect(readCondition(dirOf(bare), 'pane')).toMatchObject({ state: 'LIMITED' });
    expect(told).toEqual([]);
    clock.now += 5000;
    await observer.tick();
    expect(told).toEqual([]);
    clock.now += 11_000;
    await observer.tick();
    expect(told.map((t) => [t.id, t.condition.state])).toEqual([[bare, 'LIMITED']]);
    clock.now += 3000;
    await observer.tick();
    expect(told).toHaveLength(1);
  });

  test("the development-channel dialog is the manager's to answer: the observer answers it once when it stays, a condition only if it stays after that", async () => {
    const id = idOf(6);
    register([id]);
    server.add(`dc-${id}`, fixture('dev-channels'));
    const observer = createObserver();
    await observer.tick();
    expect(readCondition(dirOf(id), 'pane')).toBeUndefined();
    clock.now += DEV_DIALOG_GRACE_MS;
    expect(await observer.tick()).toEqual([]);
    const enters = () => server.calls.filter((c) => c[0] === 'send-keys' && c.includes(`=dc-${id}:`) && c.at(-1) === 'Enter');
    expect(enters()).toHaveLength(1);
    expect(readCondition(dirOf(id), 'pane')).toBeUndefined();
    // Still there on the next pass: the owner must look.
    await observer.tick();
    expect(enters()).toHaveLength(1);
    expect(readCondition(dirOf(id), 'pane')?.cause).toMatch(/development channels confirmation/);
    expect(told).toHaveLength(1);
  });

  test('a usage limit holds until its reset time, then clears without reading the pane again', async () => {
    const id = idOf(7);
    register([id]);
    server.add(`dc-${id}`, fixture('limit-session-after'));
    const observer = createObserver();
    await observer.tick();
    const reset = Date.UTC(2026, 10, 30, 9, 50);
    expect(readCondition(dirOf(id), 'pane')).toMatchObject({ state: 'LIMITED', until: reset });
    expect((await manager.list())[0]!.status).toBe('LIMITED');
    clock.now = reset + 1000;
    // list already ignores a limit that has reset.
    expect((await manager.list())[0]!.status).toBe('UP');
    expect(await observer.tick()).toEqual([]);
    expect(readCondition(dirOf(id), 'pane')).toBeUndefined();
    // The old line still on the screen, read again after the reset ("9:50am" would now mean tomorrow): still over.
    clock.now += 3000;
    server.show(`dc-${id}`, `${fixture('limit-session-after')}\n`);
    await observer.tick();
    expect(readCondition(dirOf(id), 'pane')).toBeUndefined();
  });

  test('not logged in is LOGGED_OUT with the login fixes', async () => {
    const id = idOf(8);
    register([id]);
    server.add(`dc-${id}`, fixture('not-logged-in'));
    await createObserver().tick();
    expect(readCondition(dirOf(id), 'pane')).toMatchObject({ state: 'LOGGED_OUT' });
    expect(told[0]!.condition.fix).toMatch(/claude \/login.*claude setup-token.*CLAUDE_CODE_OAUTH_TOKEN/);
  });

  test('a failure to tell is logged, not thrown, and not retried while the condition holds', async () => {
    const id = idOf(9);
    register([id]);
    server.add(`dc-${id}`, fixture('bypass'));
    let attempts = 0;
    const observer = createObserver({ notify: async () => void (attempts++, await Promise.reject(new Error('Discord is down'))) });
    await observer.tick();
    clock.now += 3000;
    server.show(`dc-${id}`, `${fixture('bypass')}\n`);
    await observer.tick();
    expect(attempts).toBe(1);
    expect(logs.join('\n')).toContain(`could not tell the owner of dc-${id} that it is WAITING: Discord is down`);
    expect(readCondition(dirOf(id), 'pane')?.state).toBe('WAITING');
  });

  test('a condition someone else already told (the wake path) is not told again', async () => {
    const id = idOf(10);
    register([id]);
    server.add(`dc-${id}`, fixture('trust'));
    const cause = 'Claude Code asks whether to trust the workdir /tmp/exp/w1 (workspace trust dialog)';
    writeCondition(dirOf(id), 'pane', { state: 'WAITING', cause, fix: 'x', since: 1, notified: true });
    await createObserver().tick();
    expect(told).toEqual([]);
    expect(readCondition(dirOf(id), 'pane')).toMatchObject({ cause, since: 1 });
  });

  test('dead and unregistered panes are not read', async () => {
    const [a, b] = [idOf(11), idOf(12)];
    register([a]);
    server.add(`dc-${a}`, fixture('trust')).dead = true;
    server.add(`dc-${b}`, fixture('trust'));
    expect(await createObserver().tick()).toEqual([]);
    expect(server.count('capture-pane')).toBe(0);
  });
});

describe('pane duty', () => {
  test('runs the observer every second (or the watchdog interval when shorter) with the injected notify', async () => {
    const id = idOf(13);
    register([id]);
    server.add(`dc-${id}`, fixture('trust'));
    const log = createConsola({ level: 0 });
    const duty = paneDuty({ manager, log, now: () => clock.now }, notify);
    expect(duty.everyMs()).toBe(1000);
    await duty.run();
    expect(told).toHaveLength(1);
  });

  test('Telegram fixes name /send and /restart', async () => {
    const tg = new Sandbox({ platform: TELEGRAM });
    try {
      const tgManager = new SessionManager({ ...tg.context().ctx.manager.deps, tmux: server.tmux, clock: { now: () => clock.now, sleep: async () => {} } });
      tg.write('telegram-sessions/sessions.json', JSON.stringify({ '-100123': { type: 'chat', name: 'group', tmux: 'tg--100123', parent: null, created: '' } }));
      mkdirSync(join(tg.sessionsDir, '-100123'), { recursive: true });
      server.add('tg--100123', fixture('trust'));
      await new PaneObserver({ manager: tgManager, log: createConsola({ level: 0 }), now: () => clock.now, notify }).tick();
      expect(told[0]!.condition.fix).toMatch(/^`\/send 1` trusts the folder/);
    } finally {
      await tg.cleanup();
    }
  });
});
