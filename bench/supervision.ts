#!/usr/bin/env bun
/**
 * Supervision and gateway figures, printed beside their floor; nothing is asserted.
 *   (d) respawn: a live session is killed; time until its pane is alive again under the real
 *       `discord-watchdog` loop (20 trials, one per session so no crash-loop backoff applies).
 *   (e) the slash daemon's resident memory after connecting and answering 100 interactions.
 *   (f) CHANNEL_CREATE dispatched on the gateway → the new channel's session pane is up.
 * Private tmux socket, temp dirs, the Discord fake on loopback and the stand-in claude.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { FakeDiscord } from '../test/fakes/discord.ts';
import { OWNER_ID, ROOT, Sandbox, waitFor } from '../test/helpers.ts';

const TRIALS = 20;
const CHANNEL_TRIALS = 10;
const INTERACTIONS = 100;

const percentile = (samples: number[], p: number) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
};
const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(line?.replace(/\D+/g, '') ?? 0) / 1024;
}

function world(extra: string[] = []) {
  const fake = new FakeDiscord().start();
  const sb = new Sandbox({
    env: { DISCORD_API_URL: fake.url },
    config: [`DISCORD_ALLOWED_USER_ID="${OWNER_ID}"`, `DISCORD_GUILD_ID="${fake.guildId}"`, 'DISCORD_SESSION_WORKDIR="$HOME/work"', 'DISCORD_SLASH_DAEMON=off', ...extra].join('\n'),
  });
  return { fake, sb };
}

function start(sb: Sandbox, program: string): Subprocess {
  return Bun.spawn(['bun', join(ROOT, 'bin', `${program}.ts`)], { env: sb.env as Record<string, string>, stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' });
}

async function respawnBench(): Promise<string[]> {
  const { fake, sb } = world(['DISCORD_DISCOVER_INTERVAL=3600', 'DISCORD_CLEANUP_INTERVAL=3600']);
  let proc: Subprocess | undefined;
  try {
    const ids = Array.from({ length: TRIALS }, (_, i) => fake.addChannel(`bench-${i}`).id);
    proc = start(sb, 'discord-watchdog');
    await waitFor(async () => {
      const live = await sb.tmux.listSessions();
      return ids.every((id) => live.get(`dc-${id}`) && !live.get(`dc-${id}`)!.dead);
    }, 30_000, 'discovery of the bench channels', 10);
    // A session killed within 10 s of its start counts towards a crash loop: let them age first.
    await Bun.sleep(10_500);
    const samples: number[] = [];
    const floor: number[] = [];
    for (const id of ids) {
      const name = `dc-${id}`;
      const before = (await sb.tmux.listSessions()).get(name)!.panePid;
      const t0 = performance.now();
      await sb.tmux.killSession(name);
      await waitFor(async () => {
        const info = (await sb.tmux.listSessions()).get(name);
        return Boolean(info && !info.dead && info.panePid !== before);
      }, 10_000, `respawn of ${name}`, 10);
      samples.push(performance.now() - t0);
      const t1 = performance.now();
      await sb.tmux.run(['new-session', '-d', '-s', `raw-${id}`, '--', 'sleep', '60']);
      floor.push(performance.now() - t1);
    }
    return [`| (d) kill → pane alive again (watchdog, ${TRIALS} trials) | ${fmt(percentile(samples, 50))} | max ${fmt(Math.max(...samples))} | raw tmux new-session ${fmt(percentile(floor, 50))} | ≤ 2 s median |`];
  } finally {
    proc?.kill('SIGTERM');
    await proc?.exited;
    await sb.cleanup();
    await fake.stop();
  }
}

async function slashBench(): Promise<string[]> {
  const { fake, sb } = world();
  let proc: Subprocess | undefined;
  try {
    const general = fake.addChannel('general');
    const spawned = Bun.spawnSync(['bun', join(ROOT, 'bin/discord-session-manager.ts'), 'spawn', general.id, '--name', 'general'], { env: sb.env as Record<string, string> });
    if (spawned.exitCode !== 0) throw new Error(`bench: spawn failed: ${spawned.stderr}`);
    proc = start(sb, 'discord-slash-daemon');
    await waitFor(() => fake.commands.length > 0 && fake.gatewayClients > 0, 20_000, 'the slash daemon to connect', 10);
    const connected = rssMb(proc.pid);
    const t0 = performance.now();
    for (let i = 0; i < INTERACTIONS; i++) {
      const handle = fake.interaction({ name: 'session', channelId: general.id, options: [{ type: 1, name: 'status', options: [] }] as never });
      await waitFor(() => handle.replies().some((r) => r.kind === 'edit-original'), 10_000, `interaction ${i}`, 10);
    }
    const perInteraction = (performance.now() - t0) / INTERACTIONS;
    Bun.gc(true);
    const after = rssMb(proc.pid);

    const channelSamples: number[] = [];
    for (let i = 0; i < CHANNEL_TRIALS; i++) {
      const t1 = performance.now();
      const channel = fake.createChannelEvent(`created-${i}`);
      await waitFor(async () => {
        const info = (await sb.tmux.listSessions()).get(`dc-${channel.id}`);
        return Boolean(info && !info.dead);
      }, 10_000, `the session of created-${i}`, 10);
      channelSamples.push(performance.now() - t1);
    }
    const floor = Bun.spawnSync(['sh', '-c', `ps -o rss= -p ${process.pid}`]).stdout.toString().trim();
    return [
      `| (e) slash daemon RSS after connecting | ${connected.toFixed(0)} MB | after ${INTERACTIONS} interactions ${after.toFixed(0)} MB | this bench's own bun process ${(Number(floor) / 1024).toFixed(0)} MB | ≤ 120 MB |`,
      `| (e) /session status round trip | ${fmt(perInteraction)} per interaction | | | |`,
      `| (f) CHANNEL_CREATE → pane up (${CHANNEL_TRIALS} trials) | ${fmt(percentile(channelSamples, 50))} | max ${fmt(Math.max(...channelSamples))} | | ≤ 2 s |`,
    ];
  } finally {
    proc?.kill('SIGTERM');
    await proc?.exited;
    await sb.cleanup();
    await fake.stop();
  }
}

console.log('| measure | median / value | spread | floor | goal |');
console.log('|---|---|---|---|---|');
for (const line of [...(await respawnBench()), ...(await slashBench())]) console.log(line);
