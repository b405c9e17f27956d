/**
 * One message path for both platforms, under everything that goes wrong in a month: 300 owner
 * messages across 3 Discord channels, 2 threads, the owner's DMs and 3 Telegram chats, while both
 * routers are SIGKILLed, a bridge is SIGKILLed, a session is killed, one is suspended and woken, one
 * session's inbox cannot be written for a moment (a full disk) and config.env has a typo for a while.
 * The compiled routers (`discord-slash-daemon`, `telegram-session-manager serve`) and bridges run
 * against the platform fakes; each session's claude is the MCP stand-in, which records what it took.
 * Counted there: every message arrives exactly once, in order, at its own session and no other.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Inbox } from '../../lib/router/inbox.ts';
import { FakeDiscord, type FakeChannel } from '../fakes/discord.ts';
import { FakeTelegram } from '../fakes/telegram.ts';
import { OWNER_ID, ROOT, Sandbox, waitFor } from '../helpers.ts';
import { type RunningProgram, startProgram } from './real-claude.ts';

const TOTAL = 300;
const TG_OWNER = 123456789;
const CLAUDE_MCP = join(ROOT, 'test/fakes/claude-mcp');

/** One place messages go to: a session, by its platform and id. */
interface Target {
  label: string;
  platform: 'discord' | 'telegram';
  /** The session id (channel, thread, DM channel or chat id). */
  id: string;
  send(text: string): void;
  sent: string[];
}

let discord: FakeDiscord;
let telegram: FakeTelegram;
let sb: Sandbox;
let slash: RunningProgram | undefined;
let serve: RunningProgram | undefined;
const targets: Target[] = [];
let dcConfig = '';
let tgConfig = '';

const sessionsDir = (platform: Target['platform']) => join(sb.root, platform === 'discord' ? 'discord-sessions' : 'telegram-sessions');

/** What a session's claude took through its bridge, in order. */
function received(target: Target): Array<{ content: string; meta: Record<string, string> }> {
  const file = join(sessionsDir(target.platform), target.id, 'channel-notifications.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

async function startSlash(): Promise<void> {
  slash = await startProgram('discord-slash-daemon', [], sb.env);
  await waitFor(() => slash!.log.some((l) => l.includes('Slash daemon connected')), 30_000, 'the slash daemon');
}

async function startServe(): Promise<void> {
  serve = await startProgram('telegram-session-manager', ['serve'], sb.env);
  await waitFor(() => serve!.log.some((l) => l.includes('Router polling')), 30_000, 'the Telegram router');
}

async function sigkill(program: RunningProgram | undefined): Promise<void> {
  program?.proc.kill('SIGKILL');
  await program?.proc.exited;
}

beforeAll(async () => {
  discord = new FakeDiscord().start();
  telegram = new FakeTelegram().start();
  sb = new Sandbox({ env: { DISCORD_API_URL: discord.url, TELEGRAM_API_URL: telegram.url, CLAUDE_BIN: CLAUDE_MCP }, token: discord.token });
  dcConfig = [`DISCORD_ALLOWED_USER_ID="${OWNER_ID}"`, `DISCORD_GUILD_ID="${discord.guildId}"`, 'DISCORD_SESSION_WORKDIR="$HOME/work"', 'DISCORD_IDLE_TIMEOUT=0', 'DISCORD_DMS=on', ''].join('\n');
  tgConfig = [`TELEGRAM_ALLOWED_USER_ID="${TG_OWNER}"`, 'TELEGRAM_SESSION_WORKDIR="$HOME/work"', 'TELEGRAM_IDLE_TIMEOUT=0', ''].join('\n');
  sb.write('discord-sessions/config.env', dcConfig);
  sb.write('telegram-sessions/config.env', tgConfig);
  sb.write('channels/telegram/.env', `TELEGRAM_BOT_TOKEN=${telegram.token}\n`, 0o600);

  const owner = { id: OWNER_ID, username: 'owner' };
  const channels: FakeChannel[] = ['alpha', 'beta', 'gamma'].map((name) => discord.addChannel(name));
  const threads: FakeChannel[] = [discord.addThread(channels[0]!.id, 'alpha-thread', { owner_id: OWNER_ID }), discord.addThread(channels[1]!.id, 'beta-thread', { owner_id: OWNER_ID })];
  const target = (label: string, platform: Target['platform'], id: string, send: (text: string) => void): Target => ({ label, platform, id, send, sent: [] });
  for (const channel of [...channels, ...threads]) {
    targets.push(target(`#${channel.name}`, 'discord', channel.id, (text) => void discord.messageEvent(channel.id, { authorId: owner.id, username: owner.username, content: text })));
  }
  targets.push(target('DM', 'discord', discord.dmChannel(owner).id, (text) => void discord.dmEvent(owner, text)));
  for (const chat of [-2001, -2002, -2003]) {
    targets.push(target(`chat ${chat}`, 'telegram', String(chat), (text) => void telegram.userMessage(chat, { fromId: TG_OWNER, username: 'owner', text, chatType: 'group', chatTitle: `group ${chat}` })));
  }
  await Promise.all([startSlash(), startServe()]);
}, 120_000);

afterAll(async () => {
  await slash?.stop();
  await serve?.stop();
  await sb?.cleanup();
  await discord?.stop();
  await telegram?.stop();
});

/** Sends the next `count` messages, round-robin over the targets. */
let next = 0;
function sendMessages(count: number): void {
  for (let i = 0; i < count && next < TOTAL; i++, next++) {
    const t = targets[next % targets.length]!;
    const text = `${t.label} #${String(next).padStart(3, '0')}`;
    t.sent.push(text);
    t.send(text);
  }
}

/** Waits until every message sent so far arrived somewhere (it is checked where, below). */
async function allArrived(timeoutMs = 60_000): Promise<void> {
  try {
    await waitFor(() => targets.every((t) => received(t).length >= t.sent.length), timeoutMs, 'every message sent so far');
  } catch (error) {
    const behind = targets.filter((t) => received(t).length < t.sent.length).map((t) => `${t.label} (${t.id}): ${received(t).length}/${t.sent.length}`);
    const logs = [`--- slash daemon`, ...(slash?.log.slice(-25) ?? []), `--- telegram router`, ...(serve?.log.slice(-25) ?? [])];
    throw new Error(`${(error as Error).message}; behind: ${behind.join(', ')}\n${logs.join('\n')}`);
  }
}

/** The live pid of a session's bridge. */
function bridgePid(id: string): number | undefined {
  const out = Bun.spawnSync(['pgrep', '-f', `bridge --id ${id}$`]).stdout.toString().trim();
  return out ? Number(out.split('\n')[0]) : undefined;
}

describe('300 messages, two platforms, everything going wrong', () => {
  test('0 lost, 0 twice, 0 at the wrong session, in order', async () => {
    const [, beta, gamma] = targets;
    const [chat1, chat2, chat3] = targets.filter((t) => t.platform === 'telegram');

    sendMessages(30);
    await allArrived();

    // The Discord router is SIGKILLed; what comes meanwhile is in the channels' history.
    await sigkill(slash);
    sendMessages(30);
    await startSlash();
    await allArrived();

    // The Telegram router is SIGKILLed in the middle of a burst.
    sendMessages(15);
    await sigkill(serve);
    sendMessages(15);
    await startServe();
    await allArrived();

    // One bridge SIGKILLed: its Claude Code lives on without a channel until its session is restarted.
    const pid = bridgePid(beta!.id);
    expect(pid).toBeDefined();
    process.kill(pid!, 'SIGKILL');
    sendMessages(30);
    await allArrived(120_000);

    // One session killed from outside (tmux), one suspended and woken by the owner.
    await sb.tmux.killSession(`tg-${chat1!.id}`);
    telegram.command(Number(chat2!.id), TG_OWNER, '/kill', { chatType: 'group', chatTitle: 'group' });
    await waitFor(async () => !(await sb.tmux.hasSession(`tg-${chat2!.id}`)), 20_000, `tg-${chat2!.id} suspended`);
    sendMessages(30);
    await allArrived();

    // A full disk for one Discord channel and one Telegram chat, for a moment.
    const full = [gamma!, chat3!].map((t) => join(sessionsDir(t.platform), t.id, 'inbox'));
    for (const inbox of full) {
      rmSync(inbox, { recursive: true, force: true });
      writeFileSync(inbox, 'a file where the folder should be');
    }
    sendMessages(30);
    await Bun.sleep(1500);
    for (const inbox of full) rmSync(inbox);
    await allArrived();

    // A typo in both config files while the routers run, then fixed.
    sb.write('discord-sessions/config.env', `${dcConfig}THIS IS NOT A SETTING\n`);
    sb.write('telegram-sessions/config.env', `${tgConfig}THIS IS NOT A SETTING\n`);
    sendMessages(30);
    await Bun.sleep(1500);
    sb.write('discord-sessions/config.env', dcConfig);
    sb.write('telegram-sessions/config.env', tgConfig);
    await allArrived();

    sendMessages(TOTAL - next);
    await allArrived();
    await Bun.sleep(1000);

    expect(next).toBe(TOTAL);
    const report = targets.map((t) => {
      const got = received(t);
      const texts = got.map((n) => n.content);
      return {
        target: t.label,
        sent: t.sent.length,
        lost: t.sent.filter((text) => !texts.includes(text)).length,
        twice: texts.length - new Set(texts).size,
        wrongSession: got.filter((n) => n.meta.chat_id !== t.id || !t.sent.includes(n.content)).length,
        inOrder: JSON.stringify(texts) === JSON.stringify(t.sent),
        queued: new Inbox(join(sessionsDir(t.platform), t.id, 'inbox')).size,
      };
    });
    expect(report).toEqual(targets.map((t) => ({ target: t.label, sent: t.sent.length, lost: 0, twice: 0, wrongSession: 0, inOrder: true, queued: 0 })));
    expect(report.reduce((n, r) => n + r.sent, 0)).toBe(TOTAL);
    // One gateway session per router start: two starts, two IDENTIFYs, however many sessions.
    expect(discord.identifies).toHaveLength(2);
    expect(telegram.pending()).toEqual([]);
  }, 600_000);
});
