import { dirname, join } from 'node:path';
import { readOptionalFile } from '../core/config/config.ts';
import { FrameDecoder, RouterToBridge, encodeFrame } from '../router/protocol.ts';

const ALPHABET = 'abcdefghijkmnopqrstuvwxyz';
/** A hook that cannot reach the router within this gives up (Claude Code then asks in the terminal). */
const CONNECT_TIMEOUT_MS = 3000;

/** What a PermissionRequest hook reads on stdin (the fields used). */
export interface PermissionHookInput {
  tool_name?: string;
  tool_input?: Record<string, unknown>;
  transcript_path?: string;
}

/** A request id in Claude Code's format (5 letters a–z without l), for a request our hook asks. */
export function newRequestId(): string {
  return [...crypto.getRandomValues(new Uint8Array(5))].map((byte) => ALPHABET[byte % 25]).join('');
}

/**
 * Whether Claude Code relays permission requests to channels for this session's account: the
 * server-side switch, as the CLI cached it in the session's config dir (`.claude.json`, the folder three
 * levels above the transcript). When it does, the relay asks the owner and the hook keeps out of it.
 */
export function relayIsOn(input: PermissionHookInput, fallbackConfigDir: string): boolean {
  const configDir = input.transcript_path ? dirname(dirname(dirname(input.transcript_path))) : fallbackConfigDir;
  try {
    const state = JSON.parse(readOptionalFile(join(configDir, '.claude.json')) ?? '{}') as { cachedGrowthBookFeatures?: Record<string, unknown> };
    return state.cachedGrowthBookFeatures?.tengu_harbor_permissions === true;
  } catch {
    return false;
  }
}

/** The frame a PermissionRequest hook sends: the tool, what it is for, and its input. */
export function permissionAsk(input: PermissionHookInput, requestId: string) {
  const toolInput = input.tool_input ?? {};
  const said = typeof toolInput.description === 'string' ? toolInput.description : '';
  const what = ['command', 'file_path', 'url', 'pattern', 'path'].map((key) => toolInput[key]).find((v) => typeof v === 'string') as string | undefined;
  return {
    type: 'permission-request' as const,
    request_id: requestId,
    tool_name: (input.tool_name || 'a tool').slice(0, 200),
    description: (said || what || '').slice(0, 4000),
    input_preview: JSON.stringify(toolInput).slice(0, 8000),
  };
}

export interface HookLinkOptions {
  socketPath: string;
  session: string;
  secret: string;
  frame: Parameters<typeof encodeFrame>[0];
  /** Wait for the verdict on this request id (a permission request); else return once the frame is sent. */
  awaitVerdictOf?: string;
}

/**
 * One hook's errand at the router: connect as the session's hook, send one frame, and for a
 * permission request wait for the owner's verdict. Undefined when the router cannot be reached or
 * the connection ends first (Claude Code then asks in the terminal as usual).
 */
export async function askRouter(options: HookLinkOptions): Promise<'allow' | 'deny' | undefined> {
  const decoder = new FrameDecoder(RouterToBridge, () => {});
  let settle!: (value: 'allow' | 'deny' | undefined) => void;
  const result = new Promise<'allow' | 'deny' | undefined>((resolve) => (settle = resolve));
  const timer = setTimeout(() => settle(undefined), CONNECT_TIMEOUT_MS);
  let socket: Awaited<ReturnType<typeof Bun.connect>>;
  try {
    socket = await Bun.connect({
      unix: options.socketPath,
      socket: {
        data: (sock, chunk) => {
          for (const frame of decoder.push(chunk)) {
            if (frame.type === 'welcome') {
              clearTimeout(timer);
              sock.write(encodeFrame(options.frame));
              if (!options.awaitVerdictOf) settle(undefined);
            }
            if (frame.type === 'permission' && frame.request_id === options.awaitVerdictOf) settle(frame.behavior);
          }
        },
        close: () => settle(undefined),
        error: () => settle(undefined),
      },
    });
  } catch {
    clearTimeout(timer);
    return undefined;
  }
  socket.write(encodeFrame({ type: 'hello', session: options.session, secret: options.secret, pid: process.pid, role: 'hook' }));
  const verdict = await result;
  socket.end();
  return verdict;
}
