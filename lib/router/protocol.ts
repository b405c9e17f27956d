import { join } from 'node:path';

/**
 * The link between a platform's router and the bridges of its sessions: one JSON object per line
 * over a Unix socket, every line validated. Version 1. A bridge proves which session it serves with
 * that session's secret (`.link-secret` in its state folder, 0600), so nothing else on the machine
 * can pose as a session or read its messages.
 */
export const LINK_VERSION = 1;

const ID = /^-?[0-9]{1,20}$/;
const META_KEY = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Claude Code's permission request ids: 5 letters a–z without `l` (ours for the hook path too). */
export const REQUEST_ID = /^[a-km-z]{5}$/;

/** A permission Claude Code asks for, as the relay (or our PermissionRequest hook) gives it. */
export interface PermissionAsk {
  request_id: string;
  tool_name: string;
  description: string;
  input_preview: string;
}

export type BridgeToRouter =
  /**
   * First line: which session, and its secret. `role`: `bridge` (the session's channel, default) or
   * `hook` (a PermissionRequest hook of the session asking for one verdict).
   */
  | { v: 1; type: 'hello'; session: string; secret: string; pid: number; role?: 'bridge' | 'hook' }
  /** Claude Code asks for a permission: the owner decides in the chat. */
  | { v: 1; type: 'permission-request'; request_id: string; tool_name: string; description: string; input_preview: string }
  /** A request was answered elsewhere (in the terminal): its message in the chat is closed. */
  | { v: 1; type: 'permission-resolved'; request_id: string }
  /** Claude Code waits for the owner (its Notification hook): the owner hears of it once. */
  | { v: 1; type: 'attention'; message: string }
  /** Claude Code took the message (it leaves the inbox). */
  | { v: 1; type: 'taken'; id: string }
  /** It was not taken: `deaf` (Claude Code did not take it), `stopping` (the session is being stopped). It stays queued. */
  | { v: 1; type: 'not-taken'; id: string; reason: 'deaf' | 'stopping' }
  | { v: 1; type: 'ping' };

export type RouterToBridge =
  /** The hello was accepted: messages follow. */
  | { v: 1; type: 'welcome' }
  | { v: 1; type: 'message'; id: string; content: string; meta: Record<string, string> }
  /** The owner's verdict on a permission request. */
  | { v: 1; type: 'permission'; request_id: string; behavior: 'allow' | 'deny' }
  | { v: 1; type: 'pong' };

/**
 * Checks one parsed line and returns the frame with only its known fields, or why it is not one.
 * Hand-written rather than zod: the bridge (one process per session) would pay ~7 MB to load zod.
 */
export interface FrameSchema<T> {
  read(value: unknown): { frame: T } | { error: string };
}

export const BridgeToRouter: FrameSchema<BridgeToRouter> = {
  read: (value) =>
    readFrame(value, (f) => {
      switch (f.type) {
        case 'hello': {
          const { session, secret, pid, role = 'bridge' } = f;
          if (!isId(session)) return 'session: not an id';
          if (typeof secret !== 'string' || secret.length < 32 || secret.length > 128) return 'secret: not 32 to 128 characters';
          if (!Number.isSafeInteger(pid)) return 'pid: not an integer';
          if (role !== 'bridge' && role !== 'hook') return 'role: not bridge or hook';
          return { v: LINK_VERSION, type: 'hello', session, secret, pid: pid as number, role };
        }
        case 'permission-request': {
          const { request_id, tool_name, description, input_preview } = f;
          if (!isRequestId(request_id)) return 'request_id: not 5 letters';
          if (!isText(tool_name, 200) || !tool_name) return 'tool_name: not a name';
          if (!isText(description, 4000)) return 'description: not a string of at most 4000 characters';
          if (!isText(input_preview, 8000)) return 'input_preview: not a string of at most 8000 characters';
          return { v: LINK_VERSION, type: 'permission-request', request_id, tool_name, description, input_preview };
        }
        case 'permission-resolved':
          return isRequestId(f.request_id) ? { v: LINK_VERSION, type: 'permission-resolved', request_id: f.request_id } : 'request_id: not 5 letters';
        case 'attention':
          return isText(f.message, 1000) ? { v: LINK_VERSION, type: 'attention', message: f.message } : 'message: not a string of at most 1000 characters';
        case 'taken':
          return isId(f.id) ? { v: LINK_VERSION, type: 'taken', id: f.id } : 'id: not an id';
        case 'not-taken':
          if (!isId(f.id)) return 'id: not an id';
          if (f.reason !== 'deaf' && f.reason !== 'stopping') return 'reason: not deaf or stopping';
          return { v: LINK_VERSION, type: 'not-taken', id: f.id, reason: f.reason };
        case 'ping':
          return { v: LINK_VERSION, type: 'ping' };
        default:
          return `unknown type ${JSON.stringify(f.type)?.slice(0, 40)}`;
      }
    }),
};

export const RouterToBridge: FrameSchema<RouterToBridge> = {
  read: (value) =>
    readFrame(value, (f) => {
      switch (f.type) {
        case 'welcome':
          return { v: LINK_VERSION, type: 'welcome' };
        case 'message': {
          const { id, content, meta } = f;
          if (!isId(id)) return 'id: not an id';
          if (typeof content !== 'string') return 'content: not a string';
          if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) return 'meta: not an object';
          const entries = Object.entries(meta);
          const bad = entries.find(([key, v]) => !META_KEY.test(key) || typeof v !== 'string');
          if (bad) return `meta: bad entry ${JSON.stringify(bad[0]).slice(0, 40)}`;
          return { v: LINK_VERSION, type: 'message', id, content, meta: Object.fromEntries(entries) as Record<string, string> };
        }
        case 'permission':
          if (!isRequestId(f.request_id)) return 'request_id: not 5 letters';
          if (f.behavior !== 'allow' && f.behavior !== 'deny') return 'behavior: not allow or deny';
          return { v: LINK_VERSION, type: 'permission', request_id: f.request_id, behavior: f.behavior };
        case 'pong':
          return { v: LINK_VERSION, type: 'pong' };
        default:
          return `unknown type ${JSON.stringify(f.type)?.slice(0, 40)}`;
      }
    }),
};

/** The router socket of a sessions dir. */
export function routerSocketPath(sessionsDir: string): string {
  return join(sessionsDir, 'router.sock');
}

/** Distributes `Omit` over a union, so each frame keeps its own fields. */
type WithoutVersion<T> = T extends unknown ? Omit<T, 'v'> : never;

export function encodeFrame(frame: WithoutVersion<BridgeToRouter> | WithoutVersion<RouterToBridge>): string {
  return `${JSON.stringify({ v: LINK_VERSION, ...frame })}\n`;
}

/** A line longer than this ends the connection (a message is capped well below it). */
const MAX_LINE_BYTES = 1 << 20;

/**
 * Splits a byte stream into frames and validates each. A line that is not valid JSON or not a frame
 * of this version is reported through `onInvalid` (the caller closes the connection).
 */
export class FrameDecoder<T> {
  private buffer = '';
  private readonly decoder = new TextDecoder();

  constructor(
    private readonly schema: FrameSchema<T>,
    private readonly onInvalid: (reason: string) => void,
  ) {}

  push(chunk: Uint8Array | string): T[] {
    this.buffer += typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    if (this.buffer.length > MAX_LINE_BYTES && !this.buffer.includes('\n')) {
      this.buffer = '';
      this.onInvalid('a line over 1 MiB');
      return [];
    }
    const lines = this.buffer.split('\n');
    this.buffer = lines.pop() ?? '';
    const frames: T[] = [];
    for (const line of lines) {
      if (!line.trim()) continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        this.onInvalid('a line that is not JSON');
        continue;
      }
      const parsed = this.schema.read(value);
      if ('frame' in parsed) frames.push(parsed.frame);
      else this.onInvalid(`an invalid frame (${parsed.error})`);
    }
    return frames;
  }
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && ID.test(value);
}

function isRequestId(value: unknown): value is string {
  return typeof value === 'string' && REQUEST_ID.test(value);
}

function isText(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length <= max;
}

/** The version and shape every frame shares, then `check` for its own fields. */
function readFrame<T>(value: unknown, check: (frame: Record<string, unknown>) => T | string): { frame: T } | { error: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { error: 'not an object' };
  const frame = value as Record<string, unknown>;
  if (frame.v !== LINK_VERSION) return { error: `version ${JSON.stringify(frame.v)?.slice(0, 20)}, expected ${LINK_VERSION}` };
  const result = check(frame);
  return typeof result === 'string' ? { error: result } : { frame: result };
}
