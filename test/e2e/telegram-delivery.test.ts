/**
 * The real Claude Code CLI as the judge of delivery on Telegram: the compiled router (`serve`) and
 * bridge, a Telegram Bot API fake, and the loopback Messages API, where every message the model
 * received is counted.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { Inbox } from '../../lib/router/inbox.ts';
import { TELEGRAM } from '../../lib/core/config/platform.ts';
import { FakeAnthropic } from '../fakes/anthropic.ts';
import { FakeTelegram } from '../fakes/telegram.ts';
import { Sandbox, waitFor } from '../helpers.ts';
import { type RunningProgram, diagnose, prepareClaudeConfig, realClaudeEnv, rootConfigLines, startProgram } from './real-claude.ts';

const OWNER = 123456789;
const WAKES = 20;
let api: FakeAnthropic;
let tg: FakeTelegram;
let sb: Sandbox;
let serve: RunningProgram;

beforeAll(async () => {
  api = await FakeAnthropic.start();
  tg = new FakeTelegram().start();
  sb = new Sandbox({
    platform: TELEGRAM,
    token: tg.token,
    env: { TELEGRAM_API_URL: tg.url, ...(await realClaudeEnv()) },
    config: `TELEGRAM_ALLOWED_USER_ID="${OWNER}"\nTELEGRAM_SESSION_WORKDIR="$HOME/work"\nTELEGRAM_IDLE_TIMEOUT=0\n${rootConfigLines()}`,
  });
  prepareClaudeConfig(sb.root, { apiUrl: api.url, trusted: [join(sb.home, 'work')] });
  serve = await startProgram('telegram-session-manager', ['serve'], sb.env);
  await waitFor(() => tg.polling, 20_000, 'the router polling');
}, 180_000);

afterAll(async () => {
  await serve?.stop();
  await sb?.cleanup();
  api?.stop();
  await tg?.stop();
});

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
