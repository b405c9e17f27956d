import { afterAll, describe, expect, test } from 'bun:test';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nextStep } from '../../lib/commands/sessions/init.ts';
import { TELEGRAM } from '../../lib/core/config/platform.ts';
import { ROOT } from '../helpers.ts';

/** The skill's folder: what `npx skills add` copies (its symlinks followed). */
const SKILL_DIR = join(ROOT, 'skills/claude-remote-sessions');
const skillMd = readFileSync(join(SKILL_DIR, 'SKILL.md'), 'utf8');
const front = Bun.YAML.parse(/^---\n([\s\S]*?)\n---\n/.exec(skillMd)?.[1] ?? '') as { name?: string; description?: string; metadata?: { version?: string } };
/** Claude Code and the skills CLI cut a longer description. */
const MAX_DESCRIPTION = 1024;
const MAX_INSTALLED_BYTES = 5 * 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'crs-skill-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[], cwd: string, env: Record<string, string> = {}) {
  const proc = Bun.spawn(argv, { cwd, env: { ...process.env, ...env } as Record<string, string>, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out: out + err };
}

describe('the claude-remote-sessions skill', () => {
  test('SKILL.md front matter: the name, a description within 1024 characters that starts with the trigger phrases, the version', () => {
    expect(front.name).toBe('claude-remote-sessions');
    const description = front.description ?? '';
    expect(description.length).toBeGreaterThan(200);
    expect(description.length).toBeLessThanOrEqual(MAX_DESCRIPTION);
    expect(description).toStartWith('Use when the user says "discord sessions"');
    const phrases = ['discord sessions', 'per-channel discord', 'discord watchdog', 'spawn discord session', 'discord channel session', 'discord thread session', 'telegram sessions', 'per-chat telegram'];
    for (const phrase of phrases) expect(description.indexOf(`"${phrase}"`)).toBeLessThan(250);
    // A new version changes SKILL.md, which is how `npx skills update` notices a release.
    expect(front.metadata?.version).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
  });

  test('every reference it links exists, and both ways to run are documented', () => {
    const links = [...skillMd.matchAll(/\]\((references\/[^)]+)\)/g)].map((m) => m[1]!);
    expect(links.length).toBeGreaterThanOrEqual(2);
    for (const link of links) expect(existsSync(join(SKILL_DIR, link.replace(/#.*$/, '')))).toBe(true);
    expect(skillMd).toContain('bun run build');
    expect(skillMd).toContain('bun bin/<program>.ts');
  });

  test('one Telegram start recipe: init\'s "Next:", the README and SKILL.md all start the watchdog, never serve by hand', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const recipe = 'telegram-session-manager watchdog --daemon';
    expect(nextStep({ platform: TELEGRAM })).toContain(recipe);
    for (const text of [readme, skillMd]) {
      expect(text).toContain(recipe);
      expect(text).not.toMatch(/serve --daemon/);
    }
  });

  test('the real `skills` CLI installs it from a built checkout into a project: sources and references, no node_modules or dist', async () => {
    // A clone holds only what is committed, as a user's `npx skills add <repo>` would fetch; then it is built.
    const checkout = join(dir, 'checkout');
    expect((await run(['git', 'clone', '--quiet', '--depth', '1', `file://${ROOT}`, checkout], dir)).code).toBe(0);
    const filler = Buffer.alloc(MAX_INSTALLED_BYTES + 1, 1);
    for (const file of ['node_modules/discord.js/index.js', 'dist/claude-remote-sessions']) {
      mkdirSync(join(checkout, file, '..'), { recursive: true });
      writeFileSync(join(checkout, file), filler);
    }
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
    const installed = realpathSync(join(project, '.claude/skills/claude-remote-sessions'));
    expect(readFileSync(join(installed, 'SKILL.md'), 'utf8')).toBe(readFileSync(join(checkout, 'skills/claude-remote-sessions/SKILL.md'), 'utf8'));
    expect(readdirSync(installed).sort()).toEqual(['SKILL.md', 'bin', 'bun.lock', 'launchd', 'lib', 'package.json', 'references', 'scripts']);
    for (const file of ['references/troubleshooting.md', 'bin/discord-session-manager.ts', 'lib/app.ts', 'scripts/build.ts', 'launchd/claude-remote-sessions-watchdog.service']) {
      expect(existsSync(join(installed, file))).toBe(true);
    }
    // Real files, not links back into the checkout, and small.
    let bytes = 0;
    const walk = (path: string) => {
      const stat = lstatSync(path);
      expect(stat.isSymbolicLink()).toBe(false);
      if (stat.isDirectory()) for (const entry of readdirSync(path)) walk(join(path, entry));
      else bytes += stat.size;
    };
    walk(installed);
    expect(bytes).toBeLessThan(MAX_INSTALLED_BYTES);
    // The copy runs from source once it has its dependencies (`bun install` there; here the checkout's own).
    symlinkSync(join(ROOT, 'node_modules'), join(installed, 'node_modules'));
    const help = await run(['bun', join(installed, 'bin/telegram-session-manager.ts'), '--help'], dir, { CLAUDE_CONFIG_DIR: join(dir, 'claude') });
    expect(help.code).toBe(0);
    expect(help.out).toContain('USAGE telegram-session-manager');
  }, 60_000);
});
