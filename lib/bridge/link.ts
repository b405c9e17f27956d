import type { Clock } from '../core/util/clock.ts';
import { formatError } from '../core/util/errors.ts';
import type { Logger } from '../core/util/log.ts';
import { FrameDecoder, RouterToBridge, encodeFrame } from '../router/protocol.ts';

/** A bridge pings this often; the router ends a link that is silent for 6 s (LINK_SILENCE_MS). */
const PING_MS = 2000;
const RECONNECT_MS = 1000;

export type IncomingMessage = Extract<RouterToBridge, { type: 'message' }>;
export type IncomingVerdict = Extract<RouterToBridge, { type: 'permission' }>;
/** Frames a bridge sends besides its answers to messages. */
export type OutgoingFrame = Extract<Parameters<typeof encodeFrame>[0], { type: 'permission-request' | 'permission-resolved' }>;

/** What the bridge answers for a message: taken, or not taken and why. */
export type Verdict = { type: 'taken' } | { type: 'not-taken'; reason: 'deaf' | 'stopping' };

export interface LinkClientOptions {
  socketPath: string;
  session: string;
  secret: string;
  clock: Clock;
  log: Logger;
  signal: AbortSignal;
  /** Handles one message at a time, in the order the router sent them. */
  onMessage(message: IncomingMessage): Promise<Verdict | undefined>;
  /** The owner's verdict on a permission request this bridge sent. */
  onVerdict?(verdict: IncomingVerdict): void;
}

/** The bridge's end of the link, with a way to send frames of its own (permission requests). */
export interface LinkClient {
  /** Connects, and reconnects after a drop, until the signal aborts. */
  run(): Promise<void>;
  /** Sends now when connected, else as soon as the link is up again (in order). */
  send(frame: OutgoingFrame): void;
}

/**
 * The bridge's side of the link: connects to the router's socket, proves its session with the secret,
 * pings, answers each message with its verdict, and reconnects (after a router restart) until `signal`
 * aborts. A message left without a verdict when the link drops stays queued at the router.
 */
export function createLinkClient(options: LinkClientOptions): LinkClient {
  const { log, signal } = options;
  const outbox: OutgoingFrame[] = [];
  const connection: Connection = { send: undefined };
  return {
    async run() {
      while (!signal.aborted) {
        try {
          await connectOnce(options, connection, outbox);
        } catch (error) {
          log.debug(`router link: ${formatError(error)}`);
        }
        connection.send = undefined;
        if (!signal.aborted) await options.clock.sleep(RECONNECT_MS, signal);
      }
    },
    send(frame) {
      if (connection.send) connection.send(frame);
      else outbox.push(frame);
    },
  };
}

/** The live connection's sender, while there is one. */
interface Connection {
  send: ((frame: OutgoingFrame) => void) | undefined;
}

async function connectOnce(options: LinkClientOptions, connection: Connection, outbox: OutgoingFrame[]): Promise<void> {
  const { signal, log } = options;
  let done!: () => void;
  const ended = new Promise<void>((resolve) => (done = resolve));
  let chain = Promise.resolve();
  let closed = false;
  const decoder = new FrameDecoder(RouterToBridge, (reason) => {
    log.warn(`router link: the router sent ${reason}`);
    socket.end();
  });
  const socket = await Bun.connect({
    unix: options.socketPath,
    socket: {
      data: (_socket, chunk) => {
        for (const frame of decoder.push(chunk)) {
          if (frame.type === 'message') chain = chain.then(() => handle(frame));
          else if (frame.type === 'permission') options.onVerdict?.(frame);
          else if (frame.type === 'welcome') {
            connection.send = send;
            for (const queued of outbox.splice(0)) send(queued);
          }
        }
      },
      close: () => {
        closed = true;
        done();
      },
      error: () => {
        closed = true;
        done();
      },
    },
  });
  const send = (frame: Parameters<typeof encodeFrame>[0]) => {
    if (!closed) socket.write(encodeFrame(frame));
  };
  send({ type: 'hello', session: options.session, secret: options.secret, pid: process.pid, role: 'bridge' });
  const ping = setInterval(() => send({ type: 'ping' }), PING_MS);
  const onAbort = () => socket.end();
  signal.addEventListener('abort', onAbort, { once: true });
  await ended;
  clearInterval(ping);
  signal.removeEventListener('abort', onAbort);

  async function handle(message: IncomingMessage): Promise<void> {
    if (closed || signal.aborted) return;
    const verdict = await options.onMessage(message).catch((error) => {
      log.warn(`message ${message.id}: ${formatError(error)}`);
      return undefined;
    });
    if (!verdict || closed) return;
    send(verdict.type === 'taken' ? { type: 'taken', id: message.id } : { type: 'not-taken', id: message.id, reason: verdict.reason });
  }
}
