import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { readCondition, writeCondition } from '../../lib/core/store/condition.ts';
import { Sandbox } from '../helpers.ts';

const ID = '1300000000000000001';
const OTHER = '1300000000000000002';
const WAITING = {
  state: 'WAITING' as const,
  cause: 'Claude Code asks whether to trust the workdir /w (workspace trust dialog)',
  fix: '`/session send 1` trusts the folder and starts the session (`/session send 2` exits)',
  since: 1_700_000_000_000,
  notified: true,
};

let sb: Sandbox;
const dir = (id: string) => join(sb.sessionsDir, id);

beforeAll(async () => {
  sb = new Sandbox();
  expect((await sb.run('spawn', ID, '--name', 'general')).code).toBe(0);
  expect((await sb.run('spawn', OTHER, '--name', 'other')).code).toBe(0);
  writeCondition(dir(ID), 'pane', WAITING);
});

afterAll(async () => {
  await sb.cleanup();
});

describe('list, status and motd show a running session’s condition in place of UP', () => {
  test('list --json: status and a condition object (null when there is none)', async () => {
    const rows = JSON.parse((await sb.run('list', '--json')).out);
    expect(rows.find((r: { id: string }) => r.id === ID)).toMatchObject({ status: 'WAITING', condition: WAITING });
    expect(rows.find((r: { id: string }) => r.id === OTHER)).toMatchObject({ status: 'UP', condition: null });
  });

  test('list: the state, then the cause and the fix under the row', async () => {
    const out = (await sb.run('list')).out;
    expect(out).toContain(`  [WAITING]  dc-${ID}`);
    expect(out).toContain(`\n           ${WAITING.cause}\n           fix: ${WAITING.fix}`);
    expect(out).toMatch(new RegExp(`\\[UP  \\]  dc-${OTHER}`));
  });

  test('status and status --json carry the same', async () => {
    const json = JSON.parse((await sb.run('status', '--json')).out);
    expect(json.sessions.find((r: { id: string }) => r.id === ID)).toMatchObject({ status: 'WAITING', condition: { cause: WAITING.cause } });
    expect((await sb.run('status')).out).toContain(`fix: ${WAITING.fix}`);
  });

  test('motd counts it as needing the owner and names the cause', async () => {
    const out = (await sb.run('motd')).out;
    expect(out).toMatch(/1 up · 0 down · 0 suspended · 1 need the owner/);
    expect(out).toContain(`WAITING   general (${ID})  ${WAITING.cause}`);
  });

  test('a bridge condition shows when the pane has none; the pane one wins', async () => {
    writeCondition(dir(OTHER), 'bridge', { state: 'DEAF', cause: 'Claude Code did not take a message', fix: 'restart', since: 1 });
    let rows = JSON.parse((await sb.run('list', '--json')).out);
    expect(rows.find((r: { id: string }) => r.id === OTHER).status).toBe('DEAF');
    writeCondition(dir(OTHER), 'pane', { ...WAITING });
    rows = JSON.parse((await sb.run('list', '--json')).out);
    expect(rows.find((r: { id: string }) => r.id === OTHER).status).toBe('WAITING');
  });

  test('a stopped session is SUSPENDED, whatever its condition file says', async () => {
    expect((await sb.run('kill', OTHER)).code).toBe(0);
    expect((await sb.run('spawn', OTHER)).code).toBe(0);
    const { ctx } = sb.context();
    writeCondition(dir(OTHER), 'pane', { ...WAITING });
    await ctx.manager.stop(OTHER);
    const rows = JSON.parse((await sb.run('list', '--json')).out);
    expect(rows.find((r: { id: string }) => r.id === OTHER)).toMatchObject({ status: 'SUSPENDED', condition: null });
  });

  test('a (re)start clears both conditions', async () => {
    expect((await sb.run('wake', OTHER)).code).toBe(0);
    expect(readCondition(dir(OTHER), 'pane')).toBeUndefined();
    expect(readCondition(dir(OTHER), 'bridge')).toBeUndefined();
    const rows = JSON.parse((await sb.run('list', '--json')).out);
    expect(rows.find((r: { id: string }) => r.id === OTHER).status).toBe('UP');
  });
});
