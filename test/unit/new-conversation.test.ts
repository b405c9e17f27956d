/**
 * Conversations Claude Code will not continue: a start that dies with "No conversation found" or
 * "already in use" is respawned at once in a new conversation (noted, shown by list and status), and a
 * transcript that holds no conversation is moved aside so the same id starts afresh.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createAppContext } from '../../lib/app.ts';
import { type SessionRow } from '../../lib/core/sessions/manager.ts';
import { DISCORD } from '../../lib/core/config/platform.ts';
import { sessionIdFor } from '../../lib/core/host/session-id.ts';
import { expectedTranscript } from '../../lib/core/host/transcript.ts';
import { Sandbox, flagValue, resumedId, waitFor } from '../helpers.ts';

const HOUR = 60 * 60_000;
let sb: Sandbox;

beforeAll(() => {
  sb = new Sandbox();
});
afterAll(async () => {
  await sb.cleanup();
});

async function rows(now = Date.now()): Promise<SessionRow[]> {
  return createAppContext(DISCORD, sb.env, { now: () => now, sleep: Bun.sleep }).manager.list();
}

async function rowOf(id: string, now?: number): Promise<SessionRow> {
  return (await rows(now)).find((r) => r.id === id)!;
}

function note(id: string): { at: string; reason: string; sessionId: string; told: boolean } {
  return JSON.parse(sb.read(`discord-sessions/${id}/.new-conversation`));
}

/** Spawns a session whose Claude Code prints `exit` and dies at once (spawn says so); resolves when its pane is dead. */
async function spawnDying(id: string, exit: string): Promise<void> {
  sb.write(`discord-sessions/${id}/fake-claude-exit`, `${exit}\n`);
  const result = await sb.run('spawn', id);
  expect(result.code).toBe(1);
  expect(result.err).toContain(`Session dc-${id} exited at once: ${exit}`);
  await waitFor(async () => (await sb.tmux.listSessions()).get(`dc-${id}`)?.dead === true, 5000, `dc-${id} to die`);
}

describe('a start Claude Code refuses to continue', () => {
  test.each([
    ['340000000000000001', 'No conversation found with session ID: %s'],
    ['340000000000000002', 'Error: Session ID %s is already in use.'],
  ])('%s dies with "%s": respawn-dead starts it at once with a new --session-id', async (id, message) => {
    const old = sessionIdFor(id);
    const exit = message.replace('%s', old);
    await spawnDying(id, exit);
    rmSync(join(sb.sessionsDir, id, 'fake-claude-exit'));
    const runs = sb.claudeRuns().length;

    const result = await sb.run('respawn-dead');
    expect(result.code).toBe(0);
    expect(result.out).toContain(`RESPAWNED  dc-${id}`);
    expect(result.out).toContain('(new conversation)');
    const run = (await sb.waitForRuns(runs + 1)).slice(runs).find((r) => r.env.DISCORD_STATE_DIR === join(sb.sessionsDir, id))!;
    const fresh = flagValue(run.argv, '--session-id');
    expect(fresh).toMatch(/^[0-9a-f-]{36}$/);
    expect(fresh).not.toBe(old);
    expect(run.argv).not.toContain('--resume');
    expect(sb.read(`discord-sessions/${id}/.session-id`)).toBe(fresh!);
    await sb.waitForPane(`dc-${id}`, new RegExp(`session ${fresh} \\(new\\)`));

    expect(note(id)).toMatchObject({ reason: `Claude Code could not continue the conversation (${exit})`, sessionId: fresh, told: false });
    const row = await rowOf(id);
    expect(row).toMatchObject({ status: 'UP', sessionId: fresh, crash: { quickDeaths: 0, backoffUntil: 0 } });
    expect(row.newConversation).toEqual({ at: note(id).at, reason: note(id).reason });
    expect(row.lastExit).toContain(exit);
  });

  test('list and status show the note under the row, and --json carries it', async () => {
    const id = '340000000000000001';
    const { reason } = note(id);
    const under = new RegExp(`\\[UP  \\]  dc-${id} .*\\n {11}new conversation since \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC: ${reason.replace(/[()?.*+]/g, '\\$&')}`);
    expect((await sb.run('list')).out).toMatch(under);
    expect((await sb.run('status')).out).toMatch(under);
    const json = JSON.parse((await sb.run('list', '--json')).out) as SessionRow[];
    expect(json.find((r) => r.id === id)!.newConversation).toEqual({ at: note(id).at, reason });
    const status = JSON.parse((await sb.run('status', '--json')).out) as { sessions: SessionRow[] };
    expect(status.sessions.find((r) => r.id === id)!.newConversation?.reason).toBe(reason);
  });

  test('the note shows for 24 hours after it was written, then no more', async () => {
    const at = Date.parse(note('340000000000000001').at);
    expect((await rowOf('340000000000000001', at + 23 * HOUR)).newConversation).not.toBeNull();
    expect((await rowOf('340000000000000001', at + 25 * HOUR)).newConversation).toBeNull();
    expect((await rowOf('340000000000000002', at + 25 * HOUR)).newConversation).toBeNull();
  });

  test('a session with no note shows none', async () => {
    const id = '340000000000000003';
    expect((await sb.run('spawn', id)).code).toBe(0);
    expect((await rowOf(id)).newConversation).toBeNull();
    const lines = (await sb.run('list')).out.split('\n');
    const at = lines.findIndex((l) => l.includes(`dc-${id}`));
    expect(at).toBeGreaterThan(0);
    expect(lines[at + 1] ?? '').not.toContain('new conversation');
  });

  test('a new conversation that fails the same way counts as a crash and backs off', async () => {
    const id = '340000000000000004';
    await spawnDying(id, `No conversation found with session ID: ${sessionIdFor(id)}`);
    // The first failure starts a new conversation; it dies too (the stand-in still prints the error).
    expect((await sb.run('respawn-dead')).out).toContain(`RESPAWNED  dc-${id}`);
    const fresh = sb.read(`discord-sessions/${id}/.session-id`);
    expect(fresh).not.toBe(sessionIdFor(id));
    for (let death = 1; death <= 3; death++) {
      await waitFor(async () => (await sb.tmux.listSessions()).get(`dc-${id}`)?.dead === true, 5000, `death ${death}`);
      await sb.run('respawn-dead');
      expect((await rowOf(id)).crash.quickDeaths).toBe(death);
    }
    const row = await rowOf(id);
    expect(row.status).toBe('CRASHLOOP');
    expect(row.crash.backoffUntil).toBeGreaterThan(Date.now());
    // The conversation is not replaced again and again.
    expect(row.sessionId).toBe(fresh);
    expect(note(id).sessionId).toBe(fresh);
  });
});

describe('a transcript that holds no conversation', () => {
  test('is moved aside and the same id starts with --session-id; a real one is resumed by its path', async () => {
    const id = '340000000000000005';
    const sessionId = sessionIdFor(id);
    const workdir = join(sb.home, 'work');
    const transcript = expectedTranscript(sb.root, workdir, sessionId);
    mkdirSync(dirname(transcript), { recursive: true });
    // What Claude Code leaves when it took a channel message and died before the turn started.
    writeFileSync(transcript, `${JSON.stringify({ type: 'queue-operation', operation: 'enqueue', timestamp: new Date().toISOString(), sessionId, content: '<channel source="x">hi</channel>' })}\n`);
    const runs = sb.claudeRuns().length;
    const result = await sb.run('spawn', id);
    expect(result.out).toContain('(new conversation)');
    const run = (await sb.waitForRuns(runs + 1)).slice(runs).find((r) => r.env.DISCORD_STATE_DIR === join(sb.sessionsDir, id))!;
    expect(flagValue(run.argv, '--session-id')).toBe(sessionId);
    expect(run.argv).not.toContain('--resume');
    // The stand-in, like the real CLI, refuses an id whose transcript is still there: it started.
    await sb.waitForPane(`dc-${id}`, new RegExp(`session ${sessionId} \\(new\\)`));
    const aside = readdirSync(dirname(transcript)).filter((f) => f.startsWith(`${sessionId}.jsonl.unusable-`));
    expect(aside).toHaveLength(1);
    expect(note(id)).toMatchObject({ reason: `its transcript held no conversation to resume (kept as ${join(dirname(transcript), aside[0]!)})`, sessionId });
    expect((await rowOf(id)).newConversation?.reason).toContain('held no conversation');

    // The stand-in wrote a conversation into the new transcript: the next start resumes it by path.
    expect(existsSync(transcript)).toBe(true);
    const restart = await createAppContext(DISCORD, sb.env).manager.restart(id);
    expect(restart.mode).toBe('--resume');
    const again = (await sb.waitForRuns(runs + 2)).slice(runs + 1).filter((r) => r.env.DISCORD_STATE_DIR === join(sb.sessionsDir, id)).at(-1)!;
    expect(flagValue(again.argv, '--resume')).toBe(transcript);
    expect(resumedId(again.argv)).toBe(sessionId);
  });
});
