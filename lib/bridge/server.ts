import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readOptionalFile } from '../core/config/config.ts';
import { claimNotice, type Condition, readCondition, recordCondition, writeCondition } from '../core/store/condition.ts';
import { writeFileAtomic } from '../core/store/fs-atomic.ts';
import { STATE_FILES, stampState } from '../core/store/state.ts';
import type { Clock } from '../core/util/clock.ts';
import { CrsError, formatError } from '../core/util/errors.ts';
import type { Logger } from '../core/util/log.ts';
import { ChannelDelivery } from './delivery.ts';
import { createLinkClient } from './link.ts';
import { PermissionRelay } from './permissions.ts';
import { McpServer, type McpTool, type McpTransport, type ToolResult } from './mcp.ts';

const ORPHAN_CHECK_MS = 2000;

/** One MCP tool as `tools/list` describes it. */
export type BridgeTool = McpTool;
export type { ToolResult };

/** The platform half of a bridge: its tools (named and shaped as the official plugin's) and how it posts a notice. */
export interface PlatformTools {
  /** The MCP server name sessions load (`server:<name>`). */
  serverName: string;
  /** The server's instructions to the model. */
  instructions: string;
  tools: BridgeTool[];
  /** Runs a tool; throws a CrsError for a refusal (it becomes an error result). */
  call(name: string, args: Record<string, unknown>): Promise<string>;
  /** Posts a notice of ours into the session's own chat. */
  notify(text: string): Promise<void>;
  /** How a condition notice reads in this chat. */
  formatNotice(condition: Pick<Condition, 'state' | 'cause' | 'fix'>): string;
  /** The fix for a session whose Claude Code does not take messages, in this platform's words. */
  deafFix: string;
}

export interface BridgeOptions {
  /** The session's platform id (channel, thread or chat). */
  session: string;
  stateDir: string;
  socketPath: string;
  secret: string;
  platform: PlatformTools;
  log: Logger;
  clock: Clock;
  signal: AbortSignal;
  /** stdio by default; tests may pass streams. */
  transport?: McpTransport;
}

/**
 * The Claude Code channel of one session, for either platform: an MCP server on stdio that, once
 * Claude Code listens, takes its session's messages from the router, pushes each as
 * `notifications/claude/channel` and tells the router whether Claude Code TOOK it (lib/bridge/delivery.ts).
 * Its tools are the platform's. It stops when Claude Code goes away.
 */
export async function runBridge(options: BridgeOptions): Promise<void> {
  const { platform, log, stateDir } = options;
  const transcript = readOptionalFile(join(stateDir, STATE_FILES.transcript))?.trim();
  if (!transcript) throw new CrsError(`No transcript path recorded in ${stateDir}.`, { hint: 'Sessions are started by the session manager, not by hand.' });
  const server = new McpServer({
    info: { name: platform.serverName, version: '1.0.0' },
    instructions: platform.instructions,
    tools: {
      tools: platform.tools,
      async call(name, args) {
        const text = await platform.call(name, args);
        // What the session said in its chat, for list and status.
        if (name === 'reply') stampState(stateDir, 'lastOut', options.clock.now());
        return text;
      },
    },
    // tools.listChanged (always declared): the readiness probe (lib/bridge/delivery.ts) depends on it.
    experimental: { 'claude/channel': {}, ...PermissionRelay.capability },
    log,
  });
  const delivery = new ChannelDelivery(server, transcript, options.clock);
  server.ontoolslisted = () => delivery.noteToolsListed();

  const stop = new AbortController();
  options.signal.addEventListener('abort', () => stop.abort(), { once: true });
  // stdin may stay open when Claude Code goes away (a grandchild holds it): a bridge whose parent is gone stops.
  const parent = process.ppid;
  const orphanCheck = setInterval(() => process.ppid !== parent && stop.abort(), ORPHAN_CHECK_MS);
  stop.signal.addEventListener('abort', () => clearInterval(orphanCheck), { once: true });

  const stopping = () => existsSync(join(stateDir, STATE_FILES.stopping));
  let relay: PermissionRelay | undefined;
  const link = createLinkClient({
    socketPath: options.socketPath,
    session: options.session,
    secret: options.secret,
    clock: options.clock,
    log,
    signal: stop.signal,
    onMessage: async (message) => {
      const outcome = await delivery.deliver({ content: message.content, meta: message.meta }, stop.signal, stopping);
      if (stop.signal.aborted) return undefined;
      if (outcome === 'stopping') return { type: 'not-taken', reason: 'stopping' };
      if (outcome === 'not-taken') {
        log.warn(`Claude Code did not take message ${message.id}; it stays queued`);
        await tell('DEAF', 'Claude Code does not take the messages pushed to it (channels may be off for this account or profile)', platform.deafFix);
        return { type: 'not-taken', reason: 'deaf' };
      }
      if (readCondition(stateDir, 'bridge')) writeCondition(stateDir, 'bridge', undefined);
      return { type: 'taken' };
    },
    onVerdict: (verdict) => relay?.onVerdict(verdict),
  });
  // Before connecting: a permission request may come at any time; it waits in the link's outbox until the link is up.
  relay = new PermissionRelay(server, link, delivery.watch, log);

  const initialized = new Promise<void>((resolve) => {
    server.oninitialized = () => resolve();
  });
  const closed = new Promise<void>((resolve) => {
    server.onclose = () => resolve();
  });
  server.connect(options.transport);
  void closed.then(() => stop.abort());
  await Promise.race([initialized, closed]);

  // Connect to the router only once Claude Code takes channel messages: "hello" means "send".
  if (!(await delivery.waitReady(stop.signal)) && !stop.signal.aborted) log.warn('Claude Code did not confirm it listens to channel messages; delivering anyway');
  await tellNewConversation();
  await link.run();
  relay.stop();
  server.close();

  /** Records a condition of this bridge and tells the chat once (whoever sees it first tells). */
  async function tell(state: Condition['state'], cause: string, fix: string): Promise<void> {
    const condition = recordCondition(stateDir, 'bridge', { state, cause, fix, since: options.clock.now() });
    if (!claimNotice(stateDir, 'bridge', condition)) return;
    await platform.notify(platform.formatNotice(condition)).catch((error) => log.warn(`could not tell the chat: ${formatError(error)}`));
  }

  /** Says in the chat, once, that this session had to start a new conversation, and why. */
  async function tellNewConversation(): Promise<void> {
    const file = join(stateDir, STATE_FILES.newConversation);
    const text = readOptionalFile(file);
    if (!text) return;
    try {
      const note = JSON.parse(text) as { reason: string; told?: boolean };
      if (note.told) return;
      await platform.notify(`⚠️ This session started a new conversation: ${note.reason}.`);
      writeFileAtomic(file, `${JSON.stringify({ ...note, told: true })}\n`);
    } catch (error) {
      log.warn(`could not tell the chat about the new conversation: ${formatError(error)}`);
    }
  }
}
