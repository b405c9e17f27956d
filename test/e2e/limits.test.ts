/**
 * A usage limit for the whole fleet with the REAL Claude Code, logged in as a subscription account (the
 * CLI then shows `resets 9:50am (UTC)` and its /rate-limit-options dialog): the compiled Telegram router
 * and watchdog, a Telegram Bot API fake and the loopback Messages API, which answers every turn with the
 * five-hour limit's 429 from a moment on until its reset.
 * - Three sessions hit the limit: all three LIMITED with the right reset, ONE message to the owner.
 * - Messages written meanwhile wait: the model gets none before the reset, each exactly once after.
 * - At the reset each failed turn is continued exactly once.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { CONTINUE_AFTER_RESET_MS, CONTINUE_TEXT } from '../../lib/router/limits.ts';
import { type FakeAnthropic, type ModelRequest, parseChannelTags, usageLimitTurn } from '../fakes/anthropic.ts';
import type { FakeTelegram } from '../fakes/telegram.ts';
import { type Sandbox, waitFor } from '../helpers.ts';
import { type RunningProgram, type TelegramWorld, diagnose, startTelegramWorld } from './real-claude.ts';

const OWNER = 123456789;
const GROUPS = [-3001, -3002, -3003];
let api: FakeAnthropic;
let tg: FakeTelegram;
let sb: Sandbox;
let serve: RunningProgram;
let watchdog: RunningProgram;
/** While set (epoch seconds), every conversation turn gets the limit's 429 until then. */
let limitedUntil: number | undefined;

interface Row {
  id: string;
  status: string;
  condition: { state: string; until?: number; cause: string } | null;
}

async function rows(): Promise<Row[]> {
  return JSON.parse((await sb.run('list', '--json')).out) as Row[];
}

/** The chat a conversation turn belongs to: the chat_id of the channel messages in its history. */
function chatOf(request: ModelRequest): string | undefined {
  return request.userTexts.flatMap((t) => parseChannelTags(t)).at(-1)?.chat_id;
}

/** Turns that carry our continuation line as their newest user text, per chat. */
function continuations(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const request of api.turns) {
    if (!request.lastUserText.includes(CONTINUE_TEXT)) continue;
    const chat = chatOf(request) ?? '?';
    counts.set(chat, (counts.get(chat) ?? 0) + 1);
  }
  return counts;
}

let world: TelegramWorld | undefined;

beforeAll(async () => {
  world = await startTelegramWorld({
    owner: OWNER,
    config: ['TELEGRAM_IDLE_TIMEOUT=0'],
    // Logged in as a subscription account: the CLI shows the reset time and its limit dialog.
    claude: { oauth: true },
    anthropic: {
      script(request) {
        if (!request.isTurn || limitedUntil === undefined || Date.now() >= limitedUntil * 1000) return undefined;
        return usageLimitTurn(limitedUntil);
      },
    },
  });
  ({ api, tg, sb, serve } = world);
  watchdog = await world.start('telegram-session-manager', ['watchdog']);
}, 180_000);

afterAll(() => world?.stop());

describe('a usage limit across three sessions', () => {
  test('all LIMITED with the reset, one owner message, queued messages delivered once after the reset, each failed turn continued once', async () => {
    const diagnoseAll = async (error: unknown) => {
      const panes = await Promise.all(GROUPS.map((chat) => diagnose(sb, `tg-${chat}`, String(chat), [])));
      return new Error(`${(error as Error).message}\n${panes.join('\n')}\n--- serve\n${serve.log.join('\n')}\n--- watchdog\n${watchdog.log.join('\n')}`);
    };
    try {
      // Three working sessions.
      const first = GROUPS.map((chat) => tg.userMessage(chat, { fromId: OWNER, text: 'hello please reply' }));
      await waitFor(() => first.every((m) => tg.sentTo(m.chat.id).includes(`ack ${m.message_id}`)), 120_000, 'the three sessions answering');
      // Their turns over (the Stop hook ran), so the limit falls on the next message's turn.
      await waitFor(async () => (await rows()).filter((r) => GROUPS.includes(Number(r.id)) && r.status === 'UP').length === 3, 30_000, 'the three sessions idle');

      // The account hits its five-hour limit: it resets at the top of a minute at least 75 s away
      // (the CLI shows the time to the minute).
      limitedUntil = Math.ceil((Date.now() + 75_000) / 60_000) * 60;
      const failing = GROUPS.map((chat) => tg.userMessage(chat, { fromId: OWNER, text: 'work on this please reply' }));
      await waitFor(async () => (await rows()).filter((r) => GROUPS.includes(Number(r.id)) && r.status === 'LIMITED').length === 3, 60_000, 'all three LIMITED');
      const limitedAt = Date.now();
      for (const row of (await rows()).filter((r) => GROUPS.includes(Number(r.id)))) {
        expect(row.condition).toMatchObject({ state: 'LIMITED', until: limitedUntil * 1000 });
      }

      // Written while limited: they wait.
      const queued = GROUPS.map((chat) => tg.userMessage(chat, { fromId: OWNER, text: 'meanwhile please reply' }));
      const toldOwner = () => tg.sentTo(OWNER).filter((t) => t.includes('paused by a usage limit'));
      await waitFor(() => toldOwner().length === 1, 30_000, 'the owner told');
      const notice = toldOwner()[0]!;
      expect(notice).toContain('3 sessions paused by a usage limit until');
      expect(notice).toContain(new Date(limitedUntil * 1000).toISOString().slice(11, 16));

      const resetAt = limitedUntil * 1000;
      await waitFor(() => Date.now() >= resetAt, 150_000, 'the reset');
      for (const m of queued) expect(api.channelMessages().has(`${m.chat.id}/${m.message_id}`)).toBe(false);

      // After the reset: each session continued once, and what waited delivered once.
      await waitFor(() => queued.every((m) => tg.sentTo(m.chat.id).includes(`ack ${m.message_id}`)), CONTINUE_AFTER_RESET_MS + 90_000, 'the queued messages answered');
      const continuedAt = Math.min(...api.turns.filter((r) => r.lastUserText.includes(CONTINUE_TEXT)).map((r) => r.at));
      for (const m of queued) expect(api.channelMessages().get(`${m.chat.id}/${m.message_id}`)?.count).toBe(1);
      for (const m of queued) expect(api.channelMessages().get(`${m.chat.id}/${m.message_id}`)!.attributes.body).toContain('meanwhile');
      await waitFor(async () => (await rows()).every((r) => r.status !== 'LIMITED'), 30_000, 'LIMITED over');
      // A later sweep types nothing more.
      await Bun.sleep(12_000);
      expect(Object.fromEntries(continuations())).toEqual(Object.fromEntries(GROUPS.map((chat) => [String(chat), 1])));
      expect(toldOwner()).toHaveLength(1);
      // No chat was told about the limit on its own: the owner's one message says it all.
      for (const chat of GROUPS) expect(tg.sentTo(chat).filter((t) => /limit/i.test(t))).toEqual([]);
      // The failed message reached the model in the turn the limit stopped; the continuation carries it again.
      const carrying = (m: (typeof failing)[number]) => api.turns.filter((r) => r.lastUserText.includes(`message_id="${m.message_id}"`) && chatOf(r) === String(m.chat.id));
      for (const m of failing) expect(carrying(m).filter((r) => !r.lastUserText.includes(CONTINUE_TEXT))).toHaveLength(1);
      for (const m of failing) expect(tg.sentTo(m.chat.id)).toContain(`ack ${m.message_id}`);
      const failedRequests = failing.map((m) => `${carrying(m).length} (${carrying(m).filter((r) => r.lastUserText.includes(CONTINUE_TEXT)).length} with the continuation)`);
      console.log(
        [
          `limit hit → all 3 LIMITED in ${((limitedAt - Math.min(...failing.map((m) => m.date * 1000))) / 1000).toFixed(1)} s`,
          `owner messages: ${toldOwner().length}`,
          `first continuation ${((continuedAt - resetAt) / 1000).toFixed(1)} s after the reset (waits ${CONTINUE_AFTER_RESET_MS / 1000} s)`,
          `continuations per session: ${[...continuations().values()].join(', ')}`,
          `requests carrying each failed message as newest: ${failedRequests.join(', ')}`,
        ].join('\n'),
      );
    } catch (error) {
      throw await diagnoseAll(error);
    }
  }, 600_000);
});
