import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../../lib/core/util/clock.ts';
import { readCondition } from '../../lib/core/store/condition.ts';
import { handleAsk, handleRun } from '../../lib/platforms/discord/slash/handlers/run.ts';
import { handleSession } from '../../lib/platforms/discord/slash/handlers/session.ts';
import type { SlashDeps } from '../../lib/platforms/discord/slash/types.ts';
import { WakeDelivery } from '../../lib/platforms/discord/wake.ts';
import { listQueue } from '../../lib/core/store/queue.ts';
import { ROOT, Sandbox, waitFor } from '../helpers.ts';

const CHANNEL = '1200000000000000001';

let sb: Sandbox;
let posts: Array<{ channelId: string; text: string }>;
let wake: WakeDelivery;
let logs: string[];
let deps: SlashDeps;

/** Just enough of a ChatInputCommandInteraction for the handlers. */
function interaction(options: Record<string, string>, sub = ''): Parameters<typeof handleAsk>[0] {
  return {
    id: String(Date.now()),
    channelId: CHANNEL,
    user: { id: '1', username: 'owner' },
    options: { getString: (name: string) => options[name] ?? null, getSubcommand: () => sub, getBoolean: () => null },
  } as never;
}

/** A stand-in claude at Claude Code's real trust dialog: `1` trusts, then every typed line is echoed as `got: …`. */
function claudeAtTrust(dir: string): string {
  const file = join(dir, 'claude-at-trust');
  writeFileSync(
    file,
    `#!/usr/bin/env bash
cat '${join(ROOT, 'test/fixtures/panes/trust.txt')}'
IFS= read -rsn1 key
[ "$key" = 1 ] || exit 1
clear
printf '> '
while IFS= read -r line; do printf 'got: %s\\n> ' "$line"; done
`,
  );
  chmodSync(file, 0o755);
  return file;
}

const message = (id: string, content: string) => ({ channelId: CHANNEL, messageId: id, authorId: '1', author: 'owner', content, ts: new Date().toISOString() });
const queued = () => listQueue(join(sb.sessionsDir, CHANNEL, 'wake-queue')).length;
const pane = async () => (await sb.tmux.run(['capture-pane', '-p', '-J', '-S', '-', '-t', `=dc-${CHANNEL}:`])).stdout;

beforeAll(async () => {
  sb = new Sandbox();
  sb.env.CLAUDE_BIN = claudeAtTrust(sb.dir);
  const { ctx, err } = sb.context();
  logs = err;
  await ctx.manager.spawn(CHANNEL, { name: 'general' });
  await ctx.manager.stop(CHANNEL);
  posts = [];
  wake = new WakeDelivery({
    manager: ctx.manager,
    clock: systemClock,
    log: ctx.io.log,
    readyTimeoutMs: 8000,
    dialogSettleMs: 300,
    post: async (channelId, text) => void posts.push({ channelId, text }),
  });
  deps = { manager: ctx.manager, clock: systemClock, log: ctx.io.log, api: () => { throw new Error('no Discord here'); }, wake, runCommand: async () => ({ code: 0, output: '' }) };
});

afterAll(async () => {
  await sb.cleanup();
});

describe('wake-on-message never types into a dialog', () => {
  test('a message for a session that wakes at the trust dialog stays queued; the owner is told once, with the fix', async () => {
    await wake.accept(message('11', 'first message'));
    expect(queued()).toBe(1);
    expect(await pane()).toContain('Yes, I trust this folder');
    expect(await pane()).not.toContain('first message');
    const condition = readCondition(join(sb.sessionsDir, CHANNEL), 'pane');
    expect(condition).toMatchObject({ state: 'WAITING', notified: true });
    expect(wake.heldAt(CHANNEL)?.cause).toBe(condition!.cause);
    expect(posts).toHaveLength(1);
    expect(posts[0]!.channelId).toBe(CHANNEL);
    expect(posts[0]!.text).toMatch(/^⏸ WAITING — session general: Claude Code asks whether to trust the workdir .*\nFix: `\/session send 1` trusts the folder.*\nA message waits and will be typed in once it is answered\.$/);
    expect(logs.some((l) => l.includes(`HELD  1 message(s) for dc-${CHANNEL}`))).toBe(true);

    // More messages, and the periodic retry: still held, nothing typed, nothing told again.
    await wake.accept(message('12', 'second message'));
    await wake.resumeAll();
    expect(queued()).toBe(2);
    expect(posts).toHaveLength(1);
    expect(await pane()).not.toContain('second message');
  });

  test('answered (the owner’s key), the queue goes in, in order', async () => {
    await sb.tmux.sendKeys(`dc-${CHANNEL}`, ['1']);
    await wake.kick(CHANNEL);
    const screen = await sb.waitForPane(`dc-${CHANNEL}`, /got: .*second message/);
    expect(screen.indexOf('first message')).toBeLessThan(screen.indexOf('second message'));
    await waitFor(() => queued() === 0, 3000, 'an empty queue');
    expect(wake.heldAt(CHANNEL)).toBeUndefined();
  });

  test('a quiet kick (a slash command answers for itself) posts nothing', async () => {
    const { ctx } = sb.context();
    await ctx.manager.restart(CHANNEL);
    await waitFor(async () => (await pane()).includes('Yes, I trust this folder'), 5000, 'the trust dialog');
    const before = posts.length;
    await wake.accept(message('13', 'quiet one'), { quiet: true });
    expect(wake.heldAt(CHANNEL)?.state).toBe('WAITING');
    expect(posts).toHaveLength(before);
    expect(queued()).toBe(1);
  });

  test('/ask and /run at a dialog are queued, not typed, and the reply says why and what to do', async () => {
    const ask = await handleAsk(interaction({ prompt: 'asked at the dialog' }), deps);
    expect(ask.content).toMatch(/^⏸ `general` is WAITING: Claude Code asks whether to trust the workdir .*\.\nFix: `\/session send 1` trusts the folder.*\nYour prompt is queued and will be typed in once it is answered\.$/);
    const run = await handleRun(interaction({ skill: 'deploy', args: 'staging' }), deps);
    expect(run.content).toContain('Your command is queued');
    expect(queued()).toBe(3);
    expect(await pane()).not.toMatch(/asked at the dialog|\/deploy/);
  });

  test('/session status shows WAITING with cause and fix; /session send 1 answers, and the queue goes in', async () => {
    const status = await handleSession(interaction({}, 'status'), deps);
    const fields = Object.fromEntries(status.embed!.toJSON().fields!.map((f) => [f.name, f.value]));
    expect(fields.Status).toBe('WAITING');
    expect(fields.Cause).toMatch(/^Claude Code asks whether to trust the workdir /);
    expect(fields.Fix).toMatch(/^`\/session send 1` trusts the folder/);
    expect((await handleSession(interaction({ input: '1' }, 'send'), deps)).content).toBe('Sent 1');
    const screen = await sb.waitForPane(`dc-${CHANNEL}`, /got: \/deploy staging/);
    expect(screen.indexOf('quiet one')).toBeLessThan(screen.indexOf('asked at the dialog'));
    expect(screen.indexOf('asked at the dialog')).toBeLessThan(screen.indexOf('got: /deploy staging'));
    await waitFor(() => queued() === 0, 3000, 'an empty queue');
  });
});
