import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TmuxResult, type TmuxRunner, Tmux, attachArgv, createTmuxRunner, escapeTmuxArg } from '../../lib/core/host/tmux.ts';
import { Sandbox, waitFor } from '../helpers.ts';

let sb: Sandbox;
beforeAll(() => {
  sb = new Sandbox();
});
afterAll(async () => {
  await sb.cleanup();
});

/** Starts `sh -c script` in a session and waits until it has exited (the pane is kept dead). */
async function runToDeath(name: string, script: string, args: string[] = [], cwd = sb.dir, env: Record<string, string> = {}): Promise<void> {
  await sb.tmux.newSession({ name, cwd, argv: ['sh', '-c', script, 'sh', ...args], env, remainOnExit: true });
  await waitFor(async () => (await sb.tmux.listSessions()).get(name)?.dead === true, 5000, `${name} to exit`);
}

function nulList(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  expect(text.endsWith('\0')).toBe(true);
  return text.slice(0, -1).split('\0');
}

describe('escapeTmuxArg', () => {
  test.each<[string, string]>([
    ['plain', 'plain'],
    ['', ''],
    ['a;', 'a\\;'],
    [';', '\\;'],
    ['a;b', 'a;b'],
    [';a', ';a'],
    ['a\\;', 'a\\\\;'],
    ['a;;', 'a;\\;'],
    ['#{session_name}', '#{session_name}'],
    ['{', '{'],
  ])('%j → %j', (input, expected) => {
    expect(escapeTmuxArg(input)).toBe(expected);
  });
});

describe('attachArgv', () => {
  test.each<[string | undefined, boolean, string[]]>([
    [undefined, false, ['tmux', 'attach-session', '-t', '=dc-123456']],
    [undefined, true, ['tmux', 'switch-client', '-t', '=dc-123456']],
    ['/s/sock', false, ['tmux', '-S', '/s/sock', 'attach-session', '-t', '=dc-123456']],
  ])('socket %p, inside tmux %p', (socket, inside, expected) => {
    expect(attachArgv({ socket }, 'dc-123456', inside)).toEqual(expected);
  });
});

describe('listSessions', () => {
  test('no server: an empty map, not an error', async () => {
    const idle = new Tmux(createTmuxRunner({ socket: join(sb.dir, 'never-started.sock'), env: sb.env }));
    expect((await idle.listSessions()).size).toBe(0);
  });

  test('a live session, a dead one kept by remain-on-exit, activity and creation times', async () => {
    const before = Math.floor(Date.now() / 1000);
    await sb.tmux.newSession({ name: 'alive', cwd: sb.dir, argv: ['sleep', '1000'], env: {}, remainOnExit: true });
    // It waits for a key before exiting: output written just before a pty closes can be lost on Linux.
    await sb.tmux.newSession({ name: 'dead', cwd: sb.dir, argv: ['sh', '-c', 'echo bye; read x; exit 3'], env: {}, remainOnExit: true });
    await sb.waitForPane('dead', /bye/);
    await sb.tmux.sendKeys('dead', ['Enter']);
    await waitFor(async () => (await sb.tmux.listSessions()).get('dead')?.dead === true, 5000, 'dead to exit');
    const after = Math.ceil(Date.now() / 1000);
    const sessions = await sb.tmux.listSessions();
    expect(sessions.get('alive')).toMatchObject({ name: 'alive', dead: false });
    expect(sessions.get('dead')).toMatchObject({ name: 'dead', dead: true });
    for (const name of ['alive', 'dead']) {
      const info = sessions.get(name)!;
      expect(info.created).toBeGreaterThanOrEqual(before);
      expect(info.created).toBeLessThanOrEqual(after);
      expect(info.activity).toBeGreaterThanOrEqual(info.created);
      expect(info.activity).toBeLessThanOrEqual(after);
      expect(info.panePid).toBeGreaterThan(0);
    }
    // The dead pane's last words stay readable (tmux 3.3 may scroll them off the visible screen).
    expect(await sb.tmux.capturePane('dead', 50)).toMatch(/^bye$/m);
  });

  test('without remain-on-exit a finished session disappears', async () => {
    await sb.tmux.newSession({ name: 'gone', cwd: sb.dir, argv: ['sh', '-c', 'exit 0'], env: {} });
    await waitFor(async () => !(await sb.tmux.listSessions()).has('gone'), 5000, 'gone to vanish');
    expect(await sb.tmux.hasSession('gone')).toBe(false);
  });

  test('parses one line per session from a single list-sessions call', async () => {
    const calls: string[][] = [];
    const runner: TmuxRunner = async (args) => {
      calls.push(args);
      return { code: 0, stdout: 'dc-1\t0\t100\t150\t90\t42\nwatch\t1\t200\t0\t80\t43\n\n', stderr: '' };
    };
    const sessions = await new Tmux(runner).listSessions();
    expect(calls).toHaveLength(1);
    expect(calls[0]![0]).toBe('list-sessions');
    expect(sessions.get('dc-1')).toMatchObject({ name: 'dc-1', dead: false, activity: 150, created: 90, panePid: 42 });
    expect(sessions.get('watch')).toMatchObject({ dead: true, activity: 200, created: 80, panePid: 43 });
    expect([...sessions.keys()]).toEqual(['dc-1', 'watch']);
  });

  test.each<[string, boolean]>([
    ['no server running on /tmp/x/sock', true],
    ['error connecting to /tmp/x/sock (No such file or directory)', true],
    ['server exited unexpectedly', true],
    ['permission denied', false],
    ['unknown option -- F', false],
  ])('stderr %j → empty map: %p', async (stderr, empty) => {
    const runner: TmuxRunner = async (): Promise<TmuxResult> => ({ code: 1, stdout: '', stderr });
    const listing = new Tmux(runner).listSessions();
    if (empty) expect((await listing).size).toBe(0);
    else await expect(listing).rejects.toThrow(`tmux list-sessions failed: ${stderr}`);
  });
});

describe('names are exact', () => {
  test('has-session and kill-session never match a prefix', async () => {
    await sb.tmux.newSession({ name: 'dc-1234567', cwd: sb.dir, argv: ['sleep', '1000'], env: {} });
    expect(await sb.tmux.hasSession('dc-1234567')).toBe(true);
    expect(await sb.tmux.hasSession('dc-123456')).toBe(false);
    expect(await sb.tmux.killSession('dc-123456')).toBe(false);
    expect(await sb.tmux.hasSession('dc-1234567')).toBe(true);
    expect(await sb.tmux.killSession('dc-1234567')).toBe(true);
    expect(await sb.tmux.hasSession('dc-1234567')).toBe(false);
  });

  test('a second session of the same name is refused', async () => {
    await sb.tmux.newSession({ name: 'twice', cwd: sb.dir, argv: ['sleep', '1000'], env: {} });
    await expect(sb.tmux.newSession({ name: 'twice', cwd: sb.dir, argv: ['sleep', '1000'], env: {} })).rejects.toThrow(/duplicate session/);
  });
});

describe('hostile arguments reach the child byte for byte', () => {
  const HOSTILE = [
    'name;',
    'kill-server',
    ';',
    'x\\;',
    '\\;',
    '\\',
    '{',
    '}',
    '{ kill-server }',
    '#{session_name}',
    '#(touch pwned)',
    '##',
    '$HOME',
    '${HOME}',
    '~',
    'line1\nline2',
    'tab\there',
    '',
    ' spaced ',
    '-d',
    '--',
    `'"\``,
    'ünï 🎉',
  ];

  test('argv, env and cwd', async () => {
    await sb.tmux.newSession({ name: 'bystander', cwd: sb.dir, argv: ['sleep', '1000'], env: {} });
    const cwd = join(sb.dir, 'dir #{session_name} #(touch pwned2) x;');
    mkdirSync(cwd, { recursive: true });
    const out = join(sb.dir, 'hostile');
    const env = { H_SEMI: 'v;', H_FORMAT: '#{session_name}', H_LINES: 'a\nb', H_DOLLAR: '$HOME' };
    await runToDeath(
      'hostile',
      'printf "%s\\0" "$@" > "$OUT.args"; printf "%s\\0" "$H_SEMI" "$H_FORMAT" "$H_LINES" "$H_DOLLAR" > "$OUT.env"; pwd > "$OUT.cwd"',
      HOSTILE,
      cwd,
      { ...env, OUT: out },
    );
    expect(nulList(`${out}.args`)).toEqual(HOSTILE);
    expect(nulList(`${out}.env`)).toEqual(Object.values(env));
    expect(readFileSync(`${out}.cwd`, 'utf8')).toBe(`${cwd}\n`);
    expect(existsSync(join(sb.dir, 'pwned'))).toBe(false);
    expect(existsSync(join(cwd, 'pwned2'))).toBe(false);
    expect(existsSync(join(sb.dir, 'pwned2'))).toBe(false);
    // The server survived and nothing else was run.
    expect(await sb.tmux.hasSession('bystander')).toBe(true);
    expect((await sb.tmux.listSessions()).get('hostile')?.dead).toBe(true);
  });

  test('a one-element argv is refused (tmux would run it through sh -c)', async () => {
    await expect(sb.tmux.newSession({ name: 'shell', cwd: sb.dir, argv: ['touch pwned3; sleep 1000'], env: {} })).rejects.toThrow(/at least two elements/);
    expect(await sb.tmux.hasSession('shell')).toBe(false);
    expect(existsSync(join(sb.dir, 'pwned3'))).toBe(false);
  });

  test('send-keys types text literally and capture-pane reads it back', async () => {
    await sb.tmux.newSession({ name: 'typing', cwd: sb.dir, argv: ['sh', '-c', 'read line; printf "got[%s]\\n" "$line"; exec sleep 1000'], env: {} });
    await sb.tmux.sendKeys('typing', ['hello #{session_name};'], true);
    await sb.tmux.sendKeys('typing', ['Enter']);
    await sb.waitForPane('typing', /got\[hello #\{session_name\};\]/);
    expect(await sb.tmux.capturePane('typing', 100)).toContain('got[hello #{session_name};]');
    expect(await sb.tmux.hasSession('bystander')).toBe(true);
  });

  test('capture-pane of a missing session is an error naming it', async () => {
    await expect(sb.tmux.capturePane('missing')).rejects.toThrow(/tmux capture-pane missing failed/);
  });
});

describe('the socket is private', () => {
  test('CRS_TMUX_SOCKET wins over an inherited $TMUX', async () => {
    const sock = join(sb.dir, 'other.sock');
    const tmux = new Tmux(createTmuxRunner({ socket: sock, env: { ...sb.env, TMUX: '/nonexistent/socket,1,0' } }));
    try {
      await tmux.newSession({ name: 'mine', cwd: sb.dir, argv: ['sleep', '1000'], env: {} });
      expect([...(await tmux.listSessions()).keys()]).toEqual(['mine']);
      expect(existsSync(sock)).toBe(true);
      expect((await sb.tmux.listSessions()).has('mine')).toBe(false);
    } finally {
      await tmux.killServer();
    }
    expect((await tmux.listSessions()).size).toBe(0);
  });
});
