import { afterAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers.ts';

const skillMd = readFileSync(join(ROOT, 'SKILL.md'), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'crs-skill-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[], cwd: string, env: Record<string, string> = {}) {
  const proc = Bun.spawn(argv, { cwd, env: { ...process.env, ...env } as Record<string, string>, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out: out + err };
}

describe('the claude-remote-sessions skill', () => {
  test('SKILL.md front matter names the skill and carries the trigger phrases', () => {
    const front = /^---\n([\s\S]*?)\n---\n/.exec(skillMd)?.[1] ?? '';
    expect(front).toMatch(/^name: claude-remote-sessions$/m);
    for (const phrase of ['discord sessions', 'per-channel discord', 'discord watchdog', 'spawn discord session', 'discord channel session', 'discord thread session']) {
      expect(front).toContain(`"${phrase}"`);
    }
  });

  test('every reference it links exists, and both ways to run are documented', () => {
    const links = [...skillMd.matchAll(/\]\((references\/[^)]+)\)/g)].map((m) => m[1]!);
    expect(links.length).toBeGreaterThanOrEqual(2);
    for (const link of links) expect(existsSync(join(ROOT, link))).toBe(true);
    expect(skillMd).toContain('bun run build');
    expect(skillMd).toContain('bun bin/<program>.ts');
  });

  test('the real `skills` CLI installs it from a clean checkout into a project', async () => {
    // A clone holds only what is committed, as a user's `npx skills add <repo>` would fetch.
    const checkout = join(dir, 'checkout');
    expect((await run(['git', 'clone', '--quiet', '--depth', '1', `file://${ROOT}`, checkout], dir)).code).toBe(0);
    const project = join(dir, 'project');
    expect((await run(['git', 'init', '--quiet', project], dir)).code).toBe(0);
    const cli = join(ROOT, 'node_modules/skills/bin/cli.mjs');
    const result = await run(['bun', cli, 'add', checkout, '--skill', 'claude-remote-sessions', '--yes', '--agent', 'claude-code'], project, {
      HOME: join(dir, 'home'),
      DISABLE_TELEMETRY: '1',
      DO_NOT_TRACK: '1',
      CI: '1',
    });
    expect(result.code).toBe(0);
    const installed = join(project, '.claude/skills/claude-remote-sessions');
    expect(readFileSync(join(installed, 'SKILL.md'), 'utf8')).toBe(readFileSync(join(checkout, 'SKILL.md'), 'utf8'));
    expect(existsSync(join(installed, 'references/troubleshooting.md'))).toBe(true);
    expect(existsSync(join(installed, 'bin/discord-session-manager.ts'))).toBe(true);
  }, 60_000);
});
