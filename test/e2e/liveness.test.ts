/**
 * Liveness and idle suspension with the REAL Claude Code: the compiled Telegram router (`serve`) and
 * watchdog, a Telegram Bot API fake and the loopback Messages API.
 * - A session's bridge frozen with SIGSTOP: DEAF within 10 s, its chat told once, and back delivering
 *   after SIGCONT; frozen for good, the session is restarted and the message waiting is delivered.
 * - With a one-minute idle timeout: a session at a permission prompt is never suspended; an idle one
 *   is, on time.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FakeAnthropic } from '../fakes/anthropic.ts';
import type { FakeTelegram } from '../fakes/telegram.ts';
import { type Sandbox, waitFor } from '../helpers.ts';
import { type RunningProgram, type TelegramWorld, diagnose, startTelegramWorld } from './real-claude.ts';

const OWNER = 123456789;
const IDLE_GROUP = -2001;
const ASKING_GROUP = -2002;
let api: FakeAnthropic;
let tg: FakeTelegram;
let sb: Sandbox;
let serve: RunningProgram;
let watchdog: RunningProgram;

interface Row {
  id: string;
  status: string;
  condition: { state: string; cause: string } | null;
}

async function row(id: number): Promise<Row | undefined> {
  const list = await sb.run('list', '--json');
  return (JSON.parse(list.out) as Row[]).find((r) => r.id === String(id));
}

/** Sends a message and waits for the model's reply in the chat. */
async function roundTrip(chat: number, text: string): Promise<void> {
  const message = tg.userMessage(chat, { fromId: OWNER, text: `${text} please reply` });
  try {
    await waitFor(() => tg.sentTo(chat).includes(`ack ${message.message_id}`), 90_000, `the reply to "${text}" in ${chat}`);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${await diagnose(sb, `tg-${chat}`, String(chat), serve.log)}`);
  }
}

/** The pid of the bridge the router last saw connect for a session (from its log). */
function bridgePid(chat: number): number {
  const line = serve.log.filter((l) => l.includes(`bridge of tg-${chat} connected`)).at(-1);
  return Number(/\(pid (\d+)\)/.exec(line ?? '')?.[1]);
}

let world: TelegramWorld | undefined;

beforeAll(async () => {
  world = await startTelegramWorld({ owner: OWNER, config: ['TELEGRAM_IDLE_TIMEOUT=1', 'TELEGRAM_CLEANUP_INTERVAL=5', 'CLAUDE_PERMISSION_MODE=default'] });
  ({ api, tg, sb, serve } = world);
}, 180_000);

afterAll(() => world?.stop());

describe('a frozen bridge (SIGSTOP)', () => {
  test('DEAF within 10 s, its chat told once, back and delivering after SIGCONT', async () => {
    await roundTrip(OWNER, 'hello');
    // Kept from idle suspension: this test is about liveness.
    expect((await sb.run('pin', String(OWNER))).code).toBe(0);
    const pid = bridgePid(OWNER);
    expect(pid).toBeGreaterThan(0);
    const toldDeaf = () => tg.sentTo(OWNER).filter((t) => t.includes('bridge stopped answering'));

    process.kill(pid, 'SIGSTOP');
    const frozenAt = Date.now();
    await waitFor(async () => (await row(OWNER))?.status === 'DEAF', 15_000, 'DEAF');
    const deafAfter = Date.now() - frozenAt;
    console.log(`bridge frozen → DEAF in ${(deafAfter / 1000).toFixed(1)} s (goal ≤ 10 s)`);
    expect(deafAfter).toBeLessThanOrEqual(10_000);
    await waitFor(() => toldDeaf().length === 1, 10_000, 'the owner told');

    // Written meanwhile: it waits, and arrives once the bridge is back.
    const waiting = tg.userMessage(OWNER, { fromId: OWNER, text: 'while frozen please reply' });
    await Bun.sleep(2000);
    expect(api.channelMessages().has(`${OWNER}/${waiting.message_id}`)).toBe(false);
    process.kill(pid, 'SIGCONT');
    await waitFor(() => tg.sentTo(OWNER).includes(`ack ${waiting.message_id}`), 60_000, 'the waiting message delivered after SIGCONT');
    await waitFor(async () => (await row(OWNER))?.status !== 'DEAF', 10_000, 'DEAF over');
    expect(api.channelMessages().get(`${OWNER}/${waiting.message_id}`)?.count).toBe(1);
    expect(toldDeaf()).toHaveLength(1);
  }, 300_000);

  test('frozen for good: the session is restarted, and the message waiting is delivered once', async () => {
    const pid = bridgePid(OWNER);
    const panePid = (await sb.tmux.listSessions()).get(`tg-${OWNER}`)?.panePid;
    process.kill(pid, 'SIGSTOP');
    await waitFor(async () => (await row(OWNER))?.status === 'DEAF', 15_000, 'DEAF');
    const waiting = tg.userMessage(OWNER, { fromId: OWNER, text: 'still frozen please reply' });
    try {
      await waitFor(() => tg.sentTo(OWNER).includes(`ack ${waiting.message_id}`), 120_000, 'the message delivered by the restarted session');
    } finally {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {}
    }
    expect((await sb.tmux.listSessions()).get(`tg-${OWNER}`)?.panePid).not.toBe(panePid);
    expect(serve.log.some((l) => l.includes('RESTART') && l.includes(`tg-${OWNER}`))).toBe(true);
    expect(api.channelMessages().get(`${OWNER}/${waiting.message_id}`)?.count).toBe(1);
    // The same conversation: the restart resumed it.
    const last = api.turns.filter((r) => r.lastUserText.includes('still frozen')).at(-1)!;
    expect(last.userTexts.some((t) => t.includes('hello please reply'))).toBe(true);
  }, 300_000);
});

describe('idle suspension with a one-minute timeout', () => {
  test('a session at a permission prompt is never suspended; an idle one is, on time', async () => {
    await roundTrip(IDLE_GROUP, 'hello');
    tg.userMessage(ASKING_GROUP, { fromId: OWNER, text: `please run-tool touch ${join(sb.dir, 'never')}` });
    await waitFor(() => tg.messages(ASKING_GROUP).some((m) => JSON.stringify(m.reply_markup ?? {}).includes('perm:allow')), 90_000, 'the permission question');
    await waitFor(async () => (await row(ASKING_GROUP))?.status === 'WAITING', 10_000, 'WAITING');
    watchdog = await world!.start('telegram-session-manager', ['watchdog']);
    const idleDir = join(sb.sessionsDir, String(IDLE_GROUP));
    await waitFor(async () => (await row(IDLE_GROUP))?.status === 'SUSPENDED', 150_000, 'the idle session suspended');
    // On time: its idle time began when its last turn ended (its Stop hook) or its pane last changed.
    const turn = JSON.parse(readFileSync(join(idleDir, '.turn.json'), 'utf8')) as { state: string; since: number };
    expect(turn.state).toBe('idle');
    const suspendedAt = Date.parse(readFileSync(join(idleDir, '.suspended'), 'utf8').trim().split(/\s/)[0]!);
    const late = suspendedAt - (turn.since + 60_000);
    console.log(`idle session suspended ${(late / 1000).toFixed(1)} s after its idle timeout (checks every 5 s here, every 60 s by default)`);
    expect(late).toBeGreaterThanOrEqual(0);
    expect(late).toBeLessThan(30_000);
    // The asking one has waited longer than the timeout by now, and still runs, still asking.
    const askedAt = api.turns.find((r) => r.lastUserText.includes('run-tool touch'))!.at;
    await waitFor(() => Date.now() - askedAt > 75_000, 80_000, 'the asking session past the timeout');
    expect((await row(ASKING_GROUP))?.status).toBe('WAITING');
    expect(await sb.tmux.hasSession(`tg-${ASKING_GROUP}`)).toBe(true);
    // Its log line comes once Claude Code has exited (the mark is written first).
    const suspendedLines = () => watchdog.log.filter((l) => l.includes('SUSPENDED'));
    await waitFor(() => suspendedLines().length > 0, 15_000, 'the watchdog to log the suspension');
    expect(suspendedLines()).toEqual([expect.stringContaining(`tg-${IDLE_GROUP}`)]);
  }, 400_000);
});
