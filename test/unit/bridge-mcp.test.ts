import { afterEach, beforeEach, describe, expect, test } from 'bun:test';
import { PassThrough } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CallToolResultSchema, EmptyResultSchema, InitializeResultSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { LATEST_PROTOCOL_VERSION, McpServer, type McpToolbox } from '../../lib/bridge/mcp.ts';
import { CrsError } from '../../lib/core/util/errors.ts';
import type { Logger } from '../../lib/core/util/log.ts';
import { waitFor } from '../helpers.ts';

const TOOLBOX: McpToolbox = {
  tools: [
    { name: 'echo', description: 'Says it back.', inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] } },
    { name: 'refuse', description: 'Always refuses.', inputSchema: { type: 'object', properties: {} } },
  ],
  async call(name, args) {
    if (name === 'echo') return `echo: ${String(args.text)}`;
    if (name === 'refuse') throw new CrsError('Refusing to do that.', { hint: 'Ask the owner.' });
    throw new CrsError(`Unknown tool ${name}.`);
  },
};

let server: McpServer;
let client: Client;
/** Client → server: what the client writes, and where a test injects raw lines. */
let toServer: PassThrough;
let toClient: PassThrough;
let logged: string[];
let initialized: number;
let closed: number;
let listings: number;
const received: Array<{ method: string; params?: unknown }> = [];

beforeEach(async () => {
  logged = [];
  initialized = closed = listings = 0;
  received.length = 0;
  const log: Logger = {
    info: (...args) => logged.push(`info ${args.join(' ')}`),
    warn: (...args) => logged.push(`warn ${args.join(' ')}`),
    error: (...args) => logged.push(`error ${args.join(' ')}`),
    debug: () => {},
  };
  server = new McpServer({ info: { name: 'crs-test', version: '1.0.0' }, instructions: 'Use echo.', tools: TOOLBOX, experimental: { 'claude/channel': {} }, log });
  server.oninitialized = () => initialized++;
  server.onclose = () => closed++;
  server.ontoolslisted = () => listings++;
  toServer = new PassThrough();
  toClient = new PassThrough();
  server.connect({ input: toServer, write: (line) => toClient.write(line) });
  client = new Client({ name: 'test', version: '1' });
  client.fallbackNotificationHandler = async (n) => void received.push({ method: n.method, params: n.params });
  // The SDK's stdio transport is symmetric: over swapped streams it carries a client.
  await client.connect(new StdioServerTransport(toClient, toServer));
});

afterEach(async () => {
  await client.close();
  toServer.end();
});

describe('McpServer with the SDK client', () => {
  test('initialize: the client version echoed, capabilities, server info and instructions; initialized is reported', async () => {
    expect(client.getServerCapabilities()).toEqual({ tools: { listChanged: true }, experimental: { 'claude/channel': {} } });
    expect(client.getServerVersion()).toEqual({ name: 'crs-test', version: '1.0.0' });
    expect(client.getInstructions()).toBe('Use echo.');
    await waitFor(() => initialized === 1, 2000, 'initialized');
  });

  test.each([
    ['2025-11-25', '2025-11-25'],
    ['2025-06-18', '2025-06-18'],
    ['2025-03-26', '2025-03-26'],
    ['2024-11-05', '2024-11-05'],
    ['1999-01-01', LATEST_PROTOCOL_VERSION],
  ])('initialize asking for %s answers %s', async (asked, answered) => {
    const params = { protocolVersion: asked, capabilities: {}, clientInfo: { name: 'old', version: '0' } };
    const result = await client.request({ method: 'initialize', params }, InitializeResultSchema);
    expect(result.protocolVersion).toBe(answered);
    expect(result.capabilities.experimental).toEqual({ 'claude/channel': {} });
  });

  test('tools/list returns the tools, and each listing is reported', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['echo', 'refuse']);
    expect(tools[0]!.inputSchema as unknown).toEqual(TOOLBOX.tools[0]!.inputSchema);
    expect(listings).toBe(1);
  });

  test('tools/call: a result, a refusal as an isError result with its hint, an unknown tool as isError', async () => {
    expect(await client.callTool({ name: 'echo', arguments: { text: 'hi' } })).toEqual({ content: [{ type: 'text', text: 'echo: hi' }] });
    expect(await client.callTool({ name: 'refuse', arguments: {} })).toEqual({ isError: true, content: [{ type: 'text', text: 'Refusing to do that. Ask the owner.' }] });
    expect((await client.callTool({ name: 'nope', arguments: {} })).isError).toBe(true);
  });

  test('tools/call without a tool name is an invalid-params error (-32602)', async () => {
    const error = await client.request({ method: 'tools/call', params: {} } as never, CallToolResultSchema).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McpError);
    expect((error as McpError).code).toBe(-32602);
  });

  test('ping answers an empty result', async () => {
    expect(await client.ping()).toEqual({});
  });

  test('an unknown method is answered with -32601 (method not found)', async () => {
    const error = await client.request({ method: 'resources/list' }, EmptyResultSchema).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McpError);
    expect((error as McpError).code).toBe(-32601);
  });

  test('lines that are not JSON-RPC are logged and skipped; the session goes on', async () => {
    toServer.write('this is not json\n{"jsonrpc":"2.0","id":7}\n[1,2,3]\n{"id":8,"method":"ping"}\n\n');
    expect(await client.ping()).toEqual({});
    expect(await client.callTool({ name: 'echo', arguments: { text: 'still here' } })).toEqual({ content: [{ type: 'text', text: 'echo: still here' }] });
    expect(logged.filter((l) => l.startsWith('warn MCP: ignored a line'))).toHaveLength(4);
    expect(closed).toBe(0);
  });

  test('a message split across writes is put back together', async () => {
    const line = `${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/claude/channel/permission_request', params: { request_id: 'abcde' } })}\n`;
    const requests: unknown[] = [];
    server.onNotification('notifications/claude/channel/permission_request', (params) => void requests.push(params));
    toServer.write(line.slice(0, 20));
    await Bun.sleep(20);
    toServer.write(line.slice(20));
    await waitFor(() => requests.length === 1, 2000, 'the notification');
    expect(requests).toEqual([{ request_id: 'abcde' }]);
  });

  test('notifications reach the client: channel messages and tools/list_changed', async () => {
    await server.notify('notifications/claude/channel', { content: 'hello', meta: { chat_id: '1', message_id: '2' } });
    await server.sendToolListChanged();
    await waitFor(() => received.length === 2, 2000, 'two notifications');
    expect(received).toEqual([
      { method: 'notifications/claude/channel', params: { content: 'hello', meta: { chat_id: '1', message_id: '2' } } },
      { method: 'notifications/tools/list_changed', params: undefined },
    ]);
  });

  test('incoming notifications go to their handler, an answer goes back as a notification', async () => {
    server.onNotification('notifications/claude/channel/permission_request', (params) =>
      server.notify('notifications/claude/channel/permission', { request_id: params.request_id, behavior: 'deny' }),
    );
    await client.notification({ method: 'notifications/claude/channel/permission_request', params: { request_id: 'abcde', tool_name: 'Bash' } });
    await waitFor(() => received.length === 1, 2000, 'the answer');
    expect(received[0]).toEqual({ method: 'notifications/claude/channel/permission', params: { request_id: 'abcde', behavior: 'deny' } });
  });

  test('the end of the input closes the server; notifying after that fails', async () => {
    toServer.end();
    await waitFor(() => closed === 1, 2000, 'close');
    await expect(server.notify('notifications/claude/channel', { content: 'late', meta: {} })).rejects.toThrow('closed');
  });
});
