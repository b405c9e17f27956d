/**
 * Dialogs and deafness against the REAL Claude Code (pinned, offline: a loopback Messages API and a
 * prepared config dir, see real-claude.ts): a session at the workspace trust dialog is WAITING and
 * its owner is told; a chat message is never typed into the dialog but waits in the session's inbox
 * (its bridge starts only after the dialog) and reaches the model once the owner answers; a profile
 * that switches channels off makes a Telegram session DEAF.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { ApplicationCommandOptionType as Opt, type APIApplicationCommandInteractionDataOption } from 'discord.js';
import { systemClock } from '../../lib/core/util/clock.ts';
import { runSlashDaemon } from '../../lib/platforms/discord/slash/daemon.ts';
import { TELEGRAM } from '../../lib/core/config/platform.ts';
import { Inbox } from '../../lib/router/inbox.ts';
import { FakeAnthropic } from '../fakes/anthropic.ts';
import { FakeDiscord } from '../fakes/discord.ts';
import { FakeTelegram } from '../fakes/telegram.ts';
import { OWNER_ID, ROOT, Sandbox, waitFor } from '../helpers.ts';
import { prepareClaudeConfig, realClaude } from './real-claude.ts';

const claude = await realClaude();
const cleanups: Array<() => Promise<void> | void> = [];

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** A watchdog program in the foreground as its own process, its log lines collected. */
function startWatchdog(sb: Sandbox, program: string, args: string[], log: string[]): Subprocess<'ignore', 'pipe', 'pipe'> {
  const proc = Bun.spawn(['bun', join(ROOT, 'bin', `${program}.ts`), ...args], { env: sb.env as Record<string, string>, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) log.push(...decoder.decode(chunk).split('\n').filter(Boolean));
  })();
  cleanups.push(async () => {
    proc.kill('SIGTERM');
    await proc.exited;
  });
  return proc;
}

async function listJson(sb: Sandbox, program = 'discord-session-manager'): Promise<Array<Record<string, any>>> {
  const result = program === 'discord-session-manager' ? await sb.run('list', '--json') : await sb.runBin(program, ['list', '--json']);
  return JSON.parse(result.out);
}

/** Whether Claude Code recorded the folder as trusted in the config dir's `.claude.json`. */
function isTrusted(sb: Sandbox, folder: string): boolean {
  return JSON.parse(readFileSync(join(sb.root, '.claude.json'), 'utf8')).projects?.[folder]?.hasTrustDialogAccepted === true;
}

describe('real Claude Code: a Discord session at the workspace trust dialog', () => {
  test('is WAITING with the trust fix, the owner is told once, and a chat message waits for the answer', async () => {
    const anthropic = await FakeAnthropic.start();
    const discord = new FakeDiscord().start();
    const general = discord.addChannel('general');
    const sb = new Sandbox({
      env: { DISCORD_API_URL: discord.url, CLAUDE_BIN: claude },
      config: [
        `DISCORD_ALLOWED_USER_ID="${OWNER_ID}"`,
        `DISCORD_GUILD_ID="${discord.guildId}"`,
        'DISCORD_SESSION_WORKDIR="$HOME/work"',
        'DISCORD_WATCHDOG_INTERVAL=1',
        'DISCORD_SLASH_DAEMON=off',
        'IS_SANDBOX=1',
      ].join('\n'),
    });
    cleanups.push(() => sb.cleanup(), () => discord.stop(), () => anthropic.stop());
    const workdir = join(sb.home, 'work');
    prepareClaudeConfig(sb.root, { apiUrl: anthropic.url, trusted: [] });

    // (a) Started in a never-trusted folder, Claude Code stops at the trust dialog: list says so.
    expect((await sb.run('spawn', general.id, '--name', 'general')).code).toBe(0);
    await sb.waitForPane(`dc-${general.id}`, /Yes, I trust this folder/, 20_000);
    const log: string[] = [];
    startWatchdog(sb, 'discord-watchdog', [], log);
    await waitFor(async () => (await listJson(sb))[0]?.status === 'WAITING', 10_000, 'WAITING in list --json');
    const [row] = await listJson(sb);
    expect(row!.condition.cause).toBe(`Claude Code asks whether to trust the workdir ${workdir} (workspace trust dialog)`);
    expect(row!.condition.fix).toBe('`/session send 1` trusts the folder and starts the session (`/session send 2` exits)');
    const botPosts = () => (discord.messages.get(general.id) ?? []).filter((m) => m.author.id === discord.botUser.id).map((m) => m.content);
    await waitFor(() => botPosts().length === 1, 5000, 'the notice in the channel');
    expect(botPosts()[0]).toBe(`⏸ WAITING — session general: ${row!.condition.cause}.\nFix: ${row!.condition.fix}.`);

    // (b) The owner writes in the channel: the message is queued in the inbox, NOT typed into the dialog.
    const { ctx, err: daemonLog } = sb.context();
    const stop = new AbortController();
    const daemon = runSlashDaemon({ manager: ctx.manager, clock: systemClock, log: ctx.io.log, signal: stop.signal, runCommand: async () => ({ code: 0, output: '' }) });
    cleanups.push(async () => {
      stop.abort();
      await daemon;
    });
    await waitFor(() => daemonLog.some((l) => l.includes('Slash daemon connected')), 10_000, 'the slash daemon');
    const note = discord.messageEvent(general.id, { authorId: OWNER_ID, username: 'owner', content: 'note from the phone: deploy at noon' });
    const inbox = new Inbox(join(sb.sessionsDir, general.id, 'inbox'));
    await waitFor(() => inbox.size === 1, 10_000, 'the message queued');
    await Bun.sleep(1000);
    expect(inbox.list().map((e) => e.id)).toEqual([note.id]);
    expect(isTrusted(sb, workdir)).toBe(false);
    expect(anthropic.turns.filter((t) => t.userTexts.some((u) => u.includes('deploy at noon')))).toEqual([]);
    const screen = await sb.waitForPane(`dc-${general.id}`, /Yes, I trust this folder/);
    expect(screen).not.toContain('deploy at noon');
    expect(botPosts()).toHaveLength(1);

    // The owner answers with /session send 1: the folder is trusted, the message reaches the model once.
    const sub = [{ type: Opt.Subcommand, name: 'send', options: [{ type: Opt.String, name: 'input', value: '1' }] }] as APIApplicationCommandInteractionDataOption[];
    const handle = discord.interaction({ name: 'session', channelId: general.id, options: sub });
    await waitFor(() => handle.replies().some((r) => r.kind === 'edit-original' && String(r.data?.content) === 'Sent 1'), 10_000, 'the /session send reply');
    await anthropic.waitFor((r) => r.isTurn && r.lastUserText.includes('deploy at noon'), 30_000).catch(async (error) => {
      const screen = (await sb.tmux.run(['capture-pane', '-p', '-J', '-t', `=dc-${general.id}:`])).stdout;
      throw new Error(`${(error as Error).message}; the pane shows:\n${screen}\nslash daemon log:\n${daemonLog.join('\n')}`);
    });
    expect(isTrusted(sb, workdir)).toBe(true);
    await waitFor(() => inbox.size === 0, 10_000, 'an empty inbox');
    await Bun.sleep(1000);
    expect(anthropic.turns.filter((t) => t.lastUserText.includes('deploy at noon'))).toHaveLength(1);
    // A channel message through our bridge, with the official plugin's meta.
    expect(anthropic.turns[0]!.lastUserText).toContain(`chat_id="${general.id}"`);
    expect(anthropic.turns[0]!.lastUserText).toContain(`message_id="${note.id}"`);

    // No longer WAITING: the session is UP on our bridge.
    await waitFor(async () => (await listJson(sb))[0]?.status === 'UP', 15_000, 'UP after the dialog');
    await waitFor(() => log.join('\n').includes(`CLEARED  dc-${general.id}: no longer WAITING`), 5000, 'the watchdog clearing WAITING');
  }, 120_000);
});

describe('real Claude Code: a Telegram session whose profile switches channels off', () => {
  test('shows DEAF with the fix naming the key and its profile, and the owner is told in the chat', async () => {
    const anthropic = await FakeAnthropic.start();
    const telegram = new FakeTelegram().start();
    const chat = 424242;
    const sb = new Sandbox({
      platform: TELEGRAM,
      token: telegram.token,
      env: { TELEGRAM_API_URL: telegram.url, CLAUDE_BIN: claude },
      config: [`TELEGRAM_ALLOWED_USER_ID="${chat}"`, 'TELEGRAM_SESSION_WORKDIR="$HOME/work"', 'TELEGRAM_WATCHDOG_INTERVAL=1', 'TELEGRAM_ROUTER=off', 'IS_SANDBOX=1'].join('\n'),
    });
    cleanups.push(() => sb.cleanup(), () => telegram.stop(), () => anthropic.stop());
    prepareClaudeConfig(sb.root, { apiUrl: anthropic.url, trusted: [join(sb.home, 'work')] });
    sb.write('telegram-sessions/profiles.env', '[default]\nDISABLE_TELEMETRY=1\n');

    const spawn = await sb.runBin('telegram-session-manager', ['spawn', String(chat)]);
    expect(spawn.code).toBe(0);
    await sb.waitForPane(`tg-${chat}`, /Channels are not currently available/, 20_000);
    const log: string[] = [];
    startWatchdog(sb, 'telegram-session-manager', ['watchdog'], log);
    await waitFor(async () => (await listJson(sb, 'telegram-session-manager'))[0]?.status === 'DEAF', 15_000, 'DEAF in list --json');
    const [row] = await listJson(sb, 'telegram-session-manager');
    expect(row!.condition.cause).toBe('Claude Code says channels are not currently available: the session runs but hears no messages');
    expect(row!.condition.fix).toBe(`remove DISABLE_TELEMETRY (in ${sb.sessionsDir}/profiles.env [default]), then \`/restart\``);
    const [notice] = await telegram.waitForSent(chat, 1, 5000);
    expect(notice).toBe(`🔇 DEAF — session ${row!.name}: ${row!.condition.cause}.\nFix: ${row!.condition.fix}.`);
  }, 90_000);
});
