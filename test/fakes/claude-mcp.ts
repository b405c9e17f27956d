/**
 * Stand-in for `claude` loading a development channel, for end-to-end tests that run a real MCP
 * channel server (our Telegram bridge) under it. Run through the executable wrapper `claude-mcp`.
 *
 * Like `test/fakes/claude` it records its argv, cwd and environment under
 * `$CLAUDE_CONFIG_DIR/fake-claude/` (so `Sandbox.claudeRuns()` reads both), mimics Claude Code's
 * `--session-id` / `--resume` rules and honours `fake-claude-exit` in the state dir. Then:
 *
 * - `--dangerously-load-development-channels server:<name>...` shows the confirmation dialog and waits
 *   for Enter (or `1` Enter); `2` Enter (or Down, Enter) exits with status 1.
 * - every server of every `--mcp-config <file|json>...` is started over stdio with the MCP SDK; its
 *   stderr is copied to our stdout as `[name] line`. A dev channel server that fails to connect or does
 *   not declare `experimental['claude/channel']` is fatal (error line, exit 1); other servers are not.
 * - like the real CLI, notifications that arrive in the first `CLAUDE_MCP_REGISTER_DELAY_MS` (300) ms
 *   after a server's handshake are dropped (recorded in `<out>/dropped-notifications.jsonl`); after it,
 *   `notifications/tools/list_changed` makes it list the server's tools again, and
 *   `notifications/claude/channel` from a channel server is TAKEN: a `queue-operation` enqueue line and
 *   a user line are appended to the session's transcript, one JSON line `{"content","meta","at","server"}`
 *   to `<out>/channel-notifications.jsonl`, and `← content` is printed.
 * - each `<out>/tool-requests/<id>.json` (`{server?, name, arguments?}`; write it atomically) is
 *   called on that server (default: the first dev channel), answered in `<id>.result.json`
 *   (`{ok:true, result}` | `{ok:false, error}`) and deleted. Tools are listed at connect time into
 *   `<out>/tools.json` (`{server: Tool[]}`).
 * - `<out>` is `$TELEGRAM_STATE_DIR`, else `$DISCORD_STATE_DIR`, else `$CLAUDE_CONFIG_DIR`.
 * - prints `> ` and stays until SIGTERM/SIGHUP/SIGINT: closes stdin of every server, SIGTERMs what is
 *   still alive after a short grace, SIGKILLs after another, and exits 0.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
// Types only here: the SDK (and zod) take ~200 ms to load, so it is imported once servers are started.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const VERSION = '2.1.197';
/** How long after the handshake channel notifications are dropped (`CLAUDE_MCP_REGISTER_DELAY_MS`; the real CLI: ~0.15–0.6 s). */
const REGISTER_DELAY_MS = Number(process.env.CLAUDE_MCP_REGISTER_DELAY_MS ?? 300);
const POLL_MS = 100;
/** After stdin is closed, how long a server may take to exit before SIGTERM, and then before SIGKILL. */
const TERM_GRACE_MS = 300;
const KILL_GRACE_MS = 1000;

interface ServerConfig {
  command: string;
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
  type?: string;
}

interface Connected {
  name: string;
  client: Client;
  transport: StdioClientTransport;
  pid: number | null;
}

// --- Shutdown -----------------------------------------------------------------------------------------
const connected: Connected[] = [];
/** Every transport started, connected or not: each may own a child process. */
const transports: StdioClientTransport[] = [];
let shuttingDown = false;

/** Running, not a zombie: a child that exited counts as gone even before it is reaped. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {}
  try {
    process.kill(pid, 0);
    return !existsSync('/proc/self/stat');
  } catch {
    return false;
  }
}

async function closeAll(): Promise<void> {
  const pids = transports.map((t) => t.pid).filter((p): p is number => typeof p === 'number');
  // transport.close() ends the child's stdin, then escalates slowly (2 s steps); we escalate faster.
  for (const t of transports) void t.close().catch(() => {});
  const waitGone = async (ms: number) => {
    const deadline = Date.now() + ms;
    while (pids.some(alive) && Date.now() < deadline) await Bun.sleep(20);
  };
  await waitGone(TERM_GRACE_MS);
  for (const pid of pids.filter(alive)) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {}
  }
  await waitGone(KILL_GRACE_MS);
  for (const pid of pids.filter(alive)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
}

let closing: Promise<void> | null = null;
/** Cleans up the servers once (a second signal waits for the first cleanup), then exits. */
async function shutdown(code: number): Promise<never> {
  shuttingDown = true;
  closing ??= closeAll();
  await closing;
  process.exit(code);
}

// Signals end us with status 0 from the first moment (servers started by then are cleaned up).
for (const signal of ['SIGTERM', 'SIGHUP', 'SIGINT'] as const) process.on(signal, () => void shutdown(0));
// A hung-up pane makes writes fail: nothing to report then.
process.stdout.on('error', () => {});

const argv = process.argv.slice(2);
const root = process.env.CLAUDE_CONFIG_DIR || join(process.env.HOME ?? '/', '.claude');

/** What `pwd` in bash prints: $PWD when it names the working directory, else the physical path. */
function logicalCwd(): string {
  const physical = process.cwd();
  const pwd = process.env.PWD;
  if (pwd && pwd.startsWith('/')) {
    try {
      const a = statSync(pwd);
      const b = statSync(physical);
      if (a.ino === b.ino && a.dev === b.dev) return pwd;
    } catch {}
  }
  return physical;
}

/** Like `date +%s%N`: wall-clock nanoseconds, 19 digits, so records of both stand-ins sort by start. */
function timestamp(): string {
  const ms = performance.timeOrigin + performance.now();
  const whole = Math.floor(ms);
  const ns = BigInt(whole) * 1_000_000n + BigInt(Math.min(999_999, Math.floor((ms - whole) * 1e6)));
  return ns.toString().padStart(19, '0');
}

const cwd = logicalCwd();

// --- Record argv, env, cwd exactly like test/fakes/claude -------------------------------------------
{
  const dir = join(root, 'fake-claude');
  mkdirSync(dir, { recursive: true });
  const rec = join(dir, `${timestamp()}-${process.pid}`);
  writeFileSync(`${rec}.argv.tmp`, argv.map((a) => `${a}\0`).join(''));
  renameSync(`${rec}.argv.tmp`, `${rec}.argv`);
  // The env is written before the cwd: a reader that sees the cwd sees the whole env.
  writeFileSync(`${rec}.env`, Object.entries(process.env).map(([k, v]) => `${k}=${v ?? ''}\0`).join(''));
  writeFileSync(`${rec}.cwd.tmp`, `${cwd}\n`);
  renameSync(`${rec}.cwd.tmp`, `${rec}.cwd`);
}

/** Synchronous, so what is printed right before process.exit() reaches the pane. */
const say = (text: string): void => {
  let buffer = Buffer.from(text);
  for (let tries = 0; buffer.length && tries < 100; tries++) {
    try {
      buffer = buffer.subarray(writeSync(1, buffer));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') return; // a hung-up pane: nothing to report
    }
  }
};
/** Once the prompt is shown, a line printed later redraws it below (like a TUI would). */
let promptShown = false;
const line = (text: string): void => say(promptShown ? `\r\u001b[K${text}\n> ` : `${text}\n`);

{
  const state = process.env.DISCORD_STATE_DIR || process.env.TELEGRAM_STATE_DIR || '';
  if (state && existsSync(join(state, 'fake-claude-exit'))) {
    say(readFileSync(join(state, 'fake-claude-exit'), 'utf8'));
    process.exit(1);
  }
}

// --- Arguments ---------------------------------------------------------------------------------------
let sid = '';
let mode: '' | 'new' | 'resume' = '';
const mcpConfigs: string[] = [];
const devChannels: string[] = [];
{
  // `--flag=value` is read like `--flag value`.
  const args = argv.flatMap((a) => (/^--[^=]+=/.test(a) ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a]));
  /** The values after a variadic flag: up to the next `-...` argument. */
  const values = (from: number): string[] => {
    const out: string[] = [];
    for (let j = from; j < args.length && !args[j]!.startsWith('-'); j++) out.push(args[j]!);
    return out;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    switch (arg) {
      case '--session-id':
        sid = args[++i] ?? '';
        mode = 'new';
        break;
      case '--resume':
        sid = args[++i] ?? '';
        mode = 'resume';
        break;
      case '--version':
        line(`${VERSION} (Claude Code)`);
        process.exit(0);
      case '--mcp-config': {
        const v = values(i + 1);
        mcpConfigs.push(...v);
        i += v.length;
        break;
      }
      case '--dangerously-load-development-channels': {
        const v = values(i + 1);
        devChannels.push(...v.flatMap((s) => s.split(',')).filter(Boolean));
        i += v.length;
        break;
      }
    }
  }
}

// --- Session id rules and transcript -----------------------------------------------------------------
// The real CLI's rules (FACTS.md): `--session-id` and `--resume <id>` look only in the CURRENT cwd's
// project folder; `--resume <absolute transcript path>` works from anywhere and keeps the id.
const slug = realpathSync(cwd).replace(/[^A-Za-z0-9]/g, '-');
let transcript = join(root, 'projects', slug, `${sid}.jsonl`);
if (mode === 'resume' && sid.startsWith('/') && sid.endsWith('.jsonl') && existsSync(sid)) {
  transcript = sid;
  sid = basename(sid, '.jsonl');
}
if (mode === 'new' && existsSync(transcript)) {
  line(`Error: Session ID ${sid} is already in use.`);
  process.exit(1);
}
if (mode === 'resume' && !existsSync(transcript)) {
  line(`No conversation found with session ID: ${sid}`);
  process.exit(1);
}
line(`Claude Code (stand-in) session ${sid} (${mode})`);

// --- Terminal input: one line reader for the dialog and the prompt ------------------------------------
// readline without `terminal` leaves the tty in canonical mode: tmux's `send-keys Enter` ends a line.
const pending: string[] = [];
let waiter: ((value: string | null) => void) | null = null;
let stdinEnded = false;
const input = createInterface({ input: process.stdin, terminal: false });
input.on('line', (text) => {
  if (waiter) {
    const w = waiter;
    waiter = null;
    w(text);
  } else pending.push(text);
});
input.on('close', () => {
  stdinEnded = true;
  waiter?.(null);
  waiter = null;
});
process.stdin.on('error', () => {});
function nextLine(): Promise<string | null> {
  if (pending.length) return Promise.resolve(pending.shift()!);
  if (stdinEnded) return Promise.resolve(null);
  return new Promise((resolve) => (waiter = resolve));
}

// --- Development channels dialog ----------------------------------------------------------------------
const channelNames = devChannels.filter((c) => c.startsWith('server:')).map((c) => c.slice('server:'.length));
for (const c of devChannels.filter((c) => !c.startsWith('server:'))) line(`warning: development channel ${c} is not a server: entry; ignored by the stand-in`);

if (devChannels.length) {
  line('WARNING: Loading development channels');
  line('');
  line(`  ${devChannels.join(', ')}`);
  line('  These channels are not on the approved list. Only use them for local development.');
  line('');
  line('❯ 1. I am using this for local development');
  line('  2. Exit');
  for (;;) {
    const answer = await nextLine();
    if (answer === null) {
      line('stdin closed before the development channels dialog was answered');
      process.exit(1);
    }
    const choice = answer.trim();
    if (choice === '2' || choice.includes('\u001b[B')) {
      line('Exiting.');
      process.exit(1);
    }
    if (choice === '' || choice === '1') break;
  }
}

// --- MCP servers --------------------------------------------------------------------------------------
const [{ Client: ClientClass }, { StdioClientTransport: StdioTransportClass }] = await Promise.all([
  import('@modelcontextprotocol/sdk/client/index.js'),
  import('@modelcontextprotocol/sdk/client/stdio.js'),
]);
const servers = new Map<string, ServerConfig>();
for (const source of mcpConfigs) {
  let parsed: { mcpServers?: Record<string, ServerConfig> };
  try {
    parsed = JSON.parse(source.trimStart().startsWith('{') ? source : readFileSync(resolve(source), 'utf8'));
  } catch (error) {
    line(`Error: invalid MCP configuration ${source}: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
  for (const [name, config] of Object.entries(parsed.mcpServers ?? {})) servers.set(name, config);
}

const outDir = process.env.TELEGRAM_STATE_DIR || process.env.DISCORD_STATE_DIR || root;
mkdirSync(outDir, { recursive: true });
const notificationsFile = join(outDir, 'channel-notifications.jsonl');

/**
 * What the real CLI writes when it takes a channel message: a `queue-operation` enqueue line with the
 * wrapped message in the transcript (the sign the bridge confirms delivery by), then the turn itself.
 */
function recordTaken(server: string, content: string, meta: Record<string, string>): void {
  const attributes = Object.entries(meta).map(([k, v]) => ` ${k}="${String(v).replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;')}"`).join('');
  const wrapped = `<channel source="${server}"${attributes}>\n${content}\n</channel>`;
  mkdirSync(join(transcript, '..'), { recursive: true });
  const at = new Date().toISOString();
  appendFileSync(transcript, `${JSON.stringify({ type: 'queue-operation', operation: 'enqueue', timestamp: at, sessionId: sid, content: wrapped })}\n`);
  appendFileSync(transcript, `${JSON.stringify({ type: 'user', sessionId: sid, timestamp: at, message: { role: 'user', content: wrapped } })}\n`);
}

function fail(text: string): Promise<never> {
  line(text);
  return shutdown(1);
}

for (const name of channelNames) if (!servers.has(name)) await fail(`channel server:${name} error: no MCP server named ${name} in --mcp-config`);

async function connect(name: string, config: ServerConfig): Promise<Connected> {
  if (config.type && config.type !== 'stdio') throw new Error(`transport type ${config.type} is not supported by the stand-in`);
  if (!config.command) throw new Error('no command');
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  Object.assign(env, config.env ?? {});
  const transport = new StdioTransportClass({ command: config.command, args: config.args ?? [], env, cwd: config.cwd, stderr: 'pipe' });
  transports.push(transport);
  const stderr = transport.stderr;
  // With stderr 'pipe' this is a PassThrough, handed out before the child starts (no early line lost).
  if (stderr) createInterface({ input: stderr as Readable, terminal: false }).on('line', (text) => line(`[${name}] ${text}`));
  const client = new ClientClass({ name: 'claude-code-stand-in', version: VERSION }, { capabilities: {} });
  const channel = channelNames.includes(name);
  // Like the real CLI, the channel handler (and the tools/list_changed one, in the same step) is
  // registered some time after the handshake; what arrives before is dropped without a word.
  let registered = false;
  client.fallbackNotificationHandler = async (notification) => {
    if (!registered) {
      appendFileSync(join(outDir, 'dropped-notifications.jsonl'), `${JSON.stringify({ method: notification.method, params: notification.params ?? {}, at: Date.now() })}\n`);
      return;
    }
    if (notification.method === 'notifications/claude/channel' && channel) {
      const params = (notification.params ?? {}) as { content?: unknown; meta?: Record<string, string> };
      const content = typeof params.content === 'string' ? params.content : JSON.stringify(params.content ?? '');
      const meta = params.meta ?? {};
      appendFileSync(notificationsFile, `${JSON.stringify({ content: params.content, meta, at: Date.now(), server: name })}\n`);
      recordTaken(name, content, meta);
      line(`← ${content.slice(0, 200)}`);
    } else if (notification.method === 'notifications/tools/list_changed') {
      void client.listTools().then((result) => line(`[${name}] tools refreshed (${result.tools.length})`), () => {});
    } else {
      line(`[${name}] notification ${notification.method}${channel ? '' : ' (not a channel: ignored)'}`);
    }
  };
  client.onerror = (error) => line(`[${name}] error: ${error.message}`);
  client.onclose = () => {
    if (!shuttingDown) line(`[${name}] MCP server disconnected`);
  };
  await client.connect(transport);
  setTimeout(() => {
    registered = true;
  }, REGISTER_DELAY_MS);
  if (channel && !client.getServerCapabilities()?.experimental?.['claude/channel']) {
    throw new Error("the server did not declare the experimental 'claude/channel' capability");
  }
  return { name, client, transport, pid: transport.pid };
}

const tools: Record<string, unknown[]> = {};
for (const [name, config] of servers) {
  const channel = channelNames.includes(name);
  try {
    const c = await connect(name, config);
    connected.push(c);
    if (c.client.getServerCapabilities()?.tools) tools[name] = (await c.client.listTools()).tools;
    line(channel ? `channel server:${name} connected` : `MCP server ${name} connected`);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (channel) await fail(`channel server:${name} error: ${message}`);
    line(`MCP server ${name} failed: ${message}`);
  }
}
writeFileSync(`${join(outDir, 'tools.json')}.tmp`, `${JSON.stringify(tools, null, 2)}\n`);
renameSync(`${join(outDir, 'tools.json')}.tmp`, join(outDir, 'tools.json'));

// --- Tool requests from tests -------------------------------------------------------------------------
const requestsDir = join(outDir, 'tool-requests');
mkdirSync(requestsDir, { recursive: true });
const badReads = new Map<string, number>();
let polling = false;

function writeResult(file: string, value: unknown): void {
  const target = join(requestsDir, `${file.slice(0, -'.json'.length)}.result.json`);
  writeFileSync(`${target}.tmp`, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(`${target}.tmp`, target);
}

async function pollRequests(): Promise<void> {
  if (polling || shuttingDown) return;
  polling = true;
  try {
    let files: string[];
    try {
      files = readdirSync(requestsDir).filter((f) => f.endsWith('.json') && !f.endsWith('.result.json')).sort();
    } catch {
      return;
    }
    for (const file of files) {
      const path = join(requestsDir, file);
      let request: { server?: string; name?: string; arguments?: Record<string, unknown> };
      try {
        request = JSON.parse(readFileSync(path, 'utf8'));
      } catch (error) {
        // Maybe half written: try again on the next ticks before giving up.
        const count = (badReads.get(file) ?? 0) + 1;
        badReads.set(file, count);
        if (count < 10) continue;
        writeResult(file, { ok: false, error: `unreadable request: ${error instanceof Error ? error.message : String(error)}` });
        unlinkSync(path);
        continue;
      }
      badReads.delete(file);
      const serverName = request.server ?? channelNames[0] ?? connected[0]?.name;
      const target = connected.find((c) => c.name === serverName);
      let result: { ok: true; result: unknown } | { ok: false; error: string };
      if (!target) result = { ok: false, error: `no connected MCP server ${serverName ?? '(none)'}` };
      else if (!request.name) result = { ok: false, error: 'the request has no tool name' };
      else {
        line(`⏺ ${target.name} - ${request.name} (MCP)`);
        try {
          result = { ok: true, result: await target.client.callTool({ name: request.name, arguments: request.arguments ?? {} }) };
        } catch (error) {
          result = { ok: false, error: error instanceof Error ? error.message : String(error) };
        }
      }
      writeResult(file, result);
      try {
        unlinkSync(path);
      } catch {}
    }
  } finally {
    polling = false;
  }
}
setInterval(() => void pollRequests(), POLL_MS);

// --- Prompt ---------------------------------------------------------------------------------------------
say('> ');
promptShown = true;
for (;;) {
  const text = await nextLine();
  if (text === null) break; // stdin closed: keep running until killed (the interval keeps us alive)
  say(`you typed: ${text}\n> `);
}
