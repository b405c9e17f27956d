/**
 * The real Claude Code as the judge of "the conversation is kept": a Telegram chat session (compiled
 * router and bridge) is moved to three other workdirs with `/workdir` and then to a profile with its
 * own CLAUDE_CONFIG_DIR with `/profile`; after each move the model's request for the next message
 * must still carry every earlier message, under the same conversation id. A last `/fresh` checks our
 * transcript slug rule against where the real CLI writes a new conversation in an odd-named folder.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAppContext } from '../../lib/app.ts';
import { TELEGRAM } from '../../lib/core/config/platform.ts';
import { expectedTranscript } from '../../lib/core/host/transcript.ts';
import type { FakeAnthropic } from '../fakes/anthropic.ts';
import type { FakeTelegram } from '../fakes/telegram.ts';
import { type Sandbox, waitFor } from '../helpers.ts';
import { type RunningProgram, type TelegramWorld, diagnose, prepareClaudeConfig, startTelegramWorld, trustFolder } from './real-claude.ts';

const OWNER = 123456789;
const CHAT = String(OWNER);
const TMUX = `tg-${OWNER}`;
let api: FakeAnthropic;
let tg: FakeTelegram;
let sb: Sandbox;
let serve: RunningProgram;
/** The config dir of the `other` profile. */
let otherConfig: string;
/** The workdirs the session is moved to, in order; the last has a dot, a space and an underscore. */
let moves: string[];

let world: TelegramWorld | undefined;

beforeAll(async () => {
  world = await startTelegramWorld({
    owner: OWNER,
    config: ['TELEGRAM_IDLE_TIMEOUT=0'],
    prepare({ api, sb }) {
      moves = ['alpha', 'beta', 'odd.name dir_3'].map((name) => join(sb.home, name));
      for (const dir of moves) mkdirSync(dir);
      const trusted = [join(sb.home, 'work'), ...moves];
      for (const dir of moves) trustFolder(sb.root, dir);
      otherConfig = join(sb.dir, 'other-claude');
      prepareClaudeConfig(otherConfig, { apiUrl: api.url, trusted });
      sb.write('telegram-sessions/profiles.env', `[other]\nCLAUDE_CONFIG_DIR=${otherConfig}\n`);
    },
  });
  ({ api, tg, sb, serve } = world);
}, 180_000);

afterAll(() => world?.stop());

/** Every `<id>.jsonl` under any project folder of the given config dirs. */
function transcriptsOf(id: string, configDirs: string[]): string[] {
  return configDirs.flatMap((dir) => {
    let slugs: string[];
    try {
      slugs = readdirSync(join(dir, 'projects'));
    } catch {
      return [];
    }
    return slugs.flatMap((slug) => readdirSync(join(dir, 'projects', slug)).filter((f) => f === `${id}.jsonl`).map((f) => join(dir, 'projects', slug, f)));
  });
}

/** Fails with what the pane, the state dir and the router showed. */
async function explained<T>(what: Promise<T>): Promise<T> {
  try {
    return await what;
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${await diagnose(sb, TMUX, CHAT, serve.log)}`);
  }
}

/** Sends a message that asks for a reply; resolves with the model's request that carried it. */
async function converse(text: string) {
  const message = tg.userMessage(OWNER, { fromId: OWNER, text: `${text}: please reply` });
  await explained(waitFor(() => tg.sentTo(OWNER).includes(`ack ${message.message_id}`), 60_000, `the reply to "${text}"`));
  return api.turns.find((r) => r.lastUserText.includes(`${text}: please reply`))!;
}

/** Sends an owner command; resolves with the router's answer. */
async function command(text: string, answer: string): Promise<string> {
  const before = tg.sentTo(OWNER).length;
  tg.command(OWNER, OWNER, text);
  let reply = '';
  await explained(
    waitFor(() => {
      reply = tg.sentTo(OWNER).slice(before).find((t) => t.startsWith(answer) || t.startsWith('⚠️')) ?? '';
      return reply !== '';
    }, 30_000, `the answer to ${text}`),
  );
  return reply;
}

async function row() {
  return (await createAppContext(TELEGRAM, sb.env).manager.list()).find((r) => r.id === CHAT)!;
}

/** The session runs in conversation `sessionId` and never died or had to start a new conversation. */
async function expectSteady(sessionId: string, more: Record<string, unknown> = {}): Promise<void> {
  // Its turn's Stop hook runs a moment after the answer: BUSY until then.
  await waitFor(async () => (await row()).status !== 'BUSY', 10_000, 'the turn to end');
  expect(await row()).toMatchObject({ status: 'UP', sessionId, lastExit: null, newConversation: null, crash: { quickDeaths: 0, backoffUntil: 0 }, ...more });
}

describe('a Telegram session moved around with the real Claude Code', () => {
  test('three workdir changes and a profile with its own config dir keep the conversation', async () => {
    const said = ['first'];
    const first = await converse('first');
    expect(first.userTexts.filter((t) => t.includes('please reply'))).toHaveLength(1);
    const sessionId = readFileSync(join(sb.sessionsDir, CHAT, '.session-id'), 'utf8').trim();
    // Claude Code writes its transcript a moment after the turn.
    await waitFor(() => transcriptsOf(sessionId, [sb.root]).length > 0, 10_000, 'the transcript');
    const [transcript] = transcriptsOf(sessionId, [sb.root]);
    // Where our slug rule says a new conversation in $HOME/work lands is where the real CLI put it.
    expect(transcript).toBe(expectedTranscript(sb.root, join(sb.home, 'work'), sessionId));

    for (const [i, dir] of moves.entries()) {
      const reply = await command(`/workdir ${dir}`, 'workdir →');
      expect(reply).toContain(`workdir=${dir}`);
      expect(reply).toContain('(resumed)');
      const text = `after move ${i + 1}`;
      const request = await converse(text);
      for (const earlier of said) expect(request.userTexts.some((t) => t.includes(`${earlier}: please reply`))).toBe(true);
      said.push(text);
      await expectSteady(sessionId, { workdir: dir });
      // The conversation stays in the file it started in, whatever the cwd.
      expect(transcriptsOf(sessionId, [sb.root, otherConfig])).toEqual([transcript!]);
    }

    const reply = await command('/profile other', 'profile →');
    expect(reply).toContain('profile=other');
    expect(reply).toContain('(resumed)');
    const name = (sb.registry()[CHAT] as { name: string }).name;
    expect(JSON.parse(sb.read('telegram-sessions/channel-profiles.json'))).toEqual({ [name]: 'other' });
    const request = await converse('in the other profile');
    for (const earlier of said) expect(request.userTexts.some((t) => t.includes(`${earlier}: please reply`))).toBe(true);
    await expectSteady(sessionId, { profile: 'other', workdir: moves.at(-1) });

    // A resumed conversation goes on in the file it started in, even under another config dir.
    await waitFor(() => readFileSync(transcript!, 'utf8').includes('in the other profile: please reply'), 10_000, 'the last turn in the transcript');
    expect(transcriptsOf(sessionId, [sb.root, otherConfig])).toEqual([transcript!]);


    // A new conversation in the odd-named folder lands where our slug rule says, in the profile's config dir.
    const fresh = await command('/fresh', 'FRESH');
    expect(fresh).toContain('(new conversation)');
    const newId = readFileSync(join(sb.sessionsDir, CHAT, '.session-id'), 'utf8').trim();
    expect(newId).not.toBe(sessionId);
    const alone = await converse('fresh start');
    expect(alone.userTexts.some((t) => t.includes('first: please reply'))).toBe(false);
    await waitFor(() => transcriptsOf(newId, [sb.root, otherConfig]).length > 0, 10_000, 'the new transcript');
    expect(transcriptsOf(newId, [sb.root, otherConfig])).toEqual([expectedTranscript(otherConfig, moves.at(-1)!, newId)]);

    // Every message reached the model once as the newest turn; nothing crashed or stalled.
    expect([...api.channelMessages().values()].map((m) => m.count)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(serve.log.join('\n')).not.toMatch(/CRASHLOOP|did not take message/);
    expect((await row()).lastExit).toBeNull();
  }, 240_000);
});
