import { beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers.ts';

const DIST = join(ROOT, 'dist');
const PROGRAMS = ['discord-session-manager', 'discord-watchdog', 'discord-slash-daemon', 'telegram-session-manager'];

beforeAll(async () => {
  // CI builds before testing; a developer's checkout may not have built yet.
  if (!existsSync(join(DIST, 'claude-remote-sessions'))) {
    const build = Bun.spawn(['bun', join(ROOT, 'scripts/build.ts')], { cwd: ROOT, stdout: 'ignore', stderr: 'inherit' });
    expect(await build.exited).toBe(0);
  }
}, 120_000);

async function run(argv: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'crs-dist-'));
  try {
    const proc = Bun.spawn(argv, { cwd: dir, env: { PATH: process.env.PATH!, HOME: dir, CLAUDE_CONFIG_DIR: join(dir, 'claude'), CRS_TMUX_SOCKET: join(dir, 'tmux.sock') }, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { code, out, err };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the compiled executable (run from a directory with no node_modules)', () => {
  test('one binary, with each program as a link to it', () => {
    for (const program of PROGRAMS) {
      expect(lstatSync(join(DIST, program)).isSymbolicLink()).toBe(true);
      expect(readlinkSync(join(DIST, program))).toBe('claude-remote-sessions');
    }
  });

  test.each(PROGRAMS)('%s --help exits 0 and names itself', async (program) => {
    const result = await run([join(DIST, program), '--help']);
    expect(result.code).toBe(0);
    expect(result.out).toContain(`(${program})`);
  });

  test.each([...PROGRAMS, 'claude-remote-sessions'])('%s --version prints the package version', async (program) => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(await run([join(DIST, program), '--version'])).toEqual({ code: 0, out: `${version}\n`, err: '' });
  });

  test.each(['discord-session-manager', 'telegram-session-manager'])('%s list --json on an empty config dir prints []', async (program) => {
    const result = await run([join(DIST, program), 'list', '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.out)).toEqual([]);
  });

  test('the multi-call name dispatches on its first argument, and refuses an unknown one', async () => {
    expect((await run([join(DIST, 'claude-remote-sessions'), 'discord-watchdog', '--status'])).out).toContain('Watchdog: STOPPED');
    const bad = await run([join(DIST, 'claude-remote-sessions'), 'nope']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('name a program');
  });

  test('a bad command still gets a one-line error and exit 2', async () => {
    const result = await run([join(DIST, 'discord-session-manager'), 'spawn', 'not-an-id']);
    expect(result.code).toBe(2);
    expect(result.err.trim().split('\n')).toHaveLength(1);
  });
});
