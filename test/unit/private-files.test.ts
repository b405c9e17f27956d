import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { chmodSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createConsola } from 'consola';
import { runChatCommand } from '../../lib/core/control/commands.ts';
import { runDaemon } from '../../lib/daemons/daemon.ts';
import { Inbox } from '../../lib/router/inbox.ts';
import { Sandbox } from '../helpers.ts';

/** Characters that must never reach a terminal or a chat as they are: controls, C1, bidi overrides and isolates. */
const HIDDEN = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const modeOf = (path: string) => statSync(path).mode & 0o777;

let sb: Sandbox;
beforeAll(() => {
  sb = new Sandbox();
});
afterAll(() => sb.cleanup());

describe('queues, state, logs and status files are owner-only', () => {
  test('an install whose folders were open to others is closed at the next start; every file written is 0600', async () => {
    const id = '410000000000000001';
    const state = join(sb.sessionsDir, id);
    mkdirSync(join(state, 'inbox'), { recursive: true });
    for (const dir of [sb.sessionsDir, state, join(state, 'inbox')]) chmodSync(dir, 0o755);
    writeFileSync(join(sb.sessionsDir, 'sessions.json'), '{}\n', { mode: 0o644 });
    expect((await sb.run('spawn', id, '--name', 'private')).code).toBe(0);
    for (const dir of [sb.sessionsDir, state, join(state, 'inbox'), join(state, 'approved')]) expect([dir, modeOf(dir)]).toEqual([dir, 0o700]);
    for (const file of ['sessions.json', 'SESSIONS.md']) expect([file, modeOf(join(sb.sessionsDir, file))]).toEqual([file, 0o600]);
    for (const file of readdirSync(state).filter((f) => !['approved', 'inbox', '.env'].includes(f))) expect([file, modeOf(join(state, file))]).toEqual([file, 0o600]);

    new Inbox(join(state, 'inbox')).add({ id: '5', content: 'hi', meta: { chat_id: id, message_id: '5' }, at: Date.now() });
    for (const file of readdirSync(join(state, 'inbox'))) expect([file, modeOf(join(state, 'inbox', file))]).toEqual([file, 0o600]);

    chmodSync(sb.sessionsDir, 0o755);
    const log = createConsola({ level: 0, reporters: [] });
    await runDaemon({ name: 'watchdog', what: 'The watchdog', pidFile: join(sb.sessionsDir, 'watchdog.pid'), sessionsDir: sb.sessionsDir, log, clock: Date }, async () => {
      expect(modeOf(join(sb.sessionsDir, 'watchdog.pid'))).toBe(0o600);
    });
    expect(modeOf(sb.sessionsDir)).toBe(0o700);
    expect(modeOf(join(sb.sessionsDir, 'watchdog.status.json'))).toBe(0o600);
  });
});

describe('names with control or bidi characters are cleaned for display', () => {
  const EVIL = 'report\u202Etxt.exe\u202C \u001b[2J\u0007bell\u009b\u2066iso\u2069\nnext';

  test('a name given at spawn is stored clean', async () => {
    const id = '410000000000000002';
    expect((await sb.run('spawn', id, '--name', EVIL)).code).toBe(0);
    const name = String(sb.registry()[id]!.name);
    expect(name).not.toMatch(HIDDEN);
    expect(name).toBe('report txt.exe [2J bell iso next');
  });

  test('a name an older version stored raw shows clean in list, status, /sessions, /status and SESSIONS.md', async () => {
    const id = '410000000000000003';
    const registry = sb.registry();
    registry[id] = { type: 'channel', name: EVIL, tmux: `dc-${id}`, parent: null, created: '2026-01-01T00:00:00' };
    writeFileSync(join(sb.sessionsDir, 'sessions.json'), JSON.stringify(registry));
    const list = (await sb.run('list')).out;
    const status = (await sb.run('status')).out;
    const { ctx } = sb.context();
    const chat = { manager: ctx.manager, log: ctx.io.log, session: id, actor: 'owner' as const };
    const sessions = await runChatCommand('sessions', '', chat);
    const one = await runChatCommand('status', '', chat);
    for (const text of [list, status, sessions, one]) {
      expect(text).toContain('report txt.exe [2J bell iso next');
      expect(text).not.toMatch(HIDDEN);
    }
    // Any registry write rebuilds SESSIONS.md.
    expect((await sb.run('kill', '410000000000000002')).code).toBe(0);
    const table = readFileSync(join(sb.sessionsDir, 'SESSIONS.md'), 'utf8');
    expect(table).toContain('| report txt.exe [2J bell iso next |');
    expect(table.replace(/\n/g, '')).not.toMatch(HIDDEN);
  });
});
