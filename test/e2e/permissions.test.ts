/**
 * Approvals from the phone with the REAL Claude Code in default permission mode: the model (the
 * loopback Messages API) asks for a Bash call that creates a marker file; the question reaches the
 * chat fake with its buttons; the owner's Allow runs it, Deny does not, a stranger's click does
 * nothing, Always allow lets the next call run without asking. Through Claude Code's channel relay
 * (the account's switch on) and through our PermissionRequest hook (switch off), on Telegram and on
 * Discord, with the compiled routers and bridges.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TELEGRAM } from '../../lib/core/config/platform.ts';
import { FakeAnthropic } from '../fakes/anthropic.ts';
import { FakeDiscord } from '../fakes/discord.ts';
import { FakeTelegram } from '../fakes/telegram.ts';
import { OWNER_ID, Sandbox, waitFor } from '../helpers.ts';
import { type RunningProgram, diagnose, prepareClaudeConfig, realClaudeEnv, startProgram } from './real-claude.ts';

const TG_OWNER = 123456789;
const STRANGER_ID = '1999999999999999999';
/** Request → button on the fake, ms, over every question asked. */
const latencies: number[] = [];
const cleanups: Array<() => Promise<void>> = [];

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  const sorted = [...latencies].sort((a, b) => a - b);
  if (sorted.length) console.log(`permission request → buttons on the fake: median ${sorted[Math.floor(sorted.length / 2)]} ms, max ${sorted.at(-1)} ms over ${sorted.length} (goal ≤ 1000 ms median)`);
});

/** A question on the platform: its request id (from the buttons), and how to press them. */
interface Question {
  requestId: string;
  press(action: 'allow' | 'deny' | 'always', asStranger?: boolean): Promise<void>;
  /** Its message's text now (to see it settled). */
  text(): string;
}

/** One platform driven as the owner would: a message to the session, the questions that come back. */
interface World {
  sb: Sandbox;
  id: string;
  program: RunningProgram;
  say(text: string): void;
  /** Questions posted so far (messages with our buttons). */
  questions(): Question[];
  /** Every text the bot posted in the session's chat. */
  posts(): string[];
}

async function telegramWorld(api: FakeAnthropic, relay: boolean): Promise<World> {
  const tg = new FakeTelegram().start();
  const sb = new Sandbox({
    platform: TELEGRAM,
    token: tg.token,
    env: { TELEGRAM_API_URL: tg.url, ...(await realClaudeEnv()) },
    config: `TELEGRAM_ALLOWED_USER_ID="${TG_OWNER}"\nTELEGRAM_SESSION_WORKDIR="$HOME/work"\nTELEGRAM_IDLE_TIMEOUT=0\nCLAUDE_PERMISSION_MODE=default\n`,
  });
  prepareClaudeConfig(sb.root, { apiUrl: api.url, trusted: [join(sb.home, 'work')], features: { tengu_harbor: true, tengu_harbor_permissions: relay } });
  const program = await startProgram('telegram-session-manager', ['serve'], sb.env);
  cleanups.push(async () => {
    await program.stop();
    await sb.cleanup();
    await tg.stop();
  });
  await waitFor(() => tg.polling, 30_000, 'the Telegram router');
  // A question keeps its place once seen: settling removes its buttons.
  const seen = new Map<number, string>();
  const withButtons = () => {
    for (const m of tg.messages(TG_OWNER)) {
      const id = /perm:\w+:([a-z]{5})/.exec(JSON.stringify(m.reply_markup ?? {}))?.[1];
      if (id && !seen.has(m.message_id)) seen.set(m.message_id, id);
    }
    return [...seen];
  };
  return {
    sb,
    id: String(TG_OWNER),
    program,
    say: (text) => void tg.userMessage(TG_OWNER, { fromId: TG_OWNER, text }),
    questions: () =>
      withButtons().map(([messageId, requestId]) => ({
        requestId,
        press: async (action, asStranger = false) => {
          const query = tg.pressButton(TG_OWNER, messageId, `perm:${action}:${requestId}`, { fromId: asStranger ? 555 : TG_OWNER });
          await waitFor(() => tg.callbackAnswer(query) !== undefined, 10_000, 'the answer to the press');
        },
        text: () => tg.messages(TG_OWNER).find((m) => m.message_id === messageId)?.text ?? '',
      })),
    posts: () => tg.sentTo(TG_OWNER),
  };
}

async function discordWorld(api: FakeAnthropic, relay: boolean): Promise<World> {
  const discord = new FakeDiscord().start();
  const channel = discord.addChannel('general');
  const sb = new Sandbox({
    token: discord.token,
    env: { DISCORD_API_URL: discord.url, ...(await realClaudeEnv()) },
    config: [`DISCORD_ALLOWED_USER_ID="${OWNER_ID}"`, `DISCORD_GUILD_ID="${discord.guildId}"`, 'DISCORD_SESSION_WORKDIR="$HOME/work"', 'DISCORD_IDLE_TIMEOUT=0', 'CLAUDE_PERMISSION_MODE=default'].join('\n'),
  });
  prepareClaudeConfig(sb.root, { apiUrl: api.url, trusted: [join(sb.home, 'work')], features: { tengu_harbor: true, tengu_harbor_permissions: relay } });
  const program = await startProgram('discord-slash-daemon', [], sb.env);
  cleanups.push(async () => {
    await program.stop();
    await sb.cleanup();
    await discord.stop();
  });
  await waitFor(() => program.log.some((l) => l.includes('Slash daemon connected')), 30_000, 'the slash daemon');
  const posted = () => discord.messages.get(channel.id) ?? [];
  // A question keeps its place once seen: settling removes its buttons.
  const seen = new Map<string, string>();
  const withButtons = () => {
    for (const m of posted()) {
      const id = /perm:allow:\d+:([a-z]{5})/.exec(JSON.stringify(m.components ?? []))?.[1];
      if (id && !seen.has(m.id)) seen.set(m.id, id);
    }
    return [...seen];
  };
  return {
    sb,
    id: channel.id,
    program,
    say: (text) => void discord.messageEvent(channel.id, { authorId: OWNER_ID, username: 'owner', content: text }),
    questions: () =>
      withButtons().map(([messageId, requestId]) => ({
        requestId,
        press: async (action, asStranger = false) => {
          const user = asStranger ? { id: STRANGER_ID, username: 'mallory' } : { id: OWNER_ID, username: 'owner' };
          await discord.componentInteraction({ channelId: channel.id, messageId, customId: `perm:${action}:${channel.id}:${requestId}`, user }).waitForReply();
        },
        text: () => posted().find((m) => m.id === messageId)?.content ?? '',
      })),
    posts: () => posted().filter((m) => m.author.id === discord.botUser.id).map((m) => m.content),
  };
}

/** Asks the model for a Bash call creating `marker`, and waits for its question; returns it. */
async function askTool(world: World, api: FakeAnthropic, marker: string, questionsBefore: number): Promise<Question> {
  const sentAt = Date.now();
  world.say(`please run-tool touch ${marker}`);
  try {
    await waitFor(() => world.questions().length > questionsBefore, 90_000, `the question for ${marker}`);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${await diagnose(world.sb, `${world.sb.platform.prefix}-${world.id}`, world.id, world.program.log)}`);
  }
  // Latency from the model's tool call (the request Claude Code answered with it) to the question.
  const toolCall = api.turns.filter((r) => r.lastUserText.includes(`run-tool touch ${marker}`)).at(-1);
  latencies.push(Date.now() - Math.max(sentAt, toolCall?.at ?? sentAt));
  return world.questions().at(-1)!;
}

/** Waits until the turn of a tool call ended (the model received the tool's result or its refusal). */
async function turnEnded(api: FakeAnthropic, marker: string): Promise<string> {
  const toolUse = () => api.turns.find((r) => r.body.messages?.some((m) => JSON.stringify(m.content).includes(`touch ${marker}`) && m.role === 'assistant'));
  await waitFor(() => toolUse() !== undefined, 60_000, `the tool result for ${marker}`);
  return toolUse()!.lastUserText;
}

for (const platform of ['telegram', 'discord'] as const) {
  for (const relay of [true, false]) {
    describe(`${platform}, ${relay ? "Claude Code's channel relay" : 'relay off: our PermissionRequest hook'}`, () => {
      test('Allow runs the tool, Deny does not, a stranger changes nothing, Always allow lets the next call run unasked', async () => {
        const api = await FakeAnthropic.start();
        cleanups.push(async () => api.stop());
        const world = platform === 'telegram' ? await telegramWorld(api, relay) : await discordWorld(api, relay);
        const marker = (name: string) => join(world.sb.dir, name);

        // Allow.
        const allow = await askTool(world, api, marker('allowed'), 0);
        expect(existsSync(marker('allowed'))).toBe(false);
        await allow.press('allow');
        await waitFor(() => existsSync(marker('allowed')), 30_000, 'the allowed tool to run');
        await waitFor(() => /Allowed by/.test(allow.text()), 10_000, 'the message to show the decision');
        await turnEnded(api, marker('allowed'));

        // Deny.
        const deny = await askTool(world, api, marker('denied'), 1);
        await deny.press('deny');
        const refusal = await turnEnded(api, marker('denied'));
        expect(existsSync(marker('denied'))).toBe(false);
        expect(refusal.length).toBeGreaterThan(0);
        await waitFor(() => /Denied by/.test(deny.text()), 10_000, 'the message to show the denial');

        // A stranger's click: nothing happens; the owner's then does.
        const strangers = await askTool(world, api, marker('strangers'), 2);
        await strangers.press('allow', true);
        await Bun.sleep(1500);
        expect(existsSync(marker('strangers'))).toBe(false);
        expect(strangers.text()).not.toMatch(/Allowed by|Denied by/);
        expect(world.program.log.some((l) => l.includes('REFUSED'))).toBe(true);
        await strangers.press('allow');
        await waitFor(() => existsSync(marker('strangers')), 30_000, "the owner's allow after the stranger's");
        await turnEnded(api, marker('strangers'));

        // Answered in the terminal first (only the relay leaves the terminal its own question): the message says so.
        let asked = 3;
        if (relay) {
          const terminal = await askTool(world, api, marker('terminal'), asked++);
          await world.sb.tmux.sendKeys(`${world.sb.platform.prefix}-${world.id}`, ['1']);
          await waitFor(() => existsSync(marker('terminal')), 30_000, 'the tool allowed in the terminal to run');
          await waitFor(() => /Answered in the terminal/.test(terminal.text()), 10_000, 'the message to say it was answered in the terminal');
          await turnEnded(api, marker('terminal'));
        }

        // Always allow: this one runs, and the next one runs without a question.
        const always = await askTool(world, api, marker('always-1'), asked);
        await always.press('always');
        await waitFor(() => existsSync(marker('always-1')), 30_000, 'the always-allowed tool to run');
        await turnEnded(api, marker('always-1'));
        world.say(`please run-tool touch ${marker('always-2')}`);
        await waitFor(() => existsSync(marker('always-2')), 60_000, 'the second call to run unasked');
        expect(world.questions()).toHaveLength(asked + 1);
        // Each question was asked once, with its buttons, not also as "waiting for you".
        expect(world.posts().filter((t) => t.includes('is waiting for you'))).toEqual([]);
      }, 300_000);
    });
  }
}
