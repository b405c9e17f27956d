#!/usr/bin/env bun
/**
 * Resident memory of the Telegram path, printed beside its goal; nothing is asserted.
 *   (h) one bridge (`telegram-session-manager bridge`, the MCP channel every session runs), each of
 *       20 bridges after it delivered one message, median and max: VmRSS; PSS (its own pages plus its
 *       share of the executable's pages, which all bridges map from the same file): what one more
 *       session costs, the figure the ≤ 40 MB goal is about; and its own pages alone;
 *   (i) the router (`telegram-session-manager serve`) with those 20 sessions.
 * For reference, a bare compiled Bun process. The compiled router and bridge (dist/, built when stale)
 * run against the Telegram fake, with the stand-in claude `test/fakes/claude-mcp` (which starts the
 * real bridge over stdio) on a private tmux socket. Usage: bun bench/memory.ts
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { TELEGRAM } from '../lib/core/config/platform.ts';
import { type RunningProgram, startProgram } from '../test/e2e/real-claude.ts';
import { FakeTelegram } from '../test/fakes/telegram.ts';
import { ROOT, Sandbox, waitFor } from '../test/helpers.ts';

const SESSIONS = 20;
const OWNER = 123456789;
/** Group chats -3001 … -3020: one session each. */
const CHAT_BASE = -3000;
const DELIVERY_TIMEOUT_MS = 120_000;
/** After the last delivery, time for every bridge to finish its confirmation and go idle. */
const SETTLE_MS = 3000;
const BRIDGE_GOAL_MB = 40;

/**
 * `Rss`, `Pss` (shared pages divided among the processes sharing them: what one more bridge costs)
 * and the private part (`Private_Clean` + `Private_Dirty`) of a process, in MB.
 */
function memoryOf(pid: number): { rss: number; pss: number; own: number } {
  const fields = Object.fromEntries(
    readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')
      .split('\n')
      .map((line) => /^(\w+):\s+(\d+) kB/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1]!, Number(m[2]) / 1024]),
  );
  return { rss: fields.Rss ?? 0, pss: fields.Pss ?? 0, own: (fields.Private_Clean ?? 0) + (fields.Private_Dirty ?? 0) };
}

/** The bridge of each chat: a process whose argv has `bridge --id <chat>`. */
function findBridges(chats: number[]): Map<number, number> {
  const wanted = new Set(chats.map(String));
  const found = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const at = argv.indexOf('bridge');
    const id = at >= 0 && argv[at + 1] === '--id' ? argv[at + 2] : undefined;
    if (id && wanted.has(id)) found.set(Number(id), Number(entry));
  }
  return found;
}

/** RSS of a compiled program that only waits: what any compiled Bun process costs. */
async function bareCompiledMb(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'crs-bench-bare-'));
  try {
    writeFileSync(join(dir, 'bare.ts'), 'await Bun.sleep(5000);\n');
    const build = Bun.spawnSync(['bun', 'build', '--compile', join(dir, 'bare.ts'), '--outfile', join(dir, 'bare')], { cwd: dir, stdout: 'ignore', stderr: 'pipe' });
    if (build.exitCode !== 0) throw new Error(`bench: compiling the bare program failed: ${build.stderr.toString().trim()}`);
    const proc = Bun.spawn([join(dir, 'bare')], { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' });
    await Bun.sleep(1000);
    const { rss } = memoryOf(proc.pid);
    proc.kill();
    await proc.exited;
    return rss;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const percentile = (samples: number[], p: number) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
};
const mb = (value: number) => `${value.toFixed(1)} MB`;

async function main(): Promise<void> {
  const fake = new FakeTelegram().start();
  const sb = new Sandbox({
    platform: TELEGRAM,
    token: fake.token,
    env: { TELEGRAM_API_URL: fake.url, CLAUDE_BIN: join(ROOT, 'test/fakes/claude-mcp') },
    config: `TELEGRAM_ALLOWED_USER_ID="${OWNER}"\nTELEGRAM_SESSION_WORKDIR="$HOME/work"\nTELEGRAM_IDLE_TIMEOUT=0`,
  });
  let serve: RunningProgram | undefined;
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    await serve?.stop();
    await sb.cleanup();
    await fake.stop();
  };
  const onSignal = (signal: NodeJS.Signals) => void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    console.error(`bench: load average at start ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    serve = await startProgram('telegram-session-manager', ['serve'], sb.env);
    await waitFor(() => fake.polling, 20_000, 'the router to poll');
    const chats = Array.from({ length: SESSIONS }, (_, i) => CHAT_BASE - 1 - i);
    console.error(`bench: one message to each of ${SESSIONS} chats…`);
    for (const chat of chats) fake.userMessage(chat, { fromId: OWNER, username: 'owner', text: `hello ${chat}`, chatType: 'group', chatTitle: `bench ${chat}` });
    const received = (chat: number) => {
      try {
        return readFileSync(join(sb.sessionsDir, String(chat), 'channel-notifications.jsonl'), 'utf8').trim().length > 0;
      } catch {
        return false;
      }
    };
    await waitFor(() => chats.every(received), DELIVERY_TIMEOUT_MS, `each of ${SESSIONS} sessions to receive its message`);
    await Bun.sleep(SETTLE_MS);

    const bridges = findBridges(chats);
    if (bridges.size !== SESSIONS) throw new Error(`bench: found ${bridges.size} of ${SESSIONS} bridges`);
    const measured = [...bridges.values()].map(memoryOf);
    const rss = measured.map((m) => m.rss);
    const own = measured.map((m) => m.own);
    const pss = measured.map((m) => m.pss);
    const router = memoryOf(serve.proc.pid).rss;
    const bare = await bareCompiledMb();
    const median = percentile(rss, 50);

    console.log('| measure | median / value | spread | floor | goal | within goal |');
    console.log('|---|---|---|---|---|---|');
    // RSS counts the executable's pages every bridge maps from the same file; PSS shares them out.
    console.log(`| (h) bridge RSS, ${SESSIONS} sessions after one message each | ${mb(median)} | max ${mb(Math.max(...rss))} | bare compiled Bun ${mb(bare)} | (Claude Code itself: ~280 MB) | |`);
    console.log(`| (h) bridge PSS (its own pages + its share of the pages all bridges share): what one more session costs | ${mb(percentile(pss, 50))} | max ${mb(Math.max(...pss))} | | ≤ ${BRIDGE_GOAL_MB} MB | ${percentile(pss, 50) <= BRIDGE_GOAL_MB ? 'yes' : 'NO'} |`);
    console.log(`| (h) of which the bridge's own (not shared with the other bridges) | ${mb(percentile(own, 50))} | max ${mb(Math.max(...own))} | | | |`);
    console.log(`| (i) router RSS (serve) with ${SESSIONS} sessions | ${mb(router)} | | bare compiled Bun ${mb(bare)} | | |`);
    console.error(`bench: load average at end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  } finally {
    await cleanup();
  }
}

await main();
