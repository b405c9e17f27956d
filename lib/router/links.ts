import { chmodSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { timingSafeEqual } from 'node:crypto';
import type { Socket } from 'bun';
import type { ConsolaInstance } from 'consola';
import { readOptionalFile } from '../core/config/config.ts';
import type { Clock } from '../core/util/clock.ts';
import { formatError } from '../core/util/errors.ts';
import { BridgeToRouter, FrameDecoder, type RouterToBridge, encodeFrame, routerSocketPath } from './protocol.ts';

/** A link that sends nothing (not even a ping) for this long is dead: its bridge hangs or is stopped. */
export const LINK_SILENCE_MS = 6000;
/** A connection that has not said a valid hello by then is closed. */
const HELLO_TIMEOUT_MS = 5000;

/** One connected, authenticated bridge. */
export interface Link {
  session: string;
  pid: number;
  /** The session's bridge, or one of its PermissionRequest hooks waiting for a verdict. */
  role: 'bridge' | 'hook';
  /** When it last sent anything (ms since the epoch). */
  lastSeen: number;
  send(frame: Parameters<typeof encodeFrame>[0] & { type: RouterToBridge['type'] }): void;
  close(): void;
}

export interface LinkServerOptions {
  /** The Unix socket; its folder is made private (0700) before anything listens in it. */
  path: string;
  /** The secret of a session (its `.link-secret`), or undefined for an unknown session. */
  secretOf(session: string): string | undefined;
  clock: Clock;
  log: ConsolaInstance;
  onLink(link: Link): void;
  onFrame(link: Link, frame: Exclude<BridgeToRouter, { type: 'hello' | 'ping' }>): void;
  onClose(link: Link): void;
  /** A link cut off for its silence (called before it is closed). */
  onSilent?(link: Link): void;
  /** Silence after which a link is ended (default LINK_SILENCE_MS). */
  silenceMs?: number;
}

interface SocketData {
  decoder: FrameDecoder<BridgeToRouter>;
  link?: Link;
  timer?: ReturnType<typeof setTimeout>;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The router's side of the link: a Unix socket in a private folder; a connection becomes a link only
 * after a hello naming a session and its secret; every line is validated (a bad one closes the
 * connection); pings are answered; silence for 10 s ends a link.
 */
export class LinkServer {
  private server: ReturnType<typeof Bun.listen<SocketData>> | undefined;
  private readonly live = new Set<Link>();
  private silence: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly options: LinkServerOptions) {}

  listen(): void {
    const { path, log } = this.options;
    // Private before anyone can connect: the folder first, then the socket in it.
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    chmodSync(dirname(path), 0o700);
    rmSync(path, { force: true });
    this.server = Bun.listen<SocketData>({
      unix: path,
      socket: {
        open: (socket) => {
          socket.data = {
            decoder: new FrameDecoder(BridgeToRouter, (reason) => {
              log.warn(`link: closing a connection that sent ${reason}`);
              socket.end();
            }),
            timer: setTimeout(() => socket.data?.link || socket.end(), HELLO_TIMEOUT_MS),
          };
        },
        data: (socket, chunk) => {
          for (const frame of socket.data.decoder.push(chunk)) {
            // One frame that fails to be handled (a disk error) never takes the link down with it.
            try {
              this.onFrame(socket, frame);
            } catch (error) {
              log.error(`link: handling a ${frame.type} frame failed: ${formatError(error)}`);
            }
          }
        },
        close: (socket) => this.drop(socket),
        error: (socket) => this.drop(socket),
      },
    });
    chmodSync(path, 0o600);
    this.silence = setInterval(() => this.closeSilent(), Math.min(1000, this.options.silenceMs ?? LINK_SILENCE_MS));
  }

  close(): void {
    clearInterval(this.silence);
    for (const link of [...this.live]) link.close();
    this.server?.stop(true);
    if (existsSync(this.options.path)) rmSync(this.options.path, { force: true });
  }

  private onFrame(socket: Socket<SocketData>, frame: BridgeToRouter): void {
    const data = socket.data;
    if (frame.type === 'hello') {
      if (data.link) return;
      const secret = this.options.secretOf(frame.session);
      if (!secret || !sameSecret(secret, frame.secret)) {
        this.options.log.warn(`link: REFUSED a ${frame.role ?? 'bridge'} claiming session ${frame.session} (pid ${frame.pid}): wrong secret`);
        socket.end();
        return;
      }
      clearTimeout(data.timer);
      const link: Link = {
        session: frame.session,
        pid: frame.pid,
        role: frame.role ?? 'bridge',
        lastSeen: this.options.clock.now(),
        send: (value) => void socket.write(encodeFrame(value)),
        // Forceful: a stopped peer never answers a polite end.
        close: () => {
          socket.terminate();
          this.drop(socket);
        },
      };
      data.link = link;
      this.live.add(link);
      link.send({ type: 'welcome' });
      this.options.onLink(link);
      return;
    }
    const link = data.link;
    if (!link) {
      socket.end();
      return;
    }
    link.lastSeen = this.options.clock.now();
    if (frame.type === 'ping') link.send({ type: 'pong' });
    else this.options.onFrame(link, frame);
  }

  private drop(socket: Socket<SocketData>): void {
    const link = socket.data?.link;
    if (!link || !this.live.delete(link)) return;
    this.options.onClose(link);
  }

  private closeSilent(): void {
    const now = this.options.clock.now();
    for (const link of [...this.live]) {
      // A hook waits for the owner without a word; it ends when Claude Code ends it.
      if (link.role === 'hook') continue;
      if (now - link.lastSeen > (this.options.silenceMs ?? LINK_SILENCE_MS)) {
        this.options.log.warn(`link: the bridge of session ${link.session} (pid ${link.pid}) went silent; closing its link`);
        this.options.onSilent?.(link);
        link.close();
      }
    }
  }
}

// Kept here for the router's callers; it lives with the protocol so a bridge need not load the router.
export { routerSocketPath };

/** Reads a session's link secret without creating one (the router never makes secrets up). */
export function readLinkSecret(stateDir: string): string | undefined {
  try {
    return readOptionalFile(join(stateDir, '.link-secret'))?.trim() || undefined;
  } catch {
    return undefined;
  }
}
