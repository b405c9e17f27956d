// Types only: the SDK's runtime (its zod schemas are built at import) costs ~20 MB per bridge.
import type { Implementation, InitializeResult, ServerCapabilities } from '@modelcontextprotocol/sdk/types.js';
import { formatError } from '../core/util/errors.ts';
import type { Logger } from '../core/util/log.ts';

/** Protocol versions we answer with as asked (the SDK's list, newest first); any other gets the newest. */
export const SUPPORTED_PROTOCOL_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05', '2024-10-07'];
export const LATEST_PROTOCOL_VERSION = SUPPORTED_PROTOCOL_VERSIONS[0]!;

/** JSON-RPC 2.0 error codes. */
export const RPC_METHOD_NOT_FOUND = -32601;
export const RPC_INVALID_PARAMS = -32602;
export const RPC_INTERNAL_ERROR = -32603;

/** Longest excerpt of an ignored line that is logged. */
const LOGGED_LINE_CHARS = 120;

/** One MCP tool as `tools/list` describes it. */
export interface McpTool {
  name: string;
  description: string;
  inputSchema: { type: 'object'; properties: Record<string, unknown>; required?: string[] };
}

/** What a tool call returns to the model. */
export interface ToolResult {
  content: Array<{ type: 'text'; text: string }>;
  isError?: boolean;
}

/** The tools a server offers and how it runs them. */
export interface McpToolbox {
  tools: McpTool[];
  /** Runs a tool and returns its text; what it throws becomes an `isError` result. */
  call(name: string, args: Record<string, unknown>): Promise<string>;
}

/** Where JSON-RPC lines come from and go to: stdin and stdout by default; tests pass streams. */
export interface McpTransport {
  input: AsyncIterable<Uint8Array | string>;
  /** Writes one serialised message (ending in a newline); may return a promise of the write. */
  write(line: string): unknown;
}

export interface McpServerOptions {
  info: Implementation;
  instructions?: string;
  tools: McpToolbox;
  /** `capabilities.experimental`, e.g. `{ 'claude/channel': {} }`. */
  experimental?: Record<string, object>;
  log: Logger;
}

type Params = Record<string, unknown>;
export type RequestHandler = (params: Params) => unknown;
export type NotificationHandler = (params: Params) => void | Promise<void>;

/** A JSON-RPC error with its code, for a request handler to throw. */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

/** stdin and stdout of this process, without Node's stream objects (they cost several MB to create). */
export function createStdioTransport(): McpTransport {
  const sink = Bun.stdout.writer();
  return {
    input: Bun.stdin.stream(),
    write: (line) => {
      sink.write(line);
      return sink.flush();
    },
  };
}

/**
 * A small MCP server over the stdio transport (newline-delimited JSON-RPC 2.0): `initialize`, `ping`,
 * `tools/list` and `tools/call` (a tool's failure is an `isError` result), outgoing notifications, and
 * handlers for incoming ones. Unknown methods get -32601; lines that are not JSON-RPC are logged and
 * skipped. It closes when its input ends.
 */
export class McpServer {
  /** Called on `notifications/initialized`: the client finished the handshake. */
  oninitialized?: () => void;
  /** Called once when the connection closes (input ended, output failed, or `close()`). */
  onclose?: () => void;
  /** Called on every `tools/list` request, before it is answered. */
  ontoolslisted?: () => void;
  private transport: McpTransport | undefined;
  private closed = false;
  private readonly requests = new Map<string, RequestHandler>();
  private readonly notifications = new Map<string, NotificationHandler>();

  constructor(private readonly options: McpServerOptions) {
    this.onRequest('initialize', (params) => this.initialize(params));
    this.onRequest('ping', () => ({}));
    this.onRequest('tools/list', () => {
      this.ontoolslisted?.();
      return { tools: options.tools.tools };
    });
    this.onRequest('tools/call', (params) => this.callTool(params));
    this.onNotification('notifications/initialized', () => this.oninitialized?.());
  }

  get capabilities(): ServerCapabilities {
    return { tools: { listChanged: true }, ...(this.options.experimental ? { experimental: this.options.experimental } : {}) };
  }

  /** Answers `method` with what `handler` returns (or throws: an RpcError keeps its code, anything else is -32603). */
  onRequest(method: string, handler: RequestHandler): this {
    this.requests.set(method, handler);
    return this;
  }

  /** Runs `handler` for each incoming notification `method`. */
  onNotification(method: string, handler: NotificationHandler): this {
    this.notifications.set(method, handler);
    return this;
  }

  /** Starts reading requests from `transport` (stdio by default); returns at once. */
  connect(transport: McpTransport = createStdioTransport()): void {
    if (this.transport) throw new Error('The MCP server is already connected.');
    this.transport = transport;
    void this.read(transport.input);
  }

  /** Sends a notification; rejects once the connection is closed. */
  async notify(method: string, params?: Params): Promise<void> {
    await this.send(params === undefined ? { jsonrpc: '2.0', method } : { jsonrpc: '2.0', method, params });
  }

  /** Tells the client to list our tools again. */
  sendToolListChanged(): Promise<void> {
    return this.notify('notifications/tools/list_changed');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onclose?.();
  }

  private async read(input: AsyncIterable<Uint8Array | string>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of input) {
        if (this.closed) break;
        buffer += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, end).replace(/\r$/, '');
          buffer = buffer.slice(end + 1);
          if (line.trim()) this.receive(line);
        }
      }
    } catch (error) {
      this.options.log.debug(`MCP input failed: ${formatError(error)}`);
    }
    this.close();
  }

  private receive(line: string): void {
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      message = undefined;
    }
    if (!isRecord(message) || message.jsonrpc !== '2.0') return this.ignore(line, 'not JSON-RPC 2.0');
    const { id, method } = message;
    const params = isRecord(message.params) ? message.params : {};
    if (typeof method !== 'string') {
      // A response: we send no requests, so there is nothing waiting for it.
      if (id !== undefined && ('result' in message || 'error' in message)) return;
      return this.ignore(line, 'no method');
    }
    if (id === undefined) return void this.dispatchNotification(method, params);
    if (typeof id !== 'string' && typeof id !== 'number') return this.ignore(line, 'an invalid id');
    void this.dispatchRequest(id, method, params);
  }

  private async dispatchRequest(id: string | number, method: string, params: Params): Promise<void> {
    const handler = this.requests.get(method);
    let reply: Params;
    if (!handler) {
      reply = { jsonrpc: '2.0', id, error: { code: RPC_METHOD_NOT_FOUND, message: `Method not found: ${method}` } };
    } else {
      try {
        reply = { jsonrpc: '2.0', id, result: (await handler(params)) ?? {} };
      } catch (error) {
        const code = error instanceof RpcError ? error.code : RPC_INTERNAL_ERROR;
        reply = { jsonrpc: '2.0', id, error: { code, message: formatError(error) } };
      }
    }
    await this.send(reply).catch(() => {});
  }

  private async dispatchNotification(method: string, params: Params): Promise<void> {
    const handler = this.notifications.get(method);
    if (!handler) return this.options.log.debug(`MCP: no handler for notification ${method}`);
    try {
      await handler(params);
    } catch (error) {
      this.options.log.warn(`MCP notification ${method}: ${formatError(error)}`);
    }
  }

  private initialize(params: Params): InitializeResult {
    const requested = typeof params.protocolVersion === 'string' ? params.protocolVersion : '';
    const { instructions } = this.options;
    return {
      protocolVersion: SUPPORTED_PROTOCOL_VERSIONS.includes(requested) ? requested : LATEST_PROTOCOL_VERSION,
      capabilities: this.capabilities,
      serverInfo: this.options.info,
      ...(instructions ? { instructions } : {}),
    };
  }

  private async callTool(params: Params): Promise<ToolResult> {
    const { name, arguments: args = {} } = params;
    if (typeof name !== 'string' || !name) throw new RpcError(RPC_INVALID_PARAMS, 'tools/call needs the name of a tool.');
    if (!isRecord(args)) throw new RpcError(RPC_INVALID_PARAMS, `tools/call ${name}: arguments must be an object.`);
    try {
      return { content: [{ type: 'text', text: await this.options.tools.call(name, args) }] };
    } catch (error) {
      return { isError: true, content: [{ type: 'text', text: formatError(error) }] };
    }
  }

  private async send(message: Params): Promise<void> {
    if (this.closed || !this.transport) throw new Error('The MCP connection is closed.');
    try {
      await this.transport.write(`${JSON.stringify(message)}\n`);
    } catch (error) {
      // The client is gone (EPIPE): nothing more can be said.
      this.options.log.debug(`MCP output failed: ${formatError(error)}`);
      this.close();
      throw error;
    }
  }

  private ignore(line: string, why: string): void {
    const excerpt = line.length > LOGGED_LINE_CHARS ? `${line.slice(0, LOGGED_LINE_CHARS)}…` : line;
    this.options.log.warn(`MCP: ignored a line (${why}): ${excerpt}`);
  }
}

function isRecord(value: unknown): value is Params {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
