import { afterEach, beforeEach, describe, expect, test } from 'bun:test';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createConsola } from 'consola';
import { readCondition } from '../../lib/core/store/condition.ts';
import { recordTurnHook } from '../../lib/core/store/turn.ts';
import { SessionManager } from '../../lib/core/sessions/manager.ts';
import { Tmux, type TmuxResult, type TmuxSessionInfo } from '../../lib/core/host/tmux.ts';
import { CONTINUE_AFTER_RESET_MS, CONTINUE_TEXT, LIMIT_RETRY_MS, LimitKeeper } from '../../lib/router/limits.ts';
import { ROOT, Sandbox } from '../helpers.ts';

const fixture = (name: string) => readFileSync(join(ROOT, 'test/fixtures/panes', `${name}.txt`), 'utf8');

/** Screens by session, and every key typed into them; `1` on the limit options dialog closes it as Claude Code does. */
class Panes {
  readonly screens = new Map<string, string>();
  readonly typed: Array<[string, string]> = [];

  readonly tmux = new Tmux(async (args): Promise<TmuxResult> => {
    const name = args[args.indexOf('-t') + 1]!.replace(/^=/, '').replace(/:$/, '');
    if (args[0] === 'capture-pane') return { code: 0, stdout: this.screens.get(name) ?? '', stderr: '' };
    if (args[0] === 'send-keys') {
      const key = args.at(-1)!;
      this.typed.push([name, key]);
      if (key === '1' && this.screens.get(name) === fixture('limit-session-options')) this.screens.set(name, fixture('limit-session-after'));
    }
    return { code: 0, stdout: '', stderr: '' };
  });

  /** What was typed at a session, keys joined by spaces. */
  at(name: string): string[] {
    return this.typed.filter(([n]) => n === name).map(([, k]) => k);
  }
}

const idOf = (n: number) => String(100000000000000000n + BigInt(n));
// The screens' "resets 9:50am (UTC)", seen at 07:20 UTC.
const START = Date.UTC(2026, 10, 30, 7, 20);
const RESET = Date.UTC(2026, 10, 30, 9, 50);

let sb: Sandbox;
let clock: { now: number };
let panes: Panes;
let manager: SessionManager;
let told: string[];
let continued: string[];
let keeper: LimitKeeper;
let registry: Record<string, { name: string; tmux: string }>;
let live: Map<string, TmuxSessionInfo>;

function addSession(n: number, screen: string): string {
  const id = idOf(n);
  registry[id] = { name: `ch-${n}`, tmux: `dc-${id}` };
  live.set(`dc-${id}`, { name: `dc-${id}`, dead: false, activity: START / 1000, created: START / 1000 - 60, panePid: 1000 + n, deadStatus: null, deadTime: null });
  mkdirSync(manager.stateDir(id), { recursive: true });
  panes.screens.set(`dc-${id}`, screen);
  return id;
}

/** The session's StopFailure hook reports a usage limit, as Claude Code's does (with its reset, as a subscription's). */
function limitHit(id: string, message = "You've hit your session limit · resets 9:50am (UTC)"): void {
  recordTurnHook(manager.stateDir(id), { hook_event_name: 'StopFailure', error: 'rate_limit', last_assistant_message: message }, clock.now);
}

beforeEach(() => {
  sb = new Sandbox();
  clock = { now: START };
  panes = new Panes();
  manager = new SessionManager({ ...sb.context().ctx.manager.deps, tmux: panes.tmux, clock: { now: () => clock.now, sleep: async () => {} } });
  told = [];
  continued = [];
  registry = {};
  live = new Map();
  keeper = new LimitKeeper({
    manager,
    log: createConsola({ level: -999 }),
    clock: { now: () => clock.now, sleep: async () => {} },
    notifyOwners: async (text) => void told.push(text),
    onContinued: (session) => void continued.push(session),
  });
});

afterEach(async () => {
  await sb.cleanup();
});

describe('usage limits for the whole fleet', () => {
  test('three sessions limited together: each gets the reset time from its hook, the owner one message, their messages wait', async () => {
    const ids = [1, 2, 3].map((n) => addSession(n, fixture('limit-session-options')));
    const other = addSession(4, fixture('ready'));
    for (const id of ids) limitHit(id);
    for (const id of ids) expect(readCondition(manager.stateDir(id), 'hook')?.until).toBe(RESET);
    await keeper.check(registry, live);
    for (const id of ids) expect(readCondition(manager.stateDir(id), 'hook')).toMatchObject({ state: 'LIMITED', until: RESET });
    expect(ids.map((id) => keeper.holds(id))).toEqual([true, true, true]);
    expect(keeper.holds(other)).toBe(false);
    // Gathered for a moment: more sessions hitting the same limit join the same message.
    expect(told).toEqual([]);
    clock.now += 5000;
    const late = addSession(5, fixture('limit-session-options'));
    limitHit(late);
    await keeper.check(registry, live);
    expect(told).toEqual([]);
    clock.now += 5000;
    await keeper.check(registry, live);
    expect(told).toEqual(['⏳ 4 sessions paused by a usage limit until 09:50 UTC (ch-1, ch-2, ch-3, ch-5). They continue by themselves then; messages sent meanwhile wait.']);
    for (const id of [...ids, late]) expect(readCondition(manager.stateDir(id), 'hook')?.notified).toBe(true);
    // One more a minute later, paused until the same reset: the owner knows already.
    clock.now += 60_000;
    const later = addSession(6, fixture('limit-session-options'));
    limitHit(later);
    await keeper.check(registry, live);
    clock.now += 15_000;
    await keeper.check(registry, live);
    expect(told).toHaveLength(1);
    expect(readCondition(manager.stateDir(later), 'hook')).toMatchObject({ until: RESET, notified: true });
    expect(keeper.holds(later)).toBe(true);
    expect(panes.typed).toEqual([]);
  });

  test('at the reset each failed turn is continued exactly once: the options dialog closed, our line typed; then its messages go', async () => {
    const a = addSession(1, fixture('limit-session-options'));
    const b = addSession(2, fixture('limit-session-options'));
    for (const id of [a, b]) limitHit(id);
    await keeper.check(registry, live);
    clock.now = RESET + CONTINUE_AFTER_RESET_MS - 1000;
    await keeper.check(registry, live);
    expect(continued).toEqual([]);
    clock.now = RESET + CONTINUE_AFTER_RESET_MS;
    await keeper.check(registry, live);
    expect(continued.sort()).toEqual([a, b].sort());
    for (const id of [a, b]) {
      expect(panes.at(`dc-${id}`)).toEqual(['1', CONTINUE_TEXT, 'Enter']);
      expect(keeper.holds(id)).toBe(false);
      expect(readCondition(manager.stateDir(id), 'hook')?.continuedAt).toBe(clock.now);
    }
    // Later passes, before the continued turn's own hooks come: nothing typed again.
    clock.now += 60_000;
    await keeper.check(registry, live);
    expect(continued).toHaveLength(2);
    expect(panes.typed).toHaveLength(6);
    // The continued turn runs and ends: the limit is over.
    recordTurnHook(manager.stateDir(a), { hook_event_name: 'UserPromptSubmit' }, clock.now);
    expect(readCondition(manager.stateDir(a), 'hook')).toBeUndefined();
    // It hits the limit again: a new failure, told and continued after its own reset.
    limitHit(a);
    expect(keeper.holds(a)).toBe(true);
    panes.screens.set(`dc-${a}`, fixture('limit-session-options'));
    await keeper.check(registry, live);
    clock.now += 10_000;
    await keeper.check(registry, live);
    expect(told).toHaveLength(2);
    expect(told[1]).toStartWith('⏳ 1 session paused by a usage limit until ');
  });

  test('with no reset time on the screen (an API key), the session is tried again after a few minutes', async () => {
    const id = addSession(1, 'API Error: Request rejected (429) · usage limit reached\n❯ \n');
    limitHit(id, 'API Error: Request rejected (429) · usage limit reached');
    await keeper.check(registry, live);
    expect(readCondition(manager.stateDir(id), 'hook')?.until).toBe(START + LIMIT_RETRY_MS);
    clock.now = START + LIMIT_RETRY_MS + CONTINUE_AFTER_RESET_MS;
    await keeper.check(registry, live);
    expect(panes.at(`dc-${id}`)).toEqual([CONTINUE_TEXT, 'Enter']);
  });

  test('a reset the hook did not give is read from the screen; a dialog that is the owner’s to answer is left alone; the session continues once it is gone', async () => {
    const id = addSession(1, fixture('limit-session-after'));
    limitHit(id, 'usage limit reached');
    expect(readCondition(manager.stateDir(id), 'hook')?.until).toBeUndefined();
    await keeper.check(registry, live);
    expect(readCondition(manager.stateDir(id), 'hook')?.until).toBe(RESET);
    panes.screens.set(`dc-${id}`, fixture('trust'));
    clock.now = RESET + CONTINUE_AFTER_RESET_MS;
    await keeper.check(registry, live);
    expect(panes.typed).toEqual([]);
    expect(keeper.holds(id)).toBe(true);
    panes.screens.set(`dc-${id}`, fixture('ready'));
    await keeper.check(registry, live);
    expect(panes.at(`dc-${id}`)).toEqual([CONTINUE_TEXT, 'Enter']);
  });

  test('a session that is not running, or whose failure was not a limit, is not touched', async () => {
    const down = addSession(1, fixture('limit-session-options'));
    limitHit(down);
    live.get(`dc-${down}`)!.dead = true;
    const failed = addSession(2, fixture('ready'));
    recordTurnHook(manager.stateDir(failed), { hook_event_name: 'StopFailure', error: 'server_error' }, clock.now);
    await keeper.check(registry, live);
    clock.now = RESET + CONTINUE_AFTER_RESET_MS + 10_000;
    await keeper.check(registry, live);
    expect(told).toEqual([]);
    expect(panes.typed).toEqual([]);
    expect(keeper.holds(failed)).toBe(false);
  });
});
