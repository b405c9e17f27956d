import { afterAll, describe, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers.ts';

/** Every run gets a TMPDIR of its own: what the demo leaves behind is whatever is left in it. */
const base = mkdtempSync(join(tmpdir(), 'crs-demo-test-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
/** A Claude Code cache with nothing in it: the demo then runs its stand-in (quicker to interrupt). */
const NO_REAL_CLAUDE = { CRS_CLAUDE_CODE_CACHE: join(base, 'no-claude-code') };

interface DemoRun {
  code: number;
  /** The signal that killed it, if one did. */
  signal: string | number | null;
  out: string;
  err: string;
  /** The demo's TMPDIR. */
  tmp: string;
  /** The mode of its temp folder while it ran, if it was seen. */
  dirMode?: number;
}

/**
 * Runs `bun scripts/demo.ts`; with `interrupt`, sends SIGINT once stdout matches it (`at` is how many
 * SIGINTs, the later ones as soon as the demo says it is cleaning up).
 */
async function runDemo(env: Record<string, string> = {}, interrupt?: { when: RegExp | 'at once'; times?: number }): Promise<DemoRun> {
  const tmp = join(base, `run-${Math.random().toString(36).slice(2)}`);
  mkdirSync(tmp);
  const childEnv: Record<string, string | undefined> = { ...process.env, TMPDIR: tmp, ...env };
  delete childEnv.TMUX;
  const proc = Bun.spawn([process.execPath, join(ROOT, 'scripts/demo.ts')], { cwd: ROOT, env: childEnv as Record<string, string>, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
  let out = '';
  let sent = 0;
  let dirMode: number | undefined;
  const times = interrupt?.times ?? 1;
  if (interrupt?.when === 'at once') {
    proc.kill('SIGINT');
    sent++;
  }
  const reading = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout) {
      out += decoder.decode(chunk);
      const dir = /everything lives in (\S+) and is removed/.exec(out)?.[1];
      if (dir && dirMode === undefined) dirMode = statSync(dir, { throwIfNoEntry: false })?.mode;
      if (!interrupt || sent >= times) continue;
      if (sent === 0 && interrupt.when instanceof RegExp && interrupt.when.test(out)) {
        proc.kill('SIGINT');
        sent++;
      } else if (sent > 0 && out.includes('Interrupted: removing everything')) {
        proc.kill('SIGINT');
        sent++;
      }
    }
  })();
  const [err, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited, reading]);
  return { code, signal: proc.signalCode, out, err, tmp, dirMode };
}

/** Processes whose command line or environment mention `path` (the demo's tmux server, sessions, bridges). */
function processesMentioning(path: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    for (const file of ['cmdline', 'environ']) {
      try {
        if (readFileSync(`/proc/${pid}/${file}`, 'utf8').includes(path)) found.push(`${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')}`);
      } catch {}
    }
  }
  return found;
}

/** Nothing of the run is left: its TMPDIR is empty and no process of it runs. */
function expectNothingLeft(run: DemoRun): void {
  expect(readdirSync(run.tmp)).toEqual([]);
  expect(processesMentioning(run.tmp)).toEqual([]);
}

test('`bun run demo`: a message goes in, the session replies, the watchdog brings a killed session back; nothing is left', async () => {
  const run = await runDemo();
  expect({ code: run.code, err: run.code ? run.err : '' }).toEqual({ code: 0, err: '' });
  expect(run.dirMode! & 0o777).toBe(0o700);
  expect(run.out).toContain('#general  you: What are we shipping this week?');
  expect(run.out).toContain('#general  Claude Code: Got it: "What are we shipping this week?". This reply comes from');
  expect(run.out).toContain('thread "release-plan"  Claude Code: Got it: "Plan the migration, step by step."');
  expect(run.out).toMatch(/\[(UP  |BUSY)\]  dc-\d+\s+thread\s+release-plan/);
  expect(run.out).toMatch(/is back after \d+\.\d\d s, resuming the same conversation/);
  expect(run.err).toContain('Slash daemon connected');
  expect(run.err).toMatch(/RESPAWNED  dc-\d+ .*\(resumed\)/);
  expectNothingLeft(run);
}, 180_000);

test('without tmux it stops at once: one line on how to install it, exit 1, nothing made', async () => {
  const run = await runDemo({ PATH: join(base, 'empty-path') });
  expect(run.code).toBe(1);
  expect(run.out).toBe('');
  expect(run.err.trim().split('\n')).toHaveLength(1);
  expect(run.err).toMatch(/needs tmux, which is not installed: install it \(`sudo apt-get install tmux`, `brew install tmux`\)/);
  expectNothingLeft(run);
}, 30_000);

describe('Ctrl-C at any moment leaves nothing behind', () => {
  const moments: Array<[string, RegExp | 'at once', number]> = [
    ['at once', 'at once', 1],
    ['once its folder exists', /everything lives in/, 1],
    ['while the router connects', /The router: /, 1],
    ['while the sessions start', /you: Plan the migration/, 1],
    ['with the sessions up, pressed twice', /release-plan"  Claude Code: /, 2],
    ['while the watchdog respawns', /Killing dc-/, 1],
  ];
  test.each(moments)('%s', async (_moment, when, times) => {
    const run = await runDemo(NO_REAL_CLAUDE, { when, times });
    // Killed by the signal before its handler was in place, else exit 130 after cleaning up.
    if (run.signal !== 'SIGINT') {
      expect(run.code).toBe(130);
      expect(run.out).toContain('Interrupted: removing everything the demo made.');
    }
    expectNothingLeft(run);
  }, 60_000);
});
