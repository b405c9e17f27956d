/**
 * Installs the pinned Claude Code CLI for the real-CLI end-to-end tests into a cache folder outside
 * the project (`$CRS_CLAUDE_CODE_CACHE`, default `~/.cache/claude-remote-sessions/claude-code-<version>`)
 * and prints the binary's path. `.ci/run` runs it before the tests; the tests run it when it is missing.
 * It is kept out of package.json: the package weighs ~235 MB and the quick start does not need it.
 *
 *   bun scripts/claude-code.ts          install if missing, print the path
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The Claude Code version the real-CLI tests run (FACTS.md was checked against it). */
export const CLAUDE_CODE_VERSION = '2.1.197';

export function claudeCodeCache(env: Record<string, string | undefined> = process.env): string {
  return env.CRS_CLAUDE_CODE_CACHE || join(env.HOME || homedir(), '.cache', 'claude-remote-sessions', `claude-code-${CLAUDE_CODE_VERSION}`);
}

/**
 * Where the installed binary is: the native binary of this platform's optional package
 * (`@anthropic-ai/claude-code-linux-x64/claude`, ...), which does not depend on npm having run the
 * wrapper's postinstall (npm 11 may hold install scripts back).
 */
export function claudeCodeBinary(env: Record<string, string | undefined> = process.env, root = claudeCodeCache(env)): string {
  const scope = join(root, 'node_modules', '@anthropic-ai');
  const libc = process.platform === 'linux' && !existsSync('/lib64/ld-linux-x86-64.so.2') && !existsSync('/lib/ld-linux-aarch64.so.1') ? '-musl' : '';
  return join(scope, `claude-code-${process.platform}-${process.arch}${libc}`, 'claude');
}

/** Installs the pinned version with npm into a temporary folder, then moves it into place (a crash leaves no half install). */
export async function installClaudeCode(env: Record<string, string | undefined> = process.env): Promise<string> {
  const cache = claudeCodeCache(env);
  const bin = claudeCodeBinary(env);
  if (existsSync(bin)) return bin;
  const staging = `${cache}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const proc = Bun.spawn(
    ['npm', 'install', '--no-audit', '--no-fund', '--no-save', '--ignore-scripts', '--prefix', staging, `@anthropic-ai/claude-code@${CLAUDE_CODE_VERSION}`],
    { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe', env: { ...process.env, npm_config_update_notifier: 'false' } },
  );
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  const staged = claudeCodeBinary(env, staging);
  if (code !== 0 || !existsSync(staged)) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(`npm install @anthropic-ai/claude-code@${CLAUDE_CODE_VERSION} failed (exit ${code}): ${(err || out).trim().split('\n').slice(-3).join(' ')}`);
  }
  const check = Bun.spawnSync([staged, '--version'], { stdout: 'pipe', stderr: 'pipe', env: { PATH: process.env.PATH ?? '', HOME: staging } });
  if (!check.stdout.toString().includes(CLAUDE_CODE_VERSION)) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(`the installed claude did not report version ${CLAUDE_CODE_VERSION}: ${check.stdout.toString().trim() || check.stderr.toString().trim()}`);
  }
  if (!existsSync(bin)) {
    mkdirSync(join(cache, '..'), { recursive: true });
    rmSync(cache, { recursive: true, force: true });
    renameSync(staging, cache);
  } else {
    rmSync(staging, { recursive: true, force: true });
  }
  return bin;
}

if (import.meta.main) {
  try {
    console.log(await installClaudeCode());
  } catch (error) {
    console.error(`claude-code: ${(error as Error).message}`);
    process.exit(1);
  }
}
