#!/usr/bin/env bun
/**
 * Message → model latency with the REAL Claude Code, printed beside its goal; nothing is asserted.
 *   (g) an owner's message appears on the platform fake → the loopback Messages API receives the model
 *       request carrying it, for a session that is UP (its bridge connected), one message at a time,
 *       each after the previous turn ended. Through the compiled router and bridge.
 * Private tmux socket, temp dirs, fakes on loopback, the pinned Claude Code (installed into the cache
 * when missing, see scripts/claude-code.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TELEGRAM } from '../lib/core/config/platform.ts';
import { FakeAnthropic, parseChannelTags } from '../test/fakes/anthropic.ts';
import { FakeDiscord } from '../test/fakes/discord.ts';
import { FakeTelegram } from '../test/fakes/telegram.ts';
import { OWNER_ID, Sandbox, waitFor } from '../test/helpers.ts';
import { prepareClaudeConfig, realClaudeEnv, rootConfigLines, startProgram } from '../test/e2e/real-claude.ts';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 20);
const GOAL_MS = 1000;

const percentile = (samples: number[], p: number) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
};

async function telegramLatency(): Promise<number[]> {
  const OWNER = 123456789;
  const api = await FakeAnthropic.start();
  const tg = new FakeTelegram().start();
  const sb = new Sandbox({
    platform: TELEGRAM,
    token: tg.token,
    env: { TELEGRAM_API_URL: tg.url, ...(await realClaudeEnv()) },
    config: `TELEGRAM_ALLOWED_USER_ID="${OWNER}"\nTELEGRAM_SESSION_WORKDIR="$HOME/work"\nTELEGRAM_IDLE_TIMEOUT=0\n${rootConfigLines()}`,
  });
  prepareClaudeConfig(sb.root, { apiUrl: api.url, trusted: [join(sb.home, 'work')] });
  const serve = await startProgram('telegram-session-manager', ['serve'], sb.env);
  const samples: number[] = [];
  try {
    await waitFor(() => tg.polling, 30_000, 'the router polling');
    // The first message starts the session; it is not a sample (the session is not UP yet).
    const first = tg.userMessage(OWNER, { fromId: OWNER, text: 'warm up, please reply' });
    await waitFor(() => tg.sentTo(OWNER).includes(`ack ${first.message_id}`), 60_000, 'the first reply');
    for (let i = 0; i < MESSAGES; i++) {
      const sentAt = Date.now();
      const message = tg.userMessage(OWNER, { fromId: OWNER, text: `latency ${i}, please reply` });
      const request = await api.waitFor((r) => r.isTurn && parseChannelTags(r.lastUserText).some((t) => t.message_id === String(message.message_id)), 30_000);
      samples.push(request.at - sentAt);
      await waitFor(() => tg.sentTo(OWNER).includes(`ack ${message.message_id}`), 30_000, `the reply to ${i}`);
      await waitFor(() => api.requests.filter((r) => r.isTurn).at(-1)?.lastUserText.includes('sent (') ?? false, 30_000, `the end of turn ${i}`);
    }
  } finally {
    await serve.stop();
    await sb.cleanup();
    api.stop();
    await tg.stop();
  }
  return samples;
}

async function discordLatency(): Promise<number[]> {
  const api = await FakeAnthropic.start();
  const discord = new FakeDiscord().start();
  const channel = discord.addChannel('bench');
  const sb = new Sandbox({
    token: discord.token,
    env: { DISCORD_API_URL: discord.url, ...(await realClaudeEnv()) },
    config: [`DISCORD_ALLOWED_USER_ID="${OWNER_ID}"`, `DISCORD_GUILD_ID="${discord.guildId}"`, 'DISCORD_SESSION_WORKDIR="$HOME/work"', 'DISCORD_IDLE_TIMEOUT=0', rootConfigLines()].join('\n'),
  });
  prepareClaudeConfig(sb.root, { apiUrl: api.url, trusted: [join(sb.home, 'work')] });
  const slash = await startProgram('discord-slash-daemon', [], sb.env);
  const replies = () => (discord.messages.get(channel.id) ?? []).filter((m) => m.author.id === discord.botUser.id).map((m) => m.content);
  const samples: number[] = [];
  try {
    await waitFor(() => slash.log.some((l) => l.includes('Slash daemon connected')), 30_000, 'the slash daemon');
    const first = discord.messageEvent(channel.id, { authorId: OWNER_ID, username: 'owner', content: 'warm up, please reply' });
    await waitFor(() => replies().includes(`ack ${first.id}`), 60_000, 'the first reply');
    for (let i = 0; i < MESSAGES; i++) {
      const sentAt = Date.now();
      const message = discord.messageEvent(channel.id, { authorId: OWNER_ID, username: 'owner', content: `latency ${i}, please reply` });
      const request = await api.waitFor((r) => r.isTurn && parseChannelTags(r.lastUserText).some((t) => t.message_id === message.id), 30_000);
      samples.push(request.at - sentAt);
      await waitFor(() => replies().includes(`ack ${message.id}`), 30_000, `the reply to ${i}`);
      await waitFor(() => api.requests.filter((r) => r.isTurn).at(-1)?.lastUserText.includes('sent (') ?? false, 30_000, `the end of turn ${i}`);
    }
  } finally {
    await slash.stop();
    await sb.cleanup();
    api.stop();
    await discord.stop();
  }
  return samples;
}

function load(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return '?';
  }
}

function report(label: string, samples: number[]): void {
  const median = percentile(samples, 50);
  console.log(`  (g) ${label.padEnd(9)} median ${median.toFixed(0)} ms   p95 ${percentile(samples, 95).toFixed(0)} ms   min ${Math.min(...samples).toFixed(0)} ms   goal ≤ ${GOAL_MS} ms median   ${median <= GOAL_MS ? 'within goal' : 'OVER GOAL'}`);
}

console.log(`Message → model request, real Claude Code, ${MESSAGES} messages to an UP session (load ${load()})`);
report('Telegram', await telegramLatency());
report('Discord', await discordLatency());
console.log(`  (load at the end ${load()})`);
