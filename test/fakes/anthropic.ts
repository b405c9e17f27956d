/**
 * A loopback stand-in for the Anthropic Messages API, for tests that run the REAL Claude Code
 * (`ANTHROPIC_BASE_URL=<url>`). It records every request body (what the model received is the ground
 * truth for "delivered", "lost" and "duplicated") and answers from a script: each request's turn is
 * chosen by `script(request)`, else by the default rules below.
 *
 * Default rules, on the last user message of a request that carries tools (a conversation turn):
 * - it ends with a tool result → a short text ("done"), so a tool call ends its turn;
 * - its text holds `please reply` inside a `<channel … chat_id="X" …>` tag → a `tool_use` of the
 *   channel's `reply` tool (`mcp__<server>__reply`, the server taken from the tag's `source`) with
 *   that chat_id and the text `ack <message_id>`;
 * - `run-tool <command>` → a `Bash` tool_use running `<command>`;
 * - `trigger-429` → HTTP 429 with `anthropic-ratelimit-unified-reset` (epoch seconds) `resetAt`;
 * - anything else → the text `ok`.
 * Side requests (no tools: titles, topic checks, quota probes) get a short text and are recorded too.
 */
import type { Server } from 'bun';

export type Turn =
  | { text: string }
  | { toolUse: { name: string; input: Record<string, unknown> } }
  | { status: number; headers?: Record<string, string>; body?: unknown };

/** One request as the model received it. */
export interface ModelRequest {
  at: number;
  path: string;
  body: {
    model?: string;
    stream?: boolean;
    system?: unknown;
    tools?: Array<{ name: string }>;
    messages?: Array<{ role: string; content: string | Array<Record<string, unknown>> }>;
  };
  /** Whether it carries tools: a conversation turn rather than a side request. */
  isTurn: boolean;
  /** Every text of every user message, in order (tool results included as their text). */
  userTexts: string[];
  /** The text of the last user message. */
  lastUserText: string;
}

export type Script = (request: ModelRequest) => Turn | undefined;

export interface FakeAnthropicOptions {
  script?: Script;
  /** Epoch seconds sent with `trigger-429` (default: an hour from now). */
  resetAt?: number;
}

/**
 * A 429 as the API sends it to a subscription account at its five-hour limit: the unified rate-limit
 * headers with the reset time (epoch seconds), which Claude Code shows as `resets 2:07pm`.
 */
export function usageLimitTurn(reset: number): Turn {
  return {
    status: 429,
    headers: {
      'anthropic-ratelimit-unified-status': 'rejected',
      'anthropic-ratelimit-unified-reset': String(reset),
      'anthropic-ratelimit-unified-representative-claim': 'five_hour',
      'anthropic-ratelimit-unified-5h-status': 'rejected',
      'anthropic-ratelimit-unified-5h-reset': String(reset),
      'anthropic-ratelimit-unified-5h-utilization': '1.0',
      'retry-after': String(Math.max(1, reset - Math.floor(Date.now() / 1000))),
    },
    body: { type: 'error', error: { type: 'rate_limit_error', message: 'usage limit reached' } },
  };
}

const CHANNEL_TAG = /<channel\b([^>]*)>([\s\S]*?)<\/channel>/g;

/** The attributes of every `<channel …>` tag in a text (source, chat_id, message_id, …) with its body. */
export function parseChannelTags(text: string): Array<Record<string, string> & { body: string }> {
  const tags: Array<Record<string, string> & { body: string }> = [];
  for (const match of text.matchAll(CHANNEL_TAG)) {
    const attributes: Record<string, string> & { body: string } = { body: match[2]!.trim() };
    for (const attr of match[1]!.matchAll(/([A-Za-z_][A-Za-z0-9_]*)="([^"]*)"/g)) attributes[attr[1]!] = attr[2]!;
    tags.push(attributes);
  }
  return tags;
}

function textsOf(content: string | Array<Record<string, unknown>> | undefined): string[] {
  if (content === undefined) return [];
  if (typeof content === 'string') return [content];
  const texts: string[] = [];
  for (const block of content) {
    if (block.type === 'text' && typeof block.text === 'string') texts.push(block.text);
    else if (block.type === 'tool_result') {
      const inner = block.content;
      if (typeof inner === 'string') texts.push(inner);
      else if (Array.isArray(inner)) texts.push(...textsOf(inner as Array<Record<string, unknown>>));
    }
  }
  return texts;
}

function endsWithToolResult(request: ModelRequest): boolean {
  const last = request.body.messages?.at(-1);
  return Array.isArray(last?.content) && last.content.some((block) => block.type === 'tool_result');
}

export class FakeAnthropic {
  readonly requests: ModelRequest[] = [];
  private server!: Server<undefined>;
  private counter = 0;

  constructor(private readonly options: FakeAnthropicOptions = {}) {}

  static async start(options: FakeAnthropicOptions = {}): Promise<FakeAnthropic> {
    const fake = new FakeAnthropic(options);
    fake.server = Bun.serve({ hostname: '127.0.0.1', port: 0, idleTimeout: 0, fetch: (request) => fake.handle(request) });
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${this.server.port}`;
  }

  /** Conversation turns only (requests that carry tools). */
  get turns(): ModelRequest[] {
    return this.requests.filter((r) => r.isTurn);
  }

  /**
   * The channel messages the model has seen, by message_id, counted once per time it first appeared
   * in a request (a message carried again in later requests' history is not counted again).
   */
  channelMessages(): Map<string, { count: number; attributes: Record<string, string> & { body: string } }> {
    const seen = new Map<string, { count: number; attributes: Record<string, string> & { body: string } }>();
    for (const request of this.turns) {
      // Each request repeats the history; only its last user message is new.
      for (const tag of parseChannelTags(request.lastUserText)) {
        const key = `${tag.chat_id ?? ''}/${tag.message_id ?? ''}`;
        const entry = seen.get(key);
        if (entry) entry.count++;
        else seen.set(key, { count: 1, attributes: tag });
      }
    }
    return seen;
  }

  /** Resolves once a recorded request satisfies `predicate`; rejects after `timeoutMs`. */
  async waitFor(predicate: (request: ModelRequest) => boolean, timeoutMs = 20_000): Promise<ModelRequest> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.requests.find(predicate);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no model request matched within ${timeoutMs} ms (${this.requests.length} recorded)`);
      await Bun.sleep(50);
    }
  }

  stop(): void {
    this.server?.stop(true);
  }

  private async handle(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (request.method !== 'POST') return Response.json({ ok: true });
    const body = (await request.json().catch(() => ({}))) as ModelRequest['body'];
    if (path.endsWith('/count_tokens')) return Response.json({ input_tokens: 100 });
    if (!path.endsWith('/v1/messages')) return Response.json({ type: 'error', error: { type: 'not_found_error', message: path } }, { status: 404 });
    const users = (body.messages ?? []).filter((m) => m.role === 'user');
    const recorded: ModelRequest = {
      at: Date.now(),
      path,
      body,
      isTurn: Array.isArray(body.tools) && body.tools.length > 0,
      userTexts: users.flatMap((m) => textsOf(m.content)),
      lastUserText: textsOf(users.at(-1)?.content).join('\n'),
    };
    this.requests.push(recorded);
    const turn = this.options.script?.(recorded) ?? this.defaultTurn(recorded);
    if ('status' in turn) {
      return Response.json(turn.body ?? { type: 'error', error: { type: 'rate_limit_error', message: 'rate limited' } }, { status: turn.status, headers: turn.headers });
    }
    return body.stream ? this.stream(turn, body.model) : Response.json(this.message(turn, body.model));
  }

  private defaultTurn(request: ModelRequest): Turn {
    if (!request.isTurn) return { text: 'Session' };
    if (endsWithToolResult(request)) return { text: 'done' };
    const text = request.lastUserText;
    if (text.includes('trigger-429')) return usageLimitTurn(this.options.resetAt ?? Math.floor(Date.now() / 1000) + 3600);
    const run = /run-tool (.+)/.exec(text);
    if (run) return { toolUse: { name: 'Bash', input: { command: run[1]!.replace(/<\/channel>[\s\S]*$/, '').trim(), description: 'scripted' } } };
    const tag = parseChannelTags(text).at(-1);
    if (tag && text.includes('please reply')) {
      return { toolUse: { name: `mcp__${tag.source}__reply`, input: { chat_id: tag.chat_id, text: `ack ${tag.message_id}` } } };
    }
    return { text: 'ok' };
  }

  private message(turn: Exclude<Turn, { status: number }>, model = 'claude-sonnet-4-5') {
    const id = `msg_${++this.counter}`;
    const content = 'text' in turn ? [{ type: 'text', text: turn.text }] : [{ type: 'tool_use', id: `toolu_${this.counter}`, name: turn.toolUse.name, input: turn.toolUse.input }];
    return {
      id,
      type: 'message',
      role: 'assistant',
      model,
      content,
      stop_reason: 'text' in turn ? 'end_turn' : 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: 100, output_tokens: 10 },
    };
  }

  private stream(turn: Exclude<Turn, { status: number }>, model?: string): Response {
    const message = this.message(turn, model);
    const events: Array<[string, unknown]> = [['message_start', { type: 'message_start', message: { ...message, content: [], stop_reason: null } }]];
    if ('text' in turn) {
      events.push(
        ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }],
        ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: turn.text } }],
      );
    } else {
      const block = message.content[0] as { id: string; name: string };
      events.push(
        ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} } }],
        ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: JSON.stringify(turn.toolUse.input) } }],
      );
    }
    events.push(
      ['content_block_stop', { type: 'content_block_stop', index: 0 }],
      ['message_delta', { type: 'message_delta', delta: { stop_reason: message.stop_reason, stop_sequence: null }, usage: { output_tokens: 10 } }],
      ['message_stop', { type: 'message_stop' }],
    );
    const text = events.map(([event, data]) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`).join('');
    return new Response(text, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } });
  }
}
