import { expect, test } from 'bun:test';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers.ts';

test('`bun run demo` tours discovery, listing and a watchdog respawn, then removes everything', async () => {
  const env = { ...process.env };
  delete env.TMUX;
  const proc = Bun.spawn(['bun', join(ROOT, 'scripts/demo.ts')], { cwd: ROOT, env: env as Record<string, string>, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect(code).toBe(0);
  expect(out).toContain('Discovered 3 channels, spawned 3 new session(s)');
  expect(out).toContain('Discovered 1 active threads, spawned 1 new session(s)');
  expect(out).toMatch(/\[UP  \]  dc-\d+\s+thread\s+release-plan/);
  expect(out).toMatch(/is back after \d+\.\d\d s, resuming the same conversation/);
  expect(err).toContain('(resumed)');
  const dir = /everything lives in (\S+) and is removed/.exec(out)![1]!;
  expect(existsSync(dir)).toBe(false);
}, 60_000);
