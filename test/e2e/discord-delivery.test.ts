/**
 * The real Claude Code CLI as the judge of delivery on Discord: the compiled slash daemon (the one
 * gateway connection, routing every message) and bridge, the Discord fake, and the loopback Messages
 * API, where every message the model received is counted.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { ApplicationCommandOptionType as Opt, type APIApplicationCommandInteractionDataOption } from 'discord.js';
import { Inbox } from '../../lib/router/inbox.ts';
import { FakeAnthropic } from '../fakes/anthropic.ts';
import { FakeDiscord, type FakeChannel } from '../fakes/discord.ts';
import { OWNER_ID, Sandbox, waitFor } from '../helpers.ts';
import { type RunningProgram, diagnose, prepareClaudeConfig, realClaudeEnv, rootConfigLines, startProgram } from './real-claude.ts';

const WAKES = 20;
let api: FakeAnthropic;
let discord: FakeDiscord;
let sb: Sandbox;
let slash: RunningProgram;
let channel: FakeChannel;

beforeAll(async () => {
  api = await FakeAnthropic.start();
  discord = new FakeDiscord().start();
  channel = discord.addChannel('general');
  sb = new Sandbox({
    token: discord.token,
    env: { DISCORD_API_URL: discord.url, ...(await realClaudeEnv()) },
    config: [`DISCORD_ALLOWED_USER_ID="${OWNER_ID}"`, `DISCORD_GUILD_ID="${discord.guildId}"`, 'DISCORD_SESSION_WORKDIR="$HOME/work"', 'DISCORD_IDLE_TIMEOUT=0', rootConfigLines()].join('\n'),
  });
  prepareClaudeConfig(sb.root, { apiUrl: api.url, trusted: [join(sb.home, 'work')] });
  slash = await startProgram('discord-slash-daemon', [], sb.env);
  await waitFor(() => slash.log.some((l) => l.includes('Slash daemon connected')), 30_000, 'the slash daemon');
}, 180_000);

afterAll(async () => {
  await slash?.stop();
  await sb?.cleanup();
  api?.stop();
  await discord?.stop();
});

/** The bot's messages in the channel (the model answers through the bridge's reply tool). */
function botTexts(): string[] {
  return (discord.messages.get(channel.id) ?? []).filter((m) => m.author.id === discord.botUser.id).map((m) => m.content);
}

describe('Discord with the real Claude Code', () => {
  test(`${WAKES} wakes of a channel's session by a message: every message reaches the model exactly once`, async () => {
    const tmuxName = `dc-${channel.id}`;
    const sent: string[] = [];
    for (let i = 1; i <= WAKES; i++) {
      const message = discord.messageEvent(channel.id, { authorId: OWNER_ID, username: 'owner', content: `wake ${i}: please reply` });
      sent.push(message.id);
      try {
        await waitFor(() => api.channelMessages().has(`${channel.id}/${message.id}`), 60_000, `message ${i} at the model`);
        await waitFor(() => botTexts().includes(`ack ${message.id}`), 30_000, `the reply to message ${i}`);
      } catch (error) {
        throw new Error(`${(error as Error).message}\n${await diagnose(sb, tmuxName, channel.id, slash.log)}`);
      }
      // The owner stops the session; the next message wakes it.
      const kill = discord.interaction({ name: 'session', channelId: channel.id, options: [{ type: Opt.Subcommand, name: 'kill', options: [] } as APIApplicationCommandInteractionDataOption] });
      await kill.waitForReply();
      await waitFor(async () => !(await sb.tmux.listSessions()).has(tmuxName), 20_000, `${tmuxName} stopped`);
    }
    const seen = api.channelMessages();
    expect(sent.map((id) => seen.get(`${channel.id}/${id}`)?.count ?? 0)).toEqual(sent.map(() => 1));
    expect(seen.size).toBe(WAKES);
    expect(new Inbox(join(sb.sessionsDir, channel.id, 'inbox')).list()).toEqual([]);
    // One conversation throughout, and one gateway connection for all of it.
    const last = api.turns.filter((r) => r.lastUserText.includes(`wake ${WAKES}:`)).at(-1)!;
    expect(last.userTexts.some((t) => t.includes('wake 1: please reply'))).toBe(true);
    expect(discord.identifies).toHaveLength(1);
  }, 600_000);
});
