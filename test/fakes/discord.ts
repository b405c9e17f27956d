import type { Server } from 'bun';

/** A channel or thread as the fake stores it (Discord's REST shape). */
export interface FakeChannel {
  id: string;
  type: number;
  name: string;
  position?: number;
  parent_id?: string | null;
  topic?: string | null;
  guild_id?: string;
  thread_metadata?: { archived: boolean; locked?: boolean };
}

export interface FakeMessage {
  id: string;
  content: string;
  timestamp: string;
  author: { id: string; username: string };
}

export interface FakeRequest {
  method: string;
  path: string;
  body: unknown;
}

export interface FakeDiscordOptions {
  token?: string;
  guildId?: string;
  guildName?: string;
}

/** A failure the next matching requests get: HTTP status (429 adds retry headers). */
interface Failure {
  pattern: RegExp;
  status: number;
  retryAfter?: number;
  remaining: number;
}

let nextId = 1_300_000_000_000_000_000n;

/** A new snowflake-shaped id. */
export function snowflake(): string {
  nextId += 1n;
  return String(nextId);
}

/** Discord REST v10 on 127.0.0.1, enough for the engine: guild, channels, threads, messages. */
export class FakeDiscord {
  readonly token: string;
  readonly guildId: string;
  guildName: string;
  readonly channels = new Map<string, FakeChannel>();
  readonly messages = new Map<string, FakeMessage[]>();
  readonly requests: FakeRequest[] = [];
  private failures: Failure[] = [];
  private server: Server<undefined> | undefined;

  constructor(options: FakeDiscordOptions = {}) {
    this.token = options.token ?? 'fake-bot-token-0123456789abcdef';
    this.guildId = options.guildId ?? '1100000000000000001';
    this.guildName = options.guildName ?? 'Test Guild';
  }

  /** The base URL to give as DISCORD_API_URL. */
  get url(): string {
    if (!this.server) throw new Error('FakeDiscord is not started');
    return `http://127.0.0.1:${this.server.port}/api`;
  }

  start(): this {
    this.server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: (request) => this.handle(request) });
    return this;
  }

  async stop(): Promise<void> {
    await this.server?.stop(true);
    this.server = undefined;
  }

  addChannel(name: string, options: Partial<FakeChannel> = {}): FakeChannel {
    const channel: FakeChannel = { id: snowflake(), type: 0, name, position: this.channels.size, guild_id: this.guildId, ...options };
    this.channels.set(channel.id, channel);
    return channel;
  }

  addThread(parentId: string, name: string, options: Partial<FakeChannel> = {}): FakeChannel {
    return this.addChannel(name, { type: 11, parent_id: parentId, thread_metadata: { archived: false }, ...options });
  }

  addMessage(channelId: string, username: string, content: string, timestamp = new Date().toISOString()): FakeMessage {
    const message = { id: snowflake(), content, timestamp, author: { id: snowflake(), username } };
    const list = this.messages.get(channelId) ?? [];
    list.push(message);
    this.messages.set(channelId, list);
    return message;
  }

  /** The next `times` requests whose "METHOD /path" matches get `status`. */
  fail(pattern: RegExp, status: number, times = Number.POSITIVE_INFINITY, retryAfter?: number): void {
    this.failures.push({ pattern, status, remaining: times, retryAfter });
  }

  clearFailures(): void {
    this.failures = [];
  }

  private async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname.replace(/^\/api\/v10/, '');
    const body = request.method === 'GET' ? undefined : await request.json().catch(() => undefined);
    this.requests.push({ method: request.method, path: `${path}${url.search}`, body });

    const failure = this.failures.find((f) => f.remaining > 0 && f.pattern.test(`${request.method} ${path}`));
    if (failure) {
      failure.remaining--;
      if (failure.status === 429) {
        const after = failure.retryAfter ?? 60;
        return Response.json(
          { message: 'You are being rate limited.', retry_after: after, global: false },
          { status: 429, headers: { 'retry-after': String(after), 'x-ratelimit-scope': 'user' } },
        );
      }
      return Response.json({ message: `Fake failure ${failure.status}`, code: 0 }, { status: failure.status });
    }
    if (request.headers.get('authorization') !== `Bot ${this.token}`) {
      return Response.json({ message: '401: Unauthorized', code: 0 }, { status: 401 });
    }
    return this.route(request.method, path, url, body as Record<string, unknown> | undefined);
  }

  private route(method: string, path: string, url: URL, body: Record<string, unknown> | undefined): Response {
    const notFound = (what = 'Unknown Channel', code = 10003) => Response.json({ message: what, code }, { status: 404 });
    let m: RegExpExecArray | null;
    if ((m = /^\/guilds\/(\d+)$/.exec(path)) && method === 'GET') {
      return m[1] === this.guildId ? Response.json({ id: this.guildId, name: this.guildName }) : notFound('Unknown Guild', 10004);
    }
    if ((m = /^\/guilds\/(\d+)\/channels$/.exec(path))) {
      if (m[1] !== this.guildId) return notFound('Unknown Guild', 10004);
      if (method === 'GET') return Response.json([...this.channels.values()].filter((c) => c.type < 10));
      if (method === 'POST') {
        const name = String(body?.name ?? '').toLowerCase().replace(/\s+/g, '-');
        return Response.json(this.addChannel(name, { type: Number(body?.type ?? 0) }), { status: 201 });
      }
    }
    if ((m = /^\/guilds\/(\d+)\/threads\/active$/.exec(path)) && method === 'GET') {
      if (m[1] !== this.guildId) return notFound('Unknown Guild', 10004);
      return Response.json({ threads: [...this.channels.values()].filter((c) => c.type >= 10 && !c.thread_metadata?.archived), members: [] });
    }
    if ((m = /^\/channels\/(\d+)$/.exec(path))) {
      const channel = this.channels.get(m[1]!);
      if (!channel) return notFound();
      if (method === 'GET') return Response.json(channel);
      if (method === 'PATCH') {
        if (typeof body?.topic === 'string') channel.topic = body.topic;
        return Response.json(channel);
      }
    }
    if ((m = /^\/channels\/(\d+)\/messages$/.exec(path)) && method === 'GET') {
      if (!this.channels.has(m[1]!)) return notFound();
      const limit = Number(url.searchParams.get('limit') ?? 50);
      return Response.json([...(this.messages.get(m[1]!) ?? [])].reverse().slice(0, limit));
    }
    return Response.json({ message: `No fake route for ${method} ${path}`, code: 0 }, { status: 404 });
  }
}
