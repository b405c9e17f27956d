import type { Logger } from '../core/util/log.ts';
import type { TranscriptWatch } from '../core/host/transcript.ts';
import { REQUEST_ID } from '../router/protocol.ts';
import type { IncomingVerdict, LinkClient } from './link.ts';
import type { McpServer } from './mcp.ts';

const REQUEST_METHOD = 'notifications/claude/channel/permission_request';
const VERDICT_METHOD = 'notifications/claude/channel/permission';
/** How often the transcript is read while requests wait, to see one answered in the terminal. */
const RESOLVED_POLL_MS = 300;
const ALPHABET = 'abcdefghijkmnopqrstuvwxyz';
/** Words Claude Code keeps out of request ids (it hashes again with a counter when one shows). */
const AVOIDED = ['fuck', 'shit', 'cunt', 'cock', 'dick', 'twat', 'piss', 'crap', 'bitch', 'whore', 'ass', 'tit', 'cum', 'fag', 'dyke', 'nig', 'kike', 'rape', 'nazi', 'damn', 'poo', 'pee', 'wank', 'anus'];

function fnv5(text: string): string {
  let hash = 2166136261;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 16777619);
  }
  hash >>>= 0;
  let id = '';
  for (let i = 0; i < 5; i++) {
    id += ALPHABET[hash % 25];
    hash = Math.floor(hash / 25);
  }
  return id;
}

/**
 * The permission request id Claude Code derives from a tool call's id (FNV-1a into 5 letters), so the
 * bridge can tell from the transcript when the call it asked about got its answer elsewhere.
 */
export function requestIdOf(toolUseId: string): string {
  let id = fnv5(toolUseId);
  for (let n = 0; n < 10; n++) {
    if (!AVOIDED.some((word) => id.includes(word))) return id;
    id = fnv5(`${toolUseId}:${n}`);
  }
  return id;
}

/**
 * The permission relay of a bridge: a request Claude Code relays (`…/permission_request`) goes to the
 * router, which asks the owner in the chat; the owner's verdict comes back and goes to Claude Code
 * (`…/permission`). A request answered in the terminal first (its tool call got a result in the
 * transcript) is reported resolved, so its message in the chat is closed.
 */
export class PermissionRelay {
  private readonly waiting = new Set<string>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly server: McpServer,
    private readonly link: Pick<LinkClient, 'send'>,
    private readonly watch: TranscriptWatch,
    private readonly log: Logger,
  ) {
    server.onNotification(REQUEST_METHOD, (params) => this.onRequest(params));
  }

  /** Capabilities to declare: Claude Code relays permission requests only to channels that declare it. */
  static readonly capability = { 'claude/channel/permission': {} };

  onVerdict(verdict: IncomingVerdict): void {
    if (!this.waiting.delete(verdict.request_id)) return;
    this.log.info(`permission ${verdict.request_id}: ${verdict.behavior} from the chat`);
    void this.server.notify(VERDICT_METHOD, { request_id: verdict.request_id, behavior: verdict.behavior }).catch(() => {});
    this.schedule();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private onRequest(params: Record<string, unknown>): void {
    const text = (key: string, max: number) => (typeof params[key] === 'string' ? (params[key] as string).slice(0, max) : '');
    const requestId = text('request_id', 5);
    if (!REQUEST_ID.test(requestId) || !text('tool_name', 200)) {
      this.log.warn(`ignored a malformed permission request: ${JSON.stringify(params).slice(0, 200)}`);
      return;
    }
    this.waiting.add(requestId);
    this.link.send({
      type: 'permission-request',
      request_id: requestId,
      tool_name: text('tool_name', 200),
      description: text('description', 4000),
      input_preview: text('input_preview', 8000),
    });
    this.schedule();
  }

  /** Reads the transcript while requests wait; stops when none does. */
  private schedule(): void {
    if (this.waiting.size === 0) return this.stop();
    this.timer ??= setInterval(() => this.checkResolved(), RESOLVED_POLL_MS);
  }

  private checkResolved(): void {
    this.watch.poll();
    for (const toolUseId of this.watch.toolResults) {
      const requestId = requestIdOf(toolUseId);
      if (!this.waiting.delete(requestId)) continue;
      this.log.info(`permission ${requestId}: answered in the terminal`);
      this.link.send({ type: 'permission-resolved', request_id: requestId });
    }
    this.schedule();
  }
}
