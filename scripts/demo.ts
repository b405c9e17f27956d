#!/usr/bin/env bun
/**
 * `bun run demo`: the point of the tool on this machine, with no Discord bot and no Claude login. A
 * local Discord fake (a guild with #general and a thread) talks to the real router (the slash
 * daemon's gateway client); your messages reach each channel's own Claude Code session through its
 * bridge and the replies come back. Claude Code is the pinned real CLI when it is installed
 * (`bun scripts/claude-code.ts`, answering from a loopback model) and a stand-in otherwise. Then the
 * watchdog brings a killed session back in the same conversation.
 *
 * Everything lives in one 0700 temp folder with a private tmux server, and is removed at the end,
 * also on Ctrl-C (or SIGTERM/SIGHUP) at any moment.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createDiscordSessionManagerCommand } from '../lib/commands/discord-session-manager/index.ts';
import { runCli } from '../lib/commands/program.ts';
import { type AppContext, createAppContext } from '../lib/app.ts';
import { DISCORD } from '../lib/core/config/platform.ts';
import { isProcessAlive } from '../lib/core/store/lock.ts';
import { createLogger } from '../lib/core/util/log.ts';
import { pollUntil } from '../lib/core/util/poll.ts';
import { respawnDuty } from '../lib/daemons/duties.ts';
import { Scheduler } from '../lib/daemons/scheduler.ts';
import { runSlashDaemon } from '../lib/platforms/discord/slash/daemon.ts';
import { prepareClaudeConfig } from '../test/e2e/real-claude.ts';
import { FakeAnthropic, type ModelRequest, type Turn, parseChannelTags } from '../test/fakes/anthropic.ts';
import { FakeDiscord } from '../test/fakes/discord.ts';
import { claudeCodeBinary } from './claude-code.ts';

const ROOT = resolve(import.meta.dir, '..');

if (!Bun.which('tmux')) {
  console.error('The demo needs tmux, which is not installed: install it (`sudo apt-get install tmux`, `brew install tmux`), then run `bun run demo` again.');
  process.exit(1);
}

// Handlers first: whatever exists when a signal comes is removed, in the reverse order of its making.
const stop = new AbortController();
const cleanups: Array<() => unknown> = [];
let exitCode: number | undefined;
let exiting: Promise<void> | undefined;
function shutDown(code: number): Promise<never> {
  exitCode ??= code;
  exiting ??= (async () => {
    stop.abort();
    for (const undo of cleanups.reverse()) {
      try {
        await undo();
      } catch (error) {
        console.error(`cleanup: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  })();
  return exiting.then(() => process.exit(exitCode));
}
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
  process.on(signal, () => {
    if (!exiting) console.log('\nInterrupted: removing everything the demo made.');
    void shutDown(code);
  });
}

const OWNER = { id: '1000000000000000001', username: 'you' };
const REPLY_TIMEOUT_MS = 90_000;
const bold = (text: string) => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text);

/** Thrown by a step that finds the demo stopping. */
class Stopping extends Error {}
const checkpoint = () => {
  if (stop.signal.aborted) throw new Stopping();
};

/** What the session answers: the same words whichever Claude Code plays it. */
const replyTo = (text: string) => `Got it: "${text}". This reply comes from this channel's own Claude Code session, through its bridge.`;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'crs-demo-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o700);
  console.log(bold('claude-remote-sessions demo') + ` (everything lives in ${dir} and is removed at the end)`);

  const fake = new FakeDiscord({ guildName: 'Demo Guild', ownerId: OWNER.id }).start();
  cleanups.push(() => fake.stop());
  const realClaude = claudeCodeBinary();
  const model = existsSync(realClaude) ? await FakeAnthropic.start({ script: (request) => scriptedReply(request) }) : undefined;
  if (model) cleanups.push(() => model.stop());

  const home = join(dir, 'home');
  const workdir = join(dir, 'work');
  const env: Record<string, string | undefined> = {
    ...process.env,
    HOME: home,
    // Claude Code keeps a folder of its own in TMPDIR: the sessions' is inside the demo's.
    TMPDIR: join(dir, 'tmp'),
    CLAUDE_CONFIG_DIR: join(dir, 'claude'),
    CRS_TMUX_SOCKET: join(dir, 'tmux.sock'),
    CLAUDE_BIN: model ? realClaude : join(ROOT, 'test/fakes/claude-mcp'),
    DISCORD_API_URL: fake.url,
    TMUX: undefined,
  };
  const config = env.CLAUDE_CONFIG_DIR!;
  mkdirSync(workdir, { recursive: true });
  mkdirSync(env.TMPDIR!, { recursive: true });
  mkdirSync(join(config, 'channels/discord'), { recursive: true });
  mkdirSync(join(config, 'discord-sessions'), { recursive: true });
  writeFileSync(join(config, 'channels/discord/.env'), `DISCORD_BOT_TOKEN=${fake.token}\n`, { mode: 0o600 });
  // IS_SANDBOX=1: this throwaway setup may run as root (a container); a real one should not need it.
  writeFileSync(join(config, 'discord-sessions/config.env'), `DISCORD_ALLOWED_USER_ID="${OWNER.id}"\nDISCORD_GUILD_ID="${fake.guildId}"\nDISCORD_SESSION_WORKDIR="${workdir}"\nIS_SANDBOX=1\n`);
  if (model) prepareClaudeConfig(config, { apiUrl: model.url, trusted: [workdir] });

  const app = createAppContext(DISCORD, env);
  guardTmux(app.tmux);
  cleanups.push(() => stopTmux(app.tmux));

  const general = fake.addChannel('general');
  const thread = fake.addThread(general.id, 'release-plan');
  console.log(`A fake Discord guild on ${fake.url} with #general and its thread "release-plan".`);
  console.log(model ? `Claude Code ${realClaude} plays each session, answering from a loopback model.` : 'A stand-in plays Claude Code (`bun scripts/claude-code.ts` installs the real one for this demo).');

  console.log(bold('\nThe router: one gateway connection for every session (discord-slash-daemon).'));
  const log = createLogger();
  const daemon = runSlashDaemon({ manager: app.manager, clock: app.clock, log, signal: stop.signal, runCommand: async () => ({ code: 1, output: 'not in the demo' }) });
  cleanups.push(() => daemon.catch(() => {}));
  void daemon.catch((error) => {
    console.error(`The router stopped: ${error instanceof Error ? error.message : String(error)}`);
    void shutDown(1);
  });
  await waitUntil(() => fake.gatewayClients > 0 && fake.commands.length > 0, 30_000, 'the router to connect');

  console.log(bold('\nYou write in #general and in the thread; each gets a Claude Code session of its own.'));
  const asks = [
    { chat: general, text: 'What are we shipping this week?' },
    { chat: thread, text: 'Plan the migration, step by step.' },
  ];
  for (const ask of asks) {
    console.log(`${label(ask.chat)}  ${OWNER.username}: ${ask.text}`);
    fake.messageEvent(ask.chat.id, { authorId: OWNER.id, username: OWNER.username, content: ask.text });
  }
  const replies = () => asks.map((ask) => (fake.messages.get(ask.chat.id) ?? []).find((m) => m.author.id === fake.botUser.id)?.content);
  await waitUntil(() => {
    if (!model) for (const ask of asks) answerAsStandIn(app.manager.stateDir(ask.chat.id), ask.chat.id);
    return replies().every(Boolean);
  }, REPLY_TIMEOUT_MS, 'the replies');
  replies().forEach((reply, i) => console.log(`${label(asks[i]!.chat)}  Claude Code: ${reply}`));

  await cli(app, 'list');

  console.log(bold('\nThe watchdog checks liveness every half second (one tmux call for all sessions).'));
  const watchdog = new AbortController();
  const loop = new Scheduler([respawnDuty({ manager: app.manager, log, now: () => Date.now() })], { clock: app.clock, log }).run(AbortSignal.any([stop.signal, watchdog.signal]));
  const victim = `dc-${general.id}`;
  console.log(`Killing ${victim} (as a crash would)…`);
  const killedAt = performance.now();
  await app.tmux.killSession(victim);
  await waitUntil(async () => {
    const info = (await app.tmux.listSessions()).get(victim);
    return Boolean(info && !info.dead);
  }, 30_000, `${victim} to come back`);
  console.log(`${victim} is back after ${((performance.now() - killedAt) / 1000).toFixed(2)} s, resuming the same conversation (--resume).`);
  watchdog.abort();
  await loop;
  console.log(bold('\nDone.') + ' With a real bot: `discord-session-manager init` (it asks for the ids and the token), `discord-session-manager doctor`, then `discord-watchdog --daemon`.');
}

/** The loopback model's turn: a reply through the channel's `reply` tool to a message it was sent. */
function scriptedReply(request: ModelRequest): Turn | undefined {
  const tag = request.isTurn ? parseChannelTags(request.lastUserText).at(-1) : undefined;
  if (!tag?.chat_id) return undefined;
  return { toolUse: { name: `mcp__${tag.source}__reply`, input: { chat_id: tag.chat_id, text: replyTo(tag.body) } } };
}

/** The stand-in takes messages but has no model: for each message it took, it is told to call `reply`, once. */
function answerAsStandIn(stateDir: string, chatId: string): void {
  const taken = join(stateDir, 'channel-notifications.jsonl');
  const request = join(stateDir, 'tool-requests', 'demo-reply.json');
  if (!existsSync(taken) || existsSync(`${request}.sent`)) return;
  const first = JSON.parse(readFileSync(taken, 'utf8').split('\n')[0]!) as { content: string };
  mkdirSync(join(stateDir, 'tool-requests'), { recursive: true });
  writeFileSync(`${request}.tmp`, JSON.stringify({ name: 'reply', arguments: { chat_id: chatId, text: replyTo(first.content) } }));
  writeFileSync(`${request}.sent`, '');
  renameSync(`${request}.tmp`, request);
}

const label = (chat: { name?: string; type: number }) => (chat.type >= 10 ? `thread "${chat.name}"` : `#${chat.name}`);

/** Waits for `check`; throws when the demo is stopping or the time is over. */
async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const done = await pollUntil(check, { timeoutMs, intervalMs: 50, signal: stop.signal });
  checkpoint();
  if (!done) throw new Error(`Timed out after ${timeoutMs / 1000} s waiting for ${what}.`);
}

async function cli(app: AppContext, ...args: string[]): Promise<void> {
  checkpoint();
  console.log(bold(`\n$ discord-session-manager ${args.join(' ')}`));
  const ctx = { ...app, io: { out: (text: string) => console.log(text), log: createLogger() }, interactive: false, prompt: async () => null, readStdin: async () => null, runInteractive: async () => 0 };
  await runCli(createDiscordSessionManagerCommand(ctx), args, ctx.io);
}

/** tmux starts a server only with a new session: once the demo stops, none is started, and those under way are known. */
const starting = new Set<Promise<void>>();
function guardTmux(tmux: AppContext['tmux']): void {
  const newSession = tmux.newSession.bind(tmux);
  tmux.newSession = (options) => {
    if (stop.signal.aborted) return Promise.reject(new Error('The demo is stopping.'));
    const started = newSession(options);
    starting.add(started);
    void started.catch(() => {}).finally(() => starting.delete(started));
    return started;
  };
}

/** Kills the private tmux server and waits for every process of its sessions (Claude Code, bridges) to end. */
async function stopTmux(tmux: AppContext['tmux']): Promise<void> {
  await Promise.allSettled([...starting]);
  const panes = [...(await tmux.listSessions()).values()].map((s) => s.panePid).filter((pid) => pid > 0);
  const pids = withDescendants(panes);
  await tmux.killServer();
  const gone = () => pids.every((pid) => !isProcessAlive(pid));
  if (await pollUntil(gone, { timeoutMs: 5000, intervalMs: 50 })) return;
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
}

/** `roots` and all their descendants, from one `ps` listing. */
function withDescendants(roots: number[]): number[] {
  const children = new Map<number, number[]>();
  for (const line of Bun.spawnSync(['ps', '-A', '-o', 'pid=,ppid=']).stdout.toString().split('\n')) {
    const [pid, ppid] = line.trim().split(/\s+/).map(Number);
    if (pid && ppid) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  const all = [...roots];
  for (let i = 0; i < all.length; i++) all.push(...(children.get(all[i]!) ?? []));
  return all;
}

try {
  await main();
  await shutDown(0);
} catch (error) {
  if (!(error instanceof Stopping) && !stop.signal.aborted) console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
  await shutDown(1);
}
