#!/usr/bin/env bun
/**
 * Benchmarks at N live sessions (default 200), printed beside their floor; nothing is asserted.
 *   (a) the "who is dead" check in-process: manager.list() and tmux.listSessions() vs a raw
 *       `tmux list-sessions -F` process;
 *   (b) `dist/discord-session-manager list` (compiled) vs a raw `tmux list-sessions` process;
 *   (c) manager.spawn of a new session vs a raw `tmux new-session -d`.
 * Runs on a private tmux socket and temp dirs (the test Sandbox) with the stand-in claude, and
 * removes both on exit, error or Ctrl-C. Usage: bun bench/index.ts [--sessions N]
 */
import { cpus, loadavg, release, totalmem } from 'node:os';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Tmux } from '../lib/core/host/tmux.ts';
import { ROOT, Sandbox, waitFor } from '../test/helpers.ts';

const ID_BASE = 1200000000000000000n;
const LIST_RUNS = 20;
const BINARY_RUNS = 10;
const WARMUP_RUNS = 3;
const SETTLE_TIMEOUT_MS = 30_000;
const LIST_GOAL_MS = 30;
const BINARY_GOAL_MS = 100;
const SPAWN_GOAL_FACTOR = 2;
/** A raw new-session floor is taken beside every Nth spawn (keeps the run well under 2 minutes). */
const SPAWN_FLOOR_EVERY = 2;
const BINARY = join(ROOT, 'dist', 'discord-session-manager');

interface Row {
  measure: string;
  samples: number[];
  floor: number[] | null;
  /** Goal for the median, in ms. */
  goalMs: number;
  goalText: string;
}

/** The exact argv `Tmux.listSessions()` runs (same -F fields), so the floor asks tmux for the same work. */
async function listSessionsArgv(): Promise<string[]> {
  let argv: string[] = [];
  await new Tmux(async (args) => {
    argv = args;
    return { code: 0, stdout: '', stderr: '' };
  }).listSessions();
  return argv;
}

function parseSessions(argv: string[]): number {
  const index = argv.indexOf('--sessions');
  const value = index >= 0 ? argv[index + 1] : process.env.BENCH_SESSIONS;
  const n = value === undefined ? 200 : Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 2000) {
    console.error(`bench: --sessions must be an integer from 1 to 2000, got ${JSON.stringify(value)}`);
    process.exit(2);
  }
  return n;
}

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const median = (samples: number[]) => percentile(samples, 50);
const ms = (value: number) => `${value.toFixed(1)} ms`;

async function time(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

/** `runs` timed rounds (after warm-up ones) of every function in turn; one sample list per function. */
async function rounds(runs: number, fns: (() => Promise<unknown>)[]): Promise<number[][]> {
  const samples = fns.map(() => [] as number[]);
  for (let round = 0; round < WARMUP_RUNS + runs; round++) {
    for (const [index, fn] of fns.entries()) {
      const elapsed = await time(fn);
      if (round >= WARMUP_RUNS) samples[index]!.push(elapsed);
    }
  }
  return samples;
}

/**
 * Runs a process to completion, reading its output; throws on a non-zero exit. The child's CPU
 * time (user + system, ms) goes to `cpu` when given: unlike wall time it barely moves with load.
 */
async function runProcess(argv: string[], env: Record<string, string>, cwd: string, cpu?: number[]): Promise<string> {
  const proc = Bun.spawn(argv, { env, cwd, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`${argv.slice(0, 4).join(' ')} … exited ${code}: ${err.trim().split('\n')[0]}`);
  const usage = proc.resourceUsage();
  if (cpu && usage) cpu.push(Number(usage.cpuTime.total) / 1000);
  return out;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/** Builds dist/ when the binary is missing or older than bin/ and lib/. */
async function ensureBinary(): Promise<void> {
  const stale = !existsSync(BINARY) || statSync(BINARY).mtimeMs < Math.max(newestMtime(join(ROOT, 'bin')), newestMtime(join(ROOT, 'lib')));
  if (!stale) return;
  console.error(`bench: ${existsSync(BINARY) ? 'rebuilding stale' : 'building'} ${BINARY} (bun scripts/build.ts)`);
  const proc = Bun.spawn(['bun', join(ROOT, 'scripts/build.ts')], { cwd: ROOT, stdin: 'ignore', stdout: 'inherit', stderr: 'inherit' });
  if ((await proc.exited) !== 0) throw new Error('bench: the build failed (see above)');
}

function reportMachine(sessions: number): void {
  const cpu = cpus();
  const tmuxVersion = Bun.spawnSync(['tmux', '-V']).stdout.toString().trim();
  console.log(`# claude-remote-sessions bench, ${new Date().toISOString()}`);
  console.log(`# ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Linux ${release()}`);
  console.log(`# bun ${Bun.version}, ${tmuxVersion}, ${sessions} live sessions (stand-in claude), private tmux socket`);
  console.log(`# load average at start: ${formatLoad()}\n`);
}

/** Other work on the machine skews every figure; the load average is printed so a reader can tell. */
function formatLoad(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

function reportTable(rows: Row[]): void {
  const header = ['measure', 'median', 'p95', 'floor (median)', 'goal', 'within goal'];
  const lines = rows.map((row) => {
    const med = median(row.samples);
    return [
      row.measure,
      ms(med),
      ms(percentile(row.samples, 95)),
      row.floor ? ms(median(row.floor)) : '-',
      row.goalText,
      med <= row.goalMs ? 'yes' : `NO (${(med / row.goalMs).toFixed(1)}× goal)`,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const format = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(format(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const line of lines) console.log(format(line));
}

async function main(): Promise<void> {
  const sessions = parseSessions(process.argv.slice(2));
  await ensureBinary();
  const sb = new Sandbox();
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    await sb.cleanup();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    reportMachine(sessions);
    const { ctx } = sb.context();
    const env = sb.env as Record<string, string>;
    const tmuxRaw = ['tmux', '-S', env.CRS_TMUX_SOCKET!, '-f', '/dev/null'];
    const listArgv = await listSessionsArgv();

    // (c) spawn: each manager.spawn beside a raw new-session at the same server size; the raw one is
    // killed again (untimed) so the server ends with exactly `sessions` live sessions.
    const spawnSamples: number[] = [];
    const rawNewSamples: number[] = [];
    console.error(`bench: spawning ${sessions} sessions…`);
    for (let i = 0; i < sessions; i++) {
      const id = String(ID_BASE + BigInt(i));
      spawnSamples.push(await time(() => ctx.manager.spawn(id, { name: `bench-${i}` })));
      if (i % SPAWN_FLOOR_EVERY !== 0) continue;
      const raw = `raw-${i}`;
      rawNewSamples.push(await time(() => runProcess([...tmuxRaw, 'new-session', '-d', '-s', raw, '-x', '200', '-y', '50', '--', 'sleep', '2147483647'], env, sb.dir)));
      await runProcess([...tmuxRaw, 'kill-session', '-t', `=${raw}`], env, sb.dir);
    }

    // Wait until every stand-in is up, so the listings below see `sessions` live panes.
    await waitFor(async () => {
      const live = [...(await sb.tmux.listSessions()).values()].filter((s) => s.name.startsWith('dc-') && !s.dead);
      return live.length === sessions && sb.claudeRuns().length >= sessions;
    }, SETTLE_TIMEOUT_MS, `all ${sessions} sessions to be live`, 100);
    const rows = await ctx.manager.list();
    const up = rows.filter((r) => r.status === 'UP').length;
    if (up !== sessions) throw new Error(`bench: manager.list() shows ${up} UP of ${sessions}`);

    // (a) the "who is dead" check, in-process, beside the raw listing process. The measures take
    // turns within each round, so a burst of other work on the machine hits all of them alike.
    const [rawListFloor = [], listSamples = [], tmuxListSamples = []] = await rounds(LIST_RUNS, [
      () => runProcess([...tmuxRaw, ...listArgv], env, sb.dir),
      () => ctx.manager.list(),
      () => ctx.tmux.listSessions(),
    ]);

    // (b) the compiled CLI from a directory without node_modules, beside a raw `tmux list-sessions`.
    const out = await runProcess([BINARY, 'list'], env, sb.dir);
    const listed = out.split('\n').filter((line) => /\bUP\b/.test(line)).length;
    if (listed !== sessions) throw new Error(`bench: ${BINARY} list shows ${listed} UP lines of ${sessions}`);
    const binaryCpu: number[] = [];
    const rawListCpu: number[] = [];
    const [rawListProcess = [], binarySamples = [], binaryJsonSamples = []] = await rounds(BINARY_RUNS, [
      () => runProcess([...tmuxRaw, 'list-sessions'], env, sb.dir, rawListCpu),
      () => runProcess([BINARY, 'list'], env, sb.dir, binaryCpu),
      () => runProcess([BINARY, 'list', '--json'], env, sb.dir),
    ]);

    const spawnGoal = SPAWN_GOAL_FACTOR * median(rawNewSamples);
    reportTable([
      { measure: `(a) manager.list() @${sessions}`, samples: listSamples, floor: rawListFloor, goalMs: LIST_GOAL_MS, goalText: `≤ ${LIST_GOAL_MS} ms` },
      { measure: `(a) tmux.listSessions() @${sessions}`, samples: tmuxListSamples, floor: rawListFloor, goalMs: LIST_GOAL_MS, goalText: `≤ ${LIST_GOAL_MS} ms` },
      { measure: `(b) dist/… list @${sessions}`, samples: binarySamples, floor: rawListProcess, goalMs: BINARY_GOAL_MS, goalText: `≤ ${BINARY_GOAL_MS} ms` },
      { measure: `(b) dist/… list --json @${sessions}`, samples: binaryJsonSamples, floor: rawListProcess, goalMs: BINARY_GOAL_MS, goalText: `≤ ${BINARY_GOAL_MS} ms` },
      { measure: `(c) manager.spawn (0→${sessions})`, samples: spawnSamples, floor: rawNewSamples, goalMs: spawnGoal, goalText: `≤ ${SPAWN_GOAL_FACTOR}× floor = ${ms(spawnGoal)}` },
    ]);
    console.log(
      `\nfloors: (a) raw \`tmux list-sessions -F\` via Bun.spawn, p95 ${ms(percentile(rawListFloor, 95))}; ` +
        `(b) raw \`tmux list-sessions\` process, p95 ${ms(percentile(rawListProcess, 95))}; ` +
        `(c) raw \`tmux new-session -d\`, p95 ${ms(percentile(rawNewSamples, 95))}.`,
    );
    // The warm-up rounds recorded CPU time too; drop them.
    console.log(
      `cpu time (user+sys) of one process, median: dist/… list ${ms(median(binaryCpu.slice(WARMUP_RUNS)))}, ` +
        `raw tmux list-sessions ${ms(median(rawListCpu.slice(WARMUP_RUNS)))}.`,
    );
    console.log(
      `runs: (a) ${LIST_RUNS}, (b) ${BINARY_RUNS}, (c) ${sessions} spawns and ${rawNewSamples.length} raw new-sessions; ` +
        `${WARMUP_RUNS} warm-up runs before (a) and (b). Load average at end: ${formatLoad()}.`,
    );
  } finally {
    await cleanup();
  }
}

try {
  await main();
} catch (error) {
  console.error((error as Error).message ?? error);
  process.exit(1);
}
