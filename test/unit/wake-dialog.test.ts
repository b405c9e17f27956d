/**
 * A session that stops at a dialog (here Claude Code's workspace trust) keeps its chat messages queued
 * in its inbox: its bridge only starts once the dialog is answered, and nothing is ever typed into the
 * dialog. Once the owner answers (`/session send 1`), the bridge connects and they arrive, in order.
 * Real discord.js against the Discord fake, the slash daemon's router, the MCP stand-in with the real bridge.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApplicationCommandOptionType as Opt, type APIApplicationCommandInteractionDataOption } from 'discord.js';
import { systemClock } from '../../lib/core/util/clock.ts';
import { runSlashDaemon } from '../../lib/platforms/discord/slash/daemon.ts';
import { Inbox } from '../../lib/router/inbox.ts';
import { FakeDiscord, type FakeChannel, type FakeInteractionHandle } from '../fakes/discord.ts';
import { OWNER_ID, ROOT, Sandbox, waitFor } from '../helpers.ts';

let fake: FakeDiscord;
let sb: Sandbox;
let general: FakeChannel;
let stop: AbortController;
let daemon: Promise<void>;
let logs: string[];

/** A stand-in claude at Claude Code's real trust dialog: `1` trusts, then it is the MCP stand-in (which loads our bridge). */
function claudeAtTrust(dir: string): string {
  const file = join(dir, 'claude-at-trust');
  writeFileSync(
    file,
    `#!/usr/bin/env bash
cat '${join(ROOT, 'test/fixtures/panes/trust.txt')}'
IFS= read -rsn1 key
[ "$key" = 1 ] || exit 1
clear
exec '${join(ROOT, 'test/fakes/claude-mcp')}' "$@"
`,
  );
  chmodSync(file, 0o755);
  return file;
}

const queued = () => new Inbox(join(sb.sessionsDir, general.id, 'inbox')).list().map((e) => e.content);
const pane = async () => (await sb.tmux.run(['capture-pane', '-p', '-J', '-S', '-', '-t', `=dc-${general.id}:`])).stdout;

function received(): string[] {
  const file = join(sb.sessionsDir, general.id, 'channel-notifications.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).content);
}

async function finalReply(handle: FakeInteractionHandle): Promise<string> {
  await waitFor(() => handle.replies().some((r) => r.kind === 'edit-original' || r.kind === 'followup'), 10_000, 'a reply');
  return String(handle.replies().find((r) => r.kind === 'edit-original' || r.kind === 'followup')!.data?.content);
}

const sub = (name: string, options: APIApplicationCommandInteractionDataOption[] = []) => [{ type: Opt.Subcommand, name, options } as APIApplicationCommandInteractionDataOption];

beforeAll(async () => {
  fake = new FakeDiscord().start();
  general = fake.addChannel('general');
  sb = new Sandbox({ env: { DISCORD_API_URL: fake.url }, token: fake.token });
  sb.env.CLAUDE_BIN = claudeAtTrust(sb.dir);
  const { ctx, err } = sb.context();
  logs = err;
  stop = new AbortController();
  daemon = runSlashDaemon({ manager: ctx.manager, clock: systemClock, log: ctx.io.log, signal: stop.signal, runCommand: async () => ({ code: 0, output: '' }) });
  await waitFor(() => logs.some((l) => l.includes('Slash daemon connected')), 10_000, 'the slash daemon');
}, 20_000);

afterAll(async () => {
  stop.abort();
  await daemon;
  await sb.cleanup();
  await fake.stop();
});

describe('a session at a dialog keeps its messages queued, then gets them', () => {
  test('messages for a session at the trust dialog wait in its inbox; nothing is typed into the dialog', async () => {
    fake.messageEvent(general.id, { authorId: OWNER_ID, username: 'owner', content: 'first message' });
    await waitFor(async () => (await pane()).includes('Yes, I trust this folder'), 10_000, 'the trust dialog');
    await waitFor(async () => (await sb.run('list', '--json')).out.includes('"WAITING"'), 5000, 'WAITING in list');
    fake.messageEvent(general.id, { authorId: OWNER_ID, username: 'owner', content: 'second message' });
    const ask = await finalReply(fake.interaction({ name: 'ask', channelId: general.id, options: [{ type: Opt.String, name: 'prompt', value: 'asked at the dialog' } as APIApplicationCommandInteractionDataOption] }));
    expect(ask).toMatch(/^⏸ `general` is WAITING: Claude Code asks whether to trust the workdir .*\.\nFix: `\/session send 1` trusts the folder.*\nYour prompt is queued and goes in once that is done:\n> asked at the dialog$/);
    await waitFor(() => queued().length === 3, 5000, 'three queued messages');
    await Bun.sleep(1000);
    expect(queued()).toEqual(['first message', 'second message', 'asked at the dialog']);
    expect(received()).toEqual([]);
    const screen = await pane();
    expect(screen).toContain('Yes, I trust this folder');
    expect(screen).not.toMatch(/first message|second message|asked at the dialog/);
  }, 30_000);

  test('answered with /session send 1, the bridge comes up and they arrive once, in order', async () => {
    expect(await finalReply(fake.interaction({ name: 'session', channelId: general.id, options: sub('send', [{ type: Opt.String, name: 'input', value: '1' } as APIApplicationCommandInteractionDataOption]) }))).toBe('Sent 1');
    await waitFor(() => received().length === 3, 30_000, 'the three deliveries');
    await Bun.sleep(1000);
    expect(received()).toEqual(['first message', 'second message', 'asked at the dialog']);
    expect(queued()).toEqual([]);
    expect(await pane()).not.toContain('you typed:');
  }, 45_000);
});
