import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'bun';
import { createConsola } from 'consola';
import { TELEGRAM } from '../../lib/core/config/platform.ts';
import { linkSecret, readState, removeState } from '../../lib/core/store/state.ts';
import { systemClock } from '../../lib/core/util/clock.ts';
import { Inbox, compareIds } from '../../lib/router/inbox.ts';
import { routerSocketPath } from '../../lib/router/links.ts';
import { BridgeToRouter, FrameDecoder, RouterToBridge, encodeFrame } from '../../lib/router/protocol.ts';
import type { PendingPermission } from '../../lib/router/permissions.ts';
import { Router } from '../../lib/router/router.ts';
import { readCondition, writeCondition } from '../../lib/core/store/condition.ts';
import { clearTurn, recordTurnHook } from '../../lib/core/store/turn.ts';
import { Sandbox, waitFor } from '../helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'crs-router-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const message = (id: string, text = `m${id}`) => ({ id, content: text, meta: { chat_id: '42', message_id: id }, at: 1 });

describe('Inbox', () => {
  test('keeps messages in id order in a private folder, one 0600 file each, and refuses an id it queued before', () => {
    const inbox = new Inbox(join(dir, 'a', 'inbox'));
    expect(inbox.add(message('10'))).toBe(true);
    expect(inbox.add(message('9'))).toBe(true);
    expect(inbox.add(message('100'))).toBe(true);
    expect(inbox.add(message('10', 'again'))).toBe(false);
    expect(inbox.list().map((e) => e.id)).toEqual(['9', '10', '100']);
    expect(statSync(inbox.dir).mode & 0o777).toBe(0o700);
    for (const name of readdirSync(inbox.dir)) expect(statSync(join(inbox.dir, name)).mode & 0o777).toBe(0o600);
    inbox.remove('9');
    expect(inbox.first()?.id).toBe('10');
    // Gone from the folder, but still refused: a re-fetched update or a backfill does not queue it again.
    expect(inbox.add(message('9'))).toBe(false);
    expect(new Inbox(inbox.dir).add(message('9'))).toBe(false);
    expect(inbox.lastId()).toBe('100');
    expect(inbox.size).toBe(2);
  });

  test('a message that cannot be written is not queued and the error says so', () => {
    const base = join(dir, 'b');
    mkdirSync(base, { recursive: true });
    // A file where the folder should be: every write fails, as on a full disk.
    writeFileSync(join(base, 'inbox'), 'not a folder');
    const inbox = new Inbox(join(base, 'inbox'));
    expect(() => inbox.add(message('5'))).toThrow();
    rmSync(join(base, 'inbox'));
    expect(inbox.add(message('5'))).toBe(true);
  });

  test.each(['', 'abc', '-5', '1'.repeat(21), '../1'])('%j is not a message id', (id) => {
    expect(() => new Inbox(join(dir, 'c')).add(message(id))).toThrow(/not a platform message id/);
  });

  test('compareIds orders ids numerically whatever their length', () => {
    expect(['100', '9', '1000000000000000001', '20'].sort(compareIds)).toEqual(['9', '20', '100', '1000000000000000001']);
  });

  test('entries of the earlier queue format are taken over by their message_id', () => {
    const inbox = new Inbox(join(dir, 'd'));
    mkdirSync(inbox.dir, { recursive: true });
    writeFileSync(join(inbox.dir, '001700000000000-0001234-000001.json'), JSON.stringify({ content: 'old', meta: { chat_id: '42', message_id: '77' } }));
    writeFileSync(join(inbox.dir, '001700000000001-0001234-000002.json'), 'garbage');
    expect(inbox.adoptLegacy(5)).toBe(1);
    expect(inbox.list()).toEqual([{ id: '77', content: 'old', meta: { chat_id: '42', message_id: '77' }, at: 5 }]);
    expect(readdirSync(inbox.dir).filter((n) => n.includes('-'))).toEqual([]);
  });
});

describe('link frames', () => {
  test('valid frames pass; a line that is not JSON, an unknown frame, a wrong version or a bad meta key is reported', () => {
    const bad: string[] = [];
    const decoder = new FrameDecoder(RouterToBridge, (reason) => bad.push(reason));
    const frames = decoder.push(`${encodeFrame({ type: 'message', id: '5', content: 'hi', meta: { chat_id: '1' } })}not json\n{"v":2,"type":"welcome"}\n`);
    expect(frames).toEqual([{ v: 1, type: 'message', id: '5', content: 'hi', meta: { chat_id: '1' } }]);
    decoder.push(`${JSON.stringify({ v: 1, type: 'message', id: '5', content: 'x', meta: { 'bad-key': 'v' } })}\n{"v":1,"type":"nope"}\n`);
    expect(bad).toHaveLength(4);
  });

  test('a frame split across chunks is put back together; an endless line is refused', () => {
    const bad: string[] = [];
    const decoder = new FrameDecoder(BridgeToRouter, (reason) => bad.push(reason));
    const line = encodeFrame({ type: 'taken', id: '12' });
    expect(decoder.push(line.slice(0, 7))).toEqual([]);
    expect(decoder.push(line.slice(7))).toEqual([{ v: 1, type: 'taken', id: '12' }]);
    decoder.push('x'.repeat((1 << 20) + 1));
    expect(bad).toEqual(['a line over 1 MiB']);
  });
});

/** A bridge stand-in on the real socket: says hello, records frames, answers messages as told. */
async function connectBridge(path: string, session: string, secret: string, answer: (id: string) => 'taken' | 'deaf' | 'none' = () => 'taken') {
  const frames: RouterToBridge[] = [];
  const decoder = new FrameDecoder(RouterToBridge, () => {});
  let closed = false;
  const socket: Socket<undefined> = await Bun.connect({
    unix: path,
    socket: {
      data: (sock, chunk) => {
        for (const frame of decoder.push(chunk)) {
          frames.push(frame);
          if (frame.type !== 'message') continue;
          const verdict = answer(frame.id);
          if (verdict === 'taken') sock.write(encodeFrame({ type: 'taken', id: frame.id }));
          if (verdict === 'deaf') sock.write(encodeFrame({ type: 'not-taken', id: frame.id, reason: 'deaf' }));
        }
      },
      close: () => void (closed = true),
    },
  });
  socket.write(encodeFrame({ type: 'hello', session, secret, pid: process.pid }));
  return { frames, socket, isClosed: () => closed, messages: () => frames.filter((f) => f.type === 'message').map((f) => (f as { id: string }).id) };
}

describe('Router (core) with a private tmux and the stand-in claude', () => {
  const CHAT = '4242';
  let sb: Sandbox;
  let router: Router;
  let abort: AbortController;
  const log: string[] = [];
  const notices: Array<[string, string]> = [];
  const spawned: string[] = [];
  const asked: PendingPermission[] = [];
  const settled: Array<{ id: string; ref: unknown; result: string }> = [];

  beforeAll(() => {
    sb = new Sandbox({ platform: TELEGRAM, config: 'TELEGRAM_ALLOWED_USER_ID="123456789"\nTELEGRAM_SESSION_WORKDIR="$HOME/work"\nTELEGRAM_IDLE_TIMEOUT=0' });
  });
  afterAll(() => sb.cleanup());

  function startRouter(timings: { connectGraceMs?: number; reconnectGraceMs?: number; silenceMs?: number; sweepMs?: number } = {}) {
    const { ctx } = sb.context();
    abort = new AbortController();
    router = new Router({
      manager: ctx.manager,
      clock: systemClock,
      log: createConsola({ level: 4, reporters: [{ log: (e) => log.push(e.args.map(String).join(' ')) }] }),
      signal: abort.signal,
      timings,
      adapter: {
        notify: async (session, text) => void notices.push([session, text]),
        spawn: async (session) => {
          spawned.push(session);
          return ctx.manager.spawn(session, { type: 'chat' });
        },
        askPermission: async (request) => {
          asked.push(request);
          return `ref-${request.request_id}`;
        },
        settlePermission: async (request, ref, outcome) => void settled.push({ id: request.request_id, ref, result: outcome.result }),
        notifyOwners: async (text) => void notices.push(['owners', text]),
      },
    });
    router.start();
    return ctx.manager;
  }

  afterEach(() => {
    router?.close();
    abort?.abort();
  });

  test('a message for a new chat spawns its session; the bridge with the right secret gets it and takes it out', async () => {
    const manager = startRouter();
    expect(router.accept({ session: CHAT, ...message('1') })).toBe(true);
    expect(router.accept({ session: CHAT, ...message('1') })).toBe(false);
    await waitFor(() => spawned.includes(CHAT), 5000, 'the spawn');
    const secret = linkSecret(manager.stateDir(CHAT));
    const bridge = await connectBridge(routerSocketPath(sb.sessionsDir), CHAT, secret);
    await waitFor(() => bridge.messages().includes('1'), 3000, 'the message at the bridge');
    expect(bridge.frames[0]).toEqual({ v: 1, type: 'welcome' });
    await waitFor(() => router.inbox(CHAT).size === 0, 3000, 'the inbox emptied');
    router.accept({ session: CHAT, ...message('2') });
    await waitFor(() => bridge.messages().includes('2'), 3000, 'a live message');
    // Taken too before the bridge goes: the next tests start from an empty inbox.
    await waitFor(() => router.inbox(CHAT).size === 0, 3000, 'the inbox emptied again');
    bridge.socket.end();
  });

  test('a bridge with a wrong secret gets no messages, is closed, and the refusal is logged', async () => {
    const manager = startRouter();
    router.accept({ session: CHAT, ...message('3') });
    const impostor = await connectBridge(routerSocketPath(sb.sessionsDir), CHAT, 'f'.repeat(64));
    await waitFor(() => impostor.isClosed(), 3000, 'the impostor closed');
    expect(impostor.messages()).toEqual([]);
    expect(log.some((l) => l.includes(`REFUSED a bridge claiming session ${CHAT}`))).toBe(true);
    expect(router.isLinked(CHAT)).toBe(false);
    expect(router.inbox(CHAT).first()?.id).toBe('3');
    // The real one still gets it.
    const bridge = await connectBridge(routerSocketPath(sb.sessionsDir), CHAT, linkSecret(manager.stateDir(CHAT)));
    await waitFor(() => bridge.messages().includes('3'), 3000, 'the message');
    bridge.socket.end();
  });

  test('one message at a time: the next goes only after the bridge says the first was taken', async () => {
    const manager = startRouter();
    let hold = true;
    const bridge = await connectBridge(routerSocketPath(sb.sessionsDir), CHAT, linkSecret(manager.stateDir(CHAT)), () => (hold ? 'none' : 'taken'));
    await waitFor(() => router.isLinked(CHAT), 3000, 'the link');
    router.accept({ session: CHAT, ...message('4') });
    router.accept({ session: CHAT, ...message('5') });
    await waitFor(() => bridge.messages().includes('4'), 3000, 'the first');
    await Bun.sleep(200);
    expect(bridge.messages()).toEqual(['4']);
    hold = false;
    bridge.socket.write(encodeFrame({ type: 'taken', id: '4' }));
    await waitFor(() => bridge.messages().includes('5'), 3000, 'the second');
    await waitFor(() => router.inbox(CHAT).size === 0, 3000, 'the inbox emptied');
    bridge.socket.end();
  });

  test('a message waits while a turn runs, and for the turn the message before it starts; a turn whose pane went still holds nothing', async () => {
    // The stand-in bridge sends no heartbeats: the link is kept for the whole test.
    const manager = startRouter({ silenceMs: 60_000 });
    const dir = manager.stateDir(CHAT);
    // Its Claude Code runs (a turn of a session that is gone holds nothing).
    if (!(await sb.tmux.hasSession(`tg-${CHAT}`))) await manager.spawn(CHAT, { type: 'chat' });
    const bridge = await connectBridge(routerSocketPath(sb.sessionsDir), CHAT, linkSecret(dir));
    await waitFor(() => router.isLinked(CHAT), 3000, 'the link');
    try {
      // A turn under way: the message waits for its Stop hook (mid-turn, Claude Code would hand it to the model as a system note).
      recordTurnHook(dir, { hook_event_name: 'UserPromptSubmit' }, Date.now());
      router.accept({ session: CHAT, ...message('60') });
      router.accept({ session: CHAT, ...message('61') });
      await Bun.sleep(1500);
      expect(bridge.messages()).not.toContain('60');
      recordTurnHook(dir, { hook_event_name: 'Stop' }, Date.now());
      await waitFor(() => bridge.messages().includes('60'), 3000, 'the message after the turn');
      // 60 was taken: 61 waits for the turn 60 starts, then for its end.
      await Bun.sleep(1000);
      expect(bridge.messages()).not.toContain('61');
      recordTurnHook(dir, { hook_event_name: 'UserPromptSubmit' }, Date.now());
      await Bun.sleep(3000);
      expect(bridge.messages()).not.toContain('61');
      recordTurnHook(dir, { hook_event_name: 'Stop' }, Date.now());
      await waitFor(() => bridge.messages().includes('61'), 3000, 'the second message after its turn');
      // No hook shows the turn 61 starts (a prompt that starts none): 62 goes after a moment.
      router.accept({ session: CHAT, ...message('62') });
      await waitFor(() => bridge.messages().includes('62'), 6000, 'the message once no turn showed');
      // A turn marked busy while a question waits for the owner holds; once none waits and the pane is still, it does not.
      await waitFor(() => router.inbox(CHAT).size === 0, 3000, '62 taken');
      recordTurnHook(dir, { hook_event_name: 'UserPromptSubmit' }, Date.now());
      writeCondition(dir, 'router', { state: 'WAITING', cause: 'asks to use Bash', fix: 'Allow or Deny', since: Date.now() });
      router.accept({ session: CHAT, ...message('63') });
      await Bun.sleep(12_000);
      expect(bridge.messages()).not.toContain('63');
      writeCondition(dir, 'router', undefined);
      await waitFor(() => bridge.messages().includes('63'), 3000, 'the message once the still turn was judged over');
      expect(log.some((l) => l.includes(`turn of tg-${CHAT} shows no activity`))).toBe(true);
      await waitFor(() => router.inbox(CHAT).size === 0, 3000, 'every message taken');
    } finally {
      clearTurn(dir);
      bridge.socket.end();
    }
  }, 60_000);

  test('the time a message was taken is the session’s last message in (lastIn); a message not yet taken leaves it', async () => {
    const manager = startRouter();
    const dir = manager.stateDir(CHAT);
    removeState(dir, 'lastIn');
    const bridge = await connectBridge(routerSocketPath(sb.sessionsDir), CHAT, linkSecret(dir), () => 'none');
    await waitFor(() => router.isLinked(CHAT), 3000, 'the link');
    router.accept({ session: CHAT, ...message('40') });
    await waitFor(() => bridge.messages().includes('40'), 3000, 'the message');
    await Bun.sleep(100);
    expect(readState(dir, 'lastIn')).toBeUndefined();
    const before = Date.now();
    bridge.socket.write(encodeFrame({ type: 'taken', id: '40' }));
    await waitFor(() => readState(dir, 'lastIn') !== undefined, 3000, 'lastIn');
    const at = Date.parse(readState(dir, 'lastIn')!);
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(Date.now());
    expect((await manager.list()).find((r) => r.id === CHAT)?.lastIn).toBe(new Date(at).toISOString());
    bridge.socket.end();
  });

  test('a bridge that goes silent is cut off; a message it did not confirm stays queued', async () => {
    const manager = startRouter({ silenceMs: 300 });
    const bridge = await connectBridge(routerSocketPath(sb.sessionsDir), CHAT, linkSecret(manager.stateDir(CHAT)), () => 'none');
    await waitFor(() => router.isLinked(CHAT), 3000, 'the link');
    router.accept({ session: CHAT, ...message('6') });
    await waitFor(() => bridge.messages().includes('6'), 3000, 'the message');
    await waitFor(() => !router.isLinked(CHAT), 3000, 'the silent link cut');
    expect(log.some((l) => l.includes('went silent'))).toBe(true);
    expect(router.inbox(CHAT).first()?.id).toBe('6');
    // The session is DEAF and its chat is told, once.
    const dir = manager.stateDir(CHAT);
    expect(readCondition(dir, 'bridge')).toMatchObject({ state: 'DEAF', notified: true });
    expect((await manager.list()).find((r) => r.id === CHAT)?.status).toBe('DEAF');
    const told = () => notices.filter(([s, t]) => s === CHAT && t.includes('bridge stopped answering'));
    await waitFor(() => told().length === 1, 3000, 'the notice');
    // Back, then silent again soon after (a flapping bridge): DEAF again, but not told a second time.
    const again = await connectBridge(routerSocketPath(sb.sessionsDir), CHAT, linkSecret(dir), () => 'none');
    await waitFor(() => router.isLinked(CHAT), 3000, 'the link again');
    expect(readCondition(dir, 'bridge')).toBeUndefined();
    await waitFor(() => again.messages().includes('6'), 3000, 'the message again');
    await waitFor(() => !router.isLinked(CHAT), 3000, 'cut again');
    expect(readCondition(dir, 'bridge')?.state).toBe('DEAF');
    await Bun.sleep(100);
    expect(told().length).toBe(1);
    // Back: the bridge takes what waited, and DEAF is over.
    const back = await connectBridge(routerSocketPath(sb.sessionsDir), CHAT, linkSecret(dir));
    await waitFor(() => router.inbox(CHAT).size === 0, 3000, 'the message taken');
    expect(readCondition(dir, 'bridge')).toBeUndefined();
    back.socket.end();
    bridge.socket.end();
    again.socket.end();
  });

  test('a session whose Claude Code does not take messages is restarted and its messages stay queued', async () => {
    const manager = startRouter();
    const before = (await manager.liveSessions()).get(`tg-${CHAT}`)?.panePid;
    const bridge = await connectBridge(routerSocketPath(sb.sessionsDir), CHAT, linkSecret(manager.stateDir(CHAT)), () => 'deaf');
    await waitFor(() => router.isLinked(CHAT), 3000, 'the link');
    router.accept({ session: CHAT, ...message('7') });
    await waitFor(() => log.some((l) => l.includes('RESTART') && l.includes('did not take message 7')), 5000, 'the restart');
    await waitFor(async () => {
      const info = (await manager.liveSessions()).get(`tg-${CHAT}`);
      return Boolean(info && !info.dead && info.panePid !== before);
    }, 10_000, 'a new pane');
    expect(router.inbox(CHAT).first()?.id).toBe('7');
    bridge.socket.end();
    router.inbox(CHAT).remove('7');
  });

  test('a running session whose bridge never connects is restarted after the grace', async () => {
    const manager = startRouter({ connectGraceMs: 300, sweepMs: 100 });
    const before = (await manager.liveSessions()).get(`tg-${CHAT}`)?.panePid;
    router.accept({ session: CHAT, ...message('8') });
    await waitFor(() => log.some((l) => l.includes('RESTART') && l.includes('has not connected')), 5000, 'the restart');
    await waitFor(async () => {
      const info = (await manager.liveSessions()).get(`tg-${CHAT}`);
      return Boolean(info && !info.dead && info.panePid !== before);
    }, 10_000, 'a new pane');
    router.inbox(CHAT).remove('8');
  });

  test('a session whose bridge went away and did not come back is restarted after the reconnect grace', async () => {
    const manager = startRouter({ reconnectGraceMs: 300, sweepMs: 100 });
    const before = (await manager.liveSessions()).get(`tg-${CHAT}`)?.panePid;
    const bridge = await connectBridge(routerSocketPath(sb.sessionsDir), CHAT, linkSecret(manager.stateDir(CHAT)), () => 'none');
    await waitFor(() => router.isLinked(CHAT), 3000, 'the link');
    router.accept({ session: CHAT, ...message('9') });
    await waitFor(() => bridge.messages().includes('9'), 3000, 'the message');
    bridge.socket.terminate();
    await waitFor(() => log.some((l) => l.includes('RESTART') && l.includes('went away and did not come back')), 5000, 'the restart');
    await waitFor(async () => {
      const info = (await manager.liveSessions()).get(`tg-${CHAT}`);
      return Boolean(info && !info.dead && info.panePid !== before);
    }, 10_000, 'a new pane');
    expect(router.inbox(CHAT).first()?.id).toBe('9');
    router.inbox(CHAT).remove('9');
  });

  test('nothing is handed to a session that is being stopped', async () => {
    const manager = startRouter();
    writeFileSync(join(manager.stateDir(CHAT), '.stopping'), '');
    const bridge = await connectBridge(routerSocketPath(sb.sessionsDir), CHAT, linkSecret(manager.stateDir(CHAT)));
    await waitFor(() => router.isLinked(CHAT), 3000, 'the link');
    router.accept({ session: CHAT, ...message('11') });
    await Bun.sleep(200);
    expect(bridge.messages()).toEqual([]);
    rmSync(join(manager.stateDir(CHAT), '.stopping'));
    bridge.socket.end();
  });

  /** A raw connection to the router as the session's bridge or hook, which sends one permission request. */
  async function asker(role: 'bridge' | 'hook', requestId: string, tool = 'Bash') {
    const manager = sb.context().ctx.manager;
    const frames: RouterToBridge[] = [];
    const decoder = new FrameDecoder(RouterToBridge, () => {});
    const socket = await Bun.connect({
      unix: routerSocketPath(sb.sessionsDir),
      socket: { data: (_s, chunk) => void frames.push(...decoder.push(chunk)) },
    });
    socket.write(encodeFrame({ type: 'hello', session: CHAT, secret: linkSecret(manager.stateDir(CHAT)), pid: process.pid, role }));
    await waitFor(() => frames.some((f) => f.type === 'welcome'), 3000, 'the welcome');
    socket.write(encodeFrame({ type: 'permission-request', request_id: requestId, tool_name: tool, description: 'list files', input_preview: '{"command":"ls"}' }));
    const verdict = () => frames.find((f) => f.type === 'permission' && f.request_id === requestId) as { behavior: string } | undefined;
    return { socket, verdict };
  }

  test('permissions: asked in the chat, the verdict goes back, the session is WAITING meanwhile; always allow answers the next at once', async () => {
    const manager = startRouter();
    const one = await asker('bridge', 'abcde');
    await waitFor(() => asked.some((r) => r.request_id === 'abcde'), 3000, 'the question');
    expect(asked.at(-1)).toMatchObject({ session: CHAT, tool_name: 'Bash', via: 'relay' });
    expect(readCondition(manager.stateDir(CHAT), 'router')).toMatchObject({ state: 'WAITING' });
    expect((await manager.list()).find((r) => r.id === CHAT)?.status).toBe('WAITING');
    expect(router.decidePermission(CHAT, 'abcde', 'always', { id: '123456789', name: 'owner' })).toBe('done');
    await waitFor(() => one.verdict()?.behavior === 'allow', 3000, 'the verdict');
    await waitFor(() => settled.some((s) => s.id === 'abcde'), 3000, 'the message settled');
    expect(settled.find((s) => s.id === 'abcde')).toEqual({ id: 'abcde', ref: 'ref-abcde', result: 'always' });
    expect(readCondition(manager.stateDir(CHAT), 'router')).toBeUndefined();
    expect(router.decidePermission(CHAT, 'abcde', 'deny', { id: '123456789' })).toBe('unknown');
    // The same tool again: allowed at once, no question.
    const before = asked.length;
    const two = await asker('hook', 'bcdef');
    await waitFor(() => two.verdict()?.behavior === 'allow', 3000, 'the immediate verdict');
    expect(asked.length).toBe(before);
    // Another tool still asks; a deny goes back as deny.
    const three = await asker('hook', 'cdefg', 'Write');
    await waitFor(() => asked.some((r) => r.request_id === 'cdefg'), 3000, 'the question');
    expect(asked.at(-1)!.via).toBe('hook');
    router.decidePermission(CHAT, 'cdefg', 'deny', { id: '123456789' });
    await waitFor(() => three.verdict()?.behavior === 'deny', 3000, 'the deny');
    for (const c of [one, two, three]) c.socket.end();
    rmSync(join(manager.stateDir(CHAT), '.always-allow.json'), { force: true });
  });

  test('permissions: a request answered in the terminal, or whose asker went away, closes its message', async () => {
    const manager = startRouter();
    const bridge = await asker('bridge', 'defgh');
    await waitFor(() => asked.some((r) => r.request_id === 'defgh'), 3000, 'the question');
    bridge.socket.write(encodeFrame({ type: 'permission-resolved', request_id: 'defgh' }));
    await waitFor(() => settled.some((s) => s.id === 'defgh'), 3000, 'settled');
    expect(settled.find((s) => s.id === 'defgh')!.result).toBe('terminal');
    const hook = await asker('hook', 'efghi');
    await waitFor(() => asked.some((r) => r.request_id === 'efghi'), 3000, 'the question');
    hook.socket.end();
    await waitFor(() => settled.some((s) => s.id === 'efghi'), 3000, 'settled');
    expect(settled.find((s) => s.id === 'efghi')!.result).toBe('gone');
    expect(readCondition(manager.stateDir(CHAT), 'router')).toBeUndefined();
    bridge.socket.end();
  });

  test('a Notification hook tells the owner once; not while a permission question already waits', async () => {
    const manager = startRouter();
    const tell = async (message: string) => {
      const socket = await Bun.connect({ unix: routerSocketPath(sb.sessionsDir), socket: { data: () => {} } });
      socket.write(encodeFrame({ type: 'hello', session: CHAT, secret: linkSecret(manager.stateDir(CHAT)), pid: process.pid, role: 'hook' }));
      socket.write(encodeFrame({ type: 'attention', message }));
      await Bun.sleep(200);
      socket.end();
    };
    const before = notices.length;
    await tell('Claude needs your permission to use Bash');
    await tell('Claude needs your permission to use Bash');
    await waitFor(() => notices.length > before, 5000, 'the notice');
    await Bun.sleep(2000);
    expect(notices.slice(before).map(([, text]) => text)).toEqual([expect.stringContaining('is waiting for you: Claude needs your permission to use Bash')]);
    const bridge = await asker('bridge', 'fghij');
    await waitFor(() => asked.some((r) => r.request_id === 'fghij'), 3000, 'the question');
    await tell('something else');
    // Longer than the hold a "waiting for you" gets before it is told.
    await Bun.sleep(2000);
    expect(notices.length).toBe(before + 1);
    router.decidePermission(CHAT, 'fghij', 'allow', { id: '123456789' });
    bridge.socket.end();
  }, 20_000);
});
