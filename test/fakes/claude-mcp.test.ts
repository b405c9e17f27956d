import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FAKE_CLAUDE, ROOT, Sandbox, waitFor } from '../helpers.ts';

const CLAUDE_MCP = join(ROOT, 'test/fakes/claude-mcp');
const SERVER = 'crs-test';

let sb: Sandbox;
let serverScript: string;

beforeAll(async () => {
  sb = new Sandbox({ env: { CLAUDE_BIN: CLAUDE_MCP } });
  // tmux exits with its last session; a session started meanwhile could land on the dying server, and
  // the orphaned panes' processes would be reaped by init, late. One idle session keeps the server up.
  await sb.tmux.newSession({ name: 'keepalive', cwd: sb.dir, argv: ['sleep', '600'], env: {} });
  const sdk = (path: string) => JSON.stringify(Bun.resolveSync(`@modelcontextprotocol/sdk/${path}`, ROOT));
  serverScript = join(sb.dir, 'channel-server.ts');
  // A tiny channel: records that it started, answers `reply` by appending its arguments to a file,
  // pushes one message shortly after the handshake. It ignores SIGHUP/SIGINT and stdin EOF and keeps
  // itself alive, so only the stand-in's cleanup (SIGTERM) can end it.
  writeFileSync(
    serverScript,
    `import { appendFileSync } from 'node:fs';
import { Server } from ${sdk('server/index.js')};
import { StdioServerTransport } from ${sdk('server/stdio.js')};
import { CallToolRequestSchema, ListToolsRequestSchema } from ${sdk('types.js')};
const [replies, starts] = process.argv.slice(2);
appendFileSync(starts, process.pid + '\\n');
process.on('SIGHUP', () => {});
process.on('SIGINT', () => {});
setInterval(() => {}, 60_000);
const server = new Server({ name: 'test-channel', version: '1.0.0' }, { capabilities: { tools: { listChanged: true }, experimental: { 'claude/channel': {} } } });
server.setRequestHandler(CallToolRequestSchema, async (request) => {
  if (request.params.name !== 'reply') return { isError: true, content: [{ type: 'text', text: 'unknown tool ' + request.params.name }] };
  appendFileSync(replies, JSON.stringify(request.params.arguments) + '\\n');
  return { content: [{ type: 'text', text: 'sent' }] };
});
// Pushed at once: the stand-in (like the real CLI) drops it. Then, like our bridge, it waits until a
// tools/list_changed makes the client list the tools again before pushing 'hello'.
let listings = 0;
const listed = new Set<() => void>();
server.setRequestHandler(ListToolsRequestSchema, async () => {
  listings++;
  for (const done of listed) done();
  return { tools: [{ name: 'reply', description: 'Reply in the chat.', inputSchema: { type: 'object', properties: { chat_id: { type: 'string' }, text: { type: 'string' } }, required: ['chat_id', 'text'] } }] };
});
const push = (content: string, id: string) => server.notification({
  method: 'notifications/claude/channel',
  params: { content, meta: { chat_id: '42', message_id: id, user: 'alice', user_id: '7', ts: '2026-01-01T00:00:00.000Z' } },
});
server.oninitialized = async () => {
  await push('too early', '0');
  for (;;) {
    const before = listings;
    const relisted = new Promise<boolean>((resolve) => { const done = () => { listed.delete(done); resolve(true); }; listed.add(done); setTimeout(() => { listed.delete(done); resolve(false); }, 100); });
    await server.sendToolListChanged();
    if ((await relisted) && listings > before) break;
  }
  await push('hello', '1');
};
console.error('channel server up');
await server.connect(new StdioServerTransport());
`,
  );
});

afterAll(async () => {
  await sb.cleanup();
});

/** A state dir and an --mcp-config for one run; the marker names the server process for pgrep. */
function channelSetup(tag: string) {
  const state = join(sb.dir, `state-${tag}`);
  mkdirSync(state, { recursive: true });
  const marker = `crs-mcp-marker-${tag}-${process.pid}-${Date.now()}`;
  const replies = join(state, 'replies.jsonl');
  const starts = join(state, 'starts');
  const config = join(sb.dir, `mcp-${tag}.json`);
  writeFileSync(config, JSON.stringify({ mcpServers: { [SERVER]: { command: 'bun', args: [serverScript, replies, starts, marker], env: { CHANNEL_TAG: tag } } } }));
  return { state, marker, replies, starts, config };
}

async function pgrep(marker: string): Promise<number[]> {
  const proc = Bun.spawn(['pgrep', '-f', '--', marker], { stdout: 'pipe', stderr: 'ignore' });
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  return out.split('\n').filter(Boolean).map(Number);
}

/** Running and not a zombie (Linux /proc). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function runDirect(args: string[], extraEnv: Record<string, string> = {}) {
  const proc = Bun.spawn([CLAUDE_MCP, ...args], { cwd: sb.home, env: { ...sb.env, ...extraEnv } as Record<string, string>, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
  return proc;
}

describe('claude-mcp stand-in', () => {
  test('records itself like test/fakes/claude, and follows the --session-id / --resume rules', async () => {
    const bash = Bun.spawn([FAKE_CLAUDE, '--version'], { cwd: sb.home, env: sb.env as Record<string, string>, stdout: 'pipe' });
    expect(await bash.exited).toBe(0);
    const version = await runDirect(['--version']);
    expect(await new Response(version.stdout).text()).toBe('2.1.197 (Claude Code)\n');
    expect(await version.exited).toBe(0);

    const sid = crypto.randomUUID();
    const first = await runDirect(['--session-id', sid, '--name', 'x;y']);
    const runs = await sb.waitForRuns(3);
    // Both stand-ins' records sort by start time.
    expect(runs.map((r) => r.argv)).toEqual([['--version'], ['--version'], ['--session-id', sid, '--name', 'x;y']]);
    expect(runs[2]!.cwd).toBe(sb.home);
    expect(runs[2]!.env.CLAUDE_BIN).toBe(CLAUDE_MCP);
    expect(runs[2]!.env.CLAUDE_CONFIG_DIR).toBe(sb.root);
    first.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    // A conversation in the home folder (the stand-in writes one when it takes a channel message).
    const transcript = join(sb.root, 'projects', sb.home.replace(/[^A-Za-z0-9]/g, '-'), `${sid}.jsonl`);
    mkdirSync(join(transcript, '..'), { recursive: true });
    writeFileSync(transcript, '{"type":"user"}\n');
    const again = await runDirect(['--session-id', sid]);
    expect(await new Response(again.stdout).text()).toContain(`Error: Session ID ${sid} is already in use.`);
    expect(await again.exited).toBe(1);
    const other = crypto.randomUUID();
    const resume = await runDirect(['--resume', other]);
    expect(await new Response(resume.stdout).text()).toContain(`No conversation found with session ID: ${other}`);
    expect(await resume.exited).toBe(1);
    // From another cwd: --resume <id> fails, --resume <path> continues the same id.
    const elsewhere = join(sb.dir, 'elsewhere');
    mkdirSync(elsewhere, { recursive: true });
    const byId = Bun.spawn([CLAUDE_MCP, '--resume', sid], { cwd: elsewhere, env: sb.env as Record<string, string>, stdin: 'ignore', stdout: 'pipe' });
    expect(await new Response(byId.stdout).text()).toContain(`No conversation found with session ID: ${sid}`);
    const byPath = Bun.spawn([CLAUDE_MCP, '--resume', transcript], { cwd: elsewhere, env: sb.env as Record<string, string>, stdin: 'ignore', stdout: 'pipe' });
    await waitFor(async () => (await sb.waitForRuns(7)).length >= 7, 5000, 'the resumed run');
    byPath.kill('SIGTERM');
    expect(await new Response(byPath.stdout).text()).toContain(`session ${sid} (resume)`);

    const state = join(sb.dir, 'state-logged-out');
    mkdirSync(state, { recursive: true });
    writeFileSync(join(state, 'fake-claude-exit'), 'Not logged in · Please run /login\n');
    const loggedOut = await runDirect(['--resume', sid], { TELEGRAM_STATE_DIR: state });
    expect(await new Response(loggedOut.stdout).text()).toBe('Not logged in · Please run /login\n');
    expect(await loggedOut.exited).toBe(1);
  });

  test('in tmux: dialog first, then the channel connects, notifications and tool calls flow, kill-session leaves no orphan', async () => {
    const { state, marker, replies, starts, config } = channelSetup('e2e');
    const name = 'tg-e2e';
    const sid = crypto.randomUUID();
    const cwd = join(sb.home, 'work');
    await sb.tmux.newSession({
      name,
      cwd,
      argv: [CLAUDE_MCP, '--mcp-config', config, '--dangerously-load-development-channels', `server:${SERVER}`, '--session-id', sid],
      env: { ...(sb.env as Record<string, string>), TELEGRAM_STATE_DIR: state },
      remainOnExit: true,
    });
    const dialog = await sb.waitForPane(name, /2\. Exit/);
    expect(dialog).toContain('WARNING: Loading development channels');
    expect(dialog).toContain('❯ 1. I am using this for local development');
    // Blocked on the dialog: no server started, nothing connected.
    await Bun.sleep(300);
    expect(existsSync(starts)).toBe(false);
    expect(await pgrep(marker)).toEqual([]);
    expect(await sb.tmux.capturePane(name)).not.toContain('connected');

    await sb.tmux.sendKeys(name, ['Enter']);
    const notifications = join(state, 'channel-notifications.jsonl');
    await waitFor(() => existsSync(notifications), 4000, 'a channel notification');
    const lines = readFileSync(notifications, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ content: 'hello', meta: { chat_id: '42', message_id: '1', user: 'alice', user_id: '7' }, server: SERVER });
    // The one pushed right after the handshake was dropped, as the real CLI drops it.
    const dropped = readFileSync(join(state, 'dropped-notifications.jsonl'), 'utf8');
    expect(dropped).toContain('too early');
    // Taken: the transcript shows the queue-operation line the bridge confirms delivery by.
    const transcript = readFileSync(join(sb.root, 'projects', realpathSync(cwd).replace(/[^A-Za-z0-9]/g, '-'), `${sid}.jsonl`), 'utf8');
    expect(transcript).toContain('"operation":"enqueue"');
    expect(transcript).toContain('message_id=\\"1\\"');
    expect(typeof lines[0].at).toBe('number');
    const pane = await sb.waitForPane(name, /← hello/);
    expect(pane).toContain(`channel server:${SERVER} connected`);
    expect(pane).toContain(`[${SERVER}] channel server up`);

    const tools = JSON.parse(readFileSync(join(state, 'tools.json'), 'utf8'));
    expect(tools[SERVER].map((t: { name: string }) => t.name)).toEqual(['reply']);

    const requests = join(state, 'tool-requests');
    const request = (id: string, body: unknown) => {
      writeFileSync(join(requests, `${id}.json.tmp`), JSON.stringify(body));
      renameSync(join(requests, `${id}.json.tmp`), join(requests, `${id}.json`));
    };
    request('r1', { name: 'reply', arguments: { chat_id: '42', text: 'hi alice' } });
    request('r2', { server: 'nope', name: 'reply', arguments: {} });
    await waitFor(() => existsSync(join(requests, 'r1.result.json')) && existsSync(join(requests, 'r2.result.json')), 3000, 'tool results');
    expect(JSON.parse(readFileSync(join(requests, 'r1.result.json'), 'utf8'))).toEqual({ ok: true, result: { content: [{ type: 'text', text: 'sent' }] } });
    expect(JSON.parse(readFileSync(join(requests, 'r2.result.json'), 'utf8'))).toMatchObject({ ok: false, error: expect.stringContaining('nope') });
    expect(existsSync(join(requests, 'r1.json'))).toBe(false);
    expect(readFileSync(replies, 'utf8')).toBe(`${JSON.stringify({ chat_id: '42', text: 'hi alice' })}\n`);

    const run = sb.claudeRuns().at(-1)!;
    expect(run.cwd).toBe(cwd);
    expect(run.env.TELEGRAM_STATE_DIR).toBe(state);

    const servers = await pgrep(marker);
    expect(servers).toHaveLength(1);
    const standIn = (await sb.tmux.listSessions()).get(name)!.panePid;
    expect(alive(standIn)).toBe(true);
    expect(await sb.tmux.killSession(name)).toBe(true);
    await waitFor(async () => (await pgrep(marker)).length === 0 && !alive(standIn), 3000, 'the stand-in and its server to exit');
  });

  test('answering "2" exits with status 1 and starts no server', async () => {
    const { state, marker, starts, config } = channelSetup('exit');
    const name = 'tg-exit';
    await sb.tmux.newSession({
      name,
      cwd: sb.home,
      // The exit status is recorded by a shell around the stand-in: tmux 3.3a here sometimes reaps an
      // exited Bun pane process seconds late, leaving #{pane_dead_status} empty meanwhile.
      argv: ['sh', '-c', '"$0" "$@"; echo "exit $?" > "$EXIT_FILE"', CLAUDE_MCP, '--mcp-config', config, '--dangerously-load-development-channels', `server:${SERVER}`],
      env: { ...(sb.env as Record<string, string>), TELEGRAM_STATE_DIR: state, EXIT_FILE: join(state, 'exit') },
      remainOnExit: true,
    });
    await sb.waitForPane(name, /2\. Exit/);
    await sb.tmux.sendKeys(name, ['2', 'Enter']);
    await waitFor(() => existsSync(join(state, 'exit')), 3000, `${name} to exit`);
    expect(readFileSync(join(state, 'exit'), 'utf8')).toBe('exit 1\n');
    expect(await sb.waitForPane(name, /Exiting\./)).toContain('\n2\n');
    expect(existsSync(starts)).toBe(false);
    expect(await pgrep(marker)).toEqual([]);
  });
});
