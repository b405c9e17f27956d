/**
 * The real Claude Code CLI as the judge of delivery on Telegram: the compiled router (`serve`) and
 * bridge, a Telegram Bot API fake, and the loopback Messages API, where every message the model
 * received is counted.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { Inbox } from '../../lib/router/inbox.ts';
import type { FakeAnthropic } from '../fakes/anthropic.ts';
import type { FakeTelegram } from '../fakes/telegram.ts';
import { type Sandbox, waitFor } from '../helpers.ts';
import { type RunningProgram, type TelegramWorld, diagnose, startTelegramWorld } from './real-claude.ts';

const OWNER = 123456789;
const WAKES = 20;
let api: FakeAnthropic;
let tg: FakeTelegram;
let sb: Sandbox;
let serve: RunningProgram;

let world: TelegramWorld | undefined;

beforeAll(async () => {
  world = await startTelegramWorld({ owner: OWNER, config: ['TELEGRAM_IDLE_TIMEOUT=0'] });
  ({ api, tg, sb, serve } = world);
}, 180_000);

afterAll(() => world?.stop());

describe('Telegram with the real Claude Code', () => {
  test(`${WAKES} wakes of a session by a message: every message reaches the model exactly once`, async () => {
    const tmuxName = `tg-${OWNER}`;
    const sent: number[] = [];
    for (let i = 1; i <= WAKES; i++) {
      const message = tg.userMessage(OWNER, { fromId: OWNER, text: `wake ${i}: please reply` });
      sent.push(message.message_id);
      try {
        // The model got it, and answered through the bridge's reply tool.
        await waitFor(() => api.channelMessages().has(`${OWNER}/${message.message_id}`), 60_000, `message ${i} at the model`);
        await waitFor(() => tg.sentTo(OWNER).includes(`ack ${message.message_id}`), 30_000, `the reply to message ${i}`);
      } catch (error) {
        throw new Error(`${(error as Error).message}\n${await diagnose(sb, tmuxName, String(OWNER), serve.log)}`);
      }
      // Stop the session like the owner does; the next message wakes it.
      tg.command(OWNER, OWNER, '/kill');
      await waitFor(async () => !(await sb.tmux.listSessions()).has(tmuxName), 20_000, `${tmuxName} stopped`);
    }
    const seen = api.channelMessages();
    const counts = sent.map((id) => seen.get(`${OWNER}/${id}`)?.count ?? 0);
    expect(counts).toEqual(sent.map(() => 1));
    expect(seen.size).toBe(WAKES);
    expect(new Inbox(join(sb.sessionsDir, String(OWNER), 'inbox')).list()).toEqual([]);
    // One conversation throughout: the last turn still carries the first message.
    const last = api.turns.filter((r) => r.lastUserText.includes(`wake ${WAKES}:`)).at(-1)!;
    expect(last.userTexts.some((t) => t.includes('wake 1: please reply'))).toBe(true);
  }, 600_000);
});
