#!/usr/bin/env bun
/**
 * `bun run demo`: the whole tour on this machine with no Discord bot and no Claude login. A local
 * Discord fake (a guild with channels and a thread) and a stand-in claude run on loopback, with a
 * private tmux server and a temporary config dir; everything is removed at the end, also on Ctrl-C.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createDiscordSessionManagerCommand } from '../lib/commands/discord-session-manager/index.ts';
import { createAppContext } from '../lib/app.ts';
import { createLogger } from '../lib/core/util/log.ts';
import { DISCORD } from '../lib/core/config/platform.ts';
import { runCli } from '../lib/commands/program.ts';
import { respawnDuty } from '../lib/daemons/duties.ts';
import { Scheduler } from '../lib/daemons/scheduler.ts';
import { FakeDiscord } from '../test/fakes/discord.ts';

const ROOT = resolve(import.meta.dir, '..');
const OWNER_ID = '1000000000000000001';
const bold = (text: string) => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text);

const dir = mkdtempSync(join(tmpdir(), 'crs-demo-'));
const fake = new FakeDiscord({ guildName: 'Demo Guild' }).start();
const env = {
  ...process.env,
  CLAUDE_CONFIG_DIR: join(dir, 'claude'),
  CRS_TMUX_SOCKET: join(dir, 'tmux.sock'),
  CLAUDE_BIN: join(ROOT, 'test/fakes/claude'),
  DISCORD_API_URL: fake.url,
};
const app = createAppContext(DISCORD, env);
const stop = new AbortController();
let cleaned = false;

async function cleanup(): Promise<void> {
  if (cleaned) return;
  cleaned = true;
  stop.abort();
  await app.tmux.killServer();
  await fake.stop();
  rmSync(dir, { recursive: true, force: true });
}

process.on('SIGINT', () => {
  console.log('\nInterrupted: cleaning up.');
  void cleanup().then(() => process.exit(130));
});

async function cli(...args: string[]): Promise<void> {
  console.log(bold(`\n$ discord-session-manager ${args.join(' ')}`));
  const ctx = {
    ...app,
    io: { out: (text: string) => console.log(text), log: createLogger() },
    interactive: false,
    prompt: async () => null,
    readStdin: async () => null,
    runInteractive: async () => 0,
  };
  await runCli(createDiscordSessionManagerCommand(ctx), args, ctx.io);
}

try {
  console.log(bold('claude-remote-sessions demo') + ` (everything lives in ${dir} and is removed at the end)`);
  const general = fake.addChannel('general');
  fake.addChannel('api');
  fake.addChannel('design');
  fake.addChannel('Voice', { type: 2 });
  fake.addMessage(general.id, 'alice', 'Can we ship the release on Friday?');
  fake.addMessage(general.id, 'bob', 'Only if the migration is done. Let us plan it in a thread.');
  fake.addThread(general.id, 'release-plan');
  const workdir = join(dir, 'work');
  mkdirSync(join(workdir, 'api'), { recursive: true });
  mkdirSync(join(env.CLAUDE_CONFIG_DIR, 'channels/discord'), { recursive: true });
  mkdirSync(join(env.CLAUDE_CONFIG_DIR, 'discord-sessions'), { recursive: true });
  writeFileSync(join(env.CLAUDE_CONFIG_DIR, 'channels/discord/.env'), `DISCORD_BOT_TOKEN=${fake.token}\n`, { mode: 0o600 });
  // IS_SANDBOX=1: this throwaway setup may run as root (a container); a real one should not need it.
  writeFileSync(join(env.CLAUDE_CONFIG_DIR, 'discord-sessions/config.env'), `DISCORD_ALLOWED_USER_ID="${OWNER_ID}"\nDISCORD_GUILD_ID="${fake.guildId}"\nDISCORD_SESSION_WORKDIR="${workdir}"\nIS_SANDBOX=1\n`);
  writeFileSync(join(env.CLAUDE_CONFIG_DIR, 'discord-sessions/workdir-map.json'), JSON.stringify({ api: join(workdir, 'api') }, null, 2));
  console.log(`A fake Discord guild on ${fake.url}: #general, #api, #design, a voice channel and the thread "release-plan".`);
  console.log('#api is mapped to its own project folder in workdir-map.json; a stand-in plays claude.');

  await cli('discover-all');
  await cli('list');

  console.log(bold('\nThe watchdog checks liveness every second (one tmux call for all sessions).'));
  const log = createLogger({ timestamps: true });
  const scheduler = new Scheduler([respawnDuty({ manager: app.manager, log, now: () => Date.now() })], { clock: app.clock, log });
  const loop = scheduler.run(stop.signal);
  const victim = `dc-${general.id}`;
  console.log(`Killing ${victim} (as a crash would)…`);
  const killedAt = performance.now();
  await app.tmux.killSession(victim);
  for (;;) {
    const info = (await app.tmux.listSessions()).get(victim);
    if (info && !info.dead) break;
    await Bun.sleep(50);
  }
  console.log(`${victim} is back after ${((performance.now() - killedAt) / 1000).toFixed(2)} s, resuming the same conversation (--resume).`);
  stop.abort();
  await loop;
  await cli('status');
  console.log(bold('\nDone.') + ' With a real bot: `discord-session-manager init` (it asks for the ids and the token), `discord-session-manager doctor`, then `discord-watchdog --daemon`.');
} finally {
  await cleanup();
}
