// Hands the body of a raw H.264/H.265 push over plain HTTP to native code, untouched by Node.
//
// Node's HTTP parser would read and decode every byte of a push on Node's thread. For a request
// that looks like such a push (typed raw H.264/H.265, or untyped: it may be), pushgate makes the
// server treat it as a connection upgrade (a custom IncomingMessage says `upgrade`), so the
// parser stops after the head and the server emits 'upgrade' with the socket and the bytes it
// had already read. Here that request is given an ordinary ServerResponse and sent through
// Fastify like any other (routing, access hook, limits, error replies), carrying the socket for
// the push route to hand over. An untyped push's first bytes tell whether it is raw video: Node
// reads and decodes them (SocketBody), and hands the connection over only then, with every
// byte it read; otherwise Node reads on (MPEG-TS).
import { IncomingMessage, createServer, type RequestListener, type Server, type ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { formatFromContentType } from '../ingest/content-type';
import { SNIFF_LIMIT } from '../ingest/format-sniffer';
import type { RawPushBody } from '../core/media-engine';
import { isRawVideo } from '../core/stream';
import { BodyDecoder } from './body-decoder';
import { routeUpgrade } from './upgrade-routing';

/** What the push route gets with a handed-over request. */
export interface RawPush {
  /** The connection as it is, for a native reader. Not once Node reads it (`readInNode`). */
  readonly body: RawPushBody;
  /** Node reads the connection again (only once the native reader has let it go). */
  readonly resumeReading: () => void;
  /** Node reads and decodes the body itself, e.g. to find out what it is. Once. */
  readonly readInNode: () => SocketBody;
}

const rawPushes = new WeakMap<IncomingMessage, RawPush>();

/** The handed-over body of `request`, if it is one. */
export function rawPushOf(request: IncomingMessage): RawPush | undefined {
  return rawPushes.get(request);
}

/** A POST or PUT to a push path of raw H.264/H.265 or of no type, with a body length Node would accept. */
function isRawPushCandidate(request: IncomingMessage): boolean {
  if (request.method !== 'POST' && request.method !== 'PUT') return false;
  const expect = request.headers.expect;
  if (!request.url?.startsWith('/push/') || (expect !== undefined && expect.toLowerCase() !== '100-continue')) return false;
  let format;
  try {
    format = formatFromContentType(request.headers['content-type']);
  } catch {
    return false;
  }
  // Containers (MPEG-TS, Matroska) are read by Node.
  if (format !== undefined && !isRawVideo(format)) return false;
  const te = request.headers['transfer-encoding'];
  const length = request.headers['content-length'];
  if (te !== undefined) return te.toLowerCase() === 'chunked' && length === undefined;
  return length !== undefined && /^\d{1,15}$/.test(length);
}

const UPGRADE = Symbol('upgrade');

class PushAwareMessage extends IncomingMessage {
  // The server sets `upgrade` from the parser after the head, then reads it to choose the path.
  // (IncomingMessage's constructor sets it too, before any field of a subclass exists: hence
  // a symbol-keyed property rather than a private field.)
  get upgrade(): boolean {
    return (this as unknown as Record<symbol, boolean | undefined>)[UPGRADE] === true || isRawPushCandidate(this);
  }

  set upgrade(value: boolean) {
    (this as unknown as Record<symbol, boolean | undefined>)[UPGRADE] = value;
  }
}

interface StreamHandle {
  fd?: number;
  reading?: boolean;
  readStart?(): number;
  readStop?(): number;
}

/** A plain HTTP server that hands raw pushes over; other requests are served as usual. */
export function createRawPushServer(options: ServerOptions, handler: RequestListener): Server {
  const server = createServer({ ...options, IncomingMessage: PushAwareMessage }, handler);
  server.on('upgrade', (request: IncomingMessage, socket: Socket, head: Buffer) => {
    const handle = (socket as unknown as { _handle?: StreamHandle })._handle;
    const candidate = isRawPushCandidate(request) && typeof handle?.fd === 'number' && handle.fd >= 0;
    if (candidate && handle) {
      // Stop Node reading at once: from here the bytes are the native reader's.
      handle.reading = false;
      handle.readStop?.();
      const body: RawPushBody = {
        fd: handle.fd as number,
        head,
        contentLength: request.headers['content-length'] === undefined ? undefined : Number(request.headers['content-length']),
        unitWriter: /^Lavf\//.test(request.headers['user-agent'] ?? ''),
      };
      rawPushes.set(request, {
        body,
        resumeReading: () => {
          delete (socket as Partial<SocketInternals>)._read;
          socket.resume();
        },
        readInNode: () => new SocketBody(socket, handle, body),
      });
    }
    // Anything else here is a real upgrade request (e.g. a WebSocket push): its route, or 404.
    // A request expecting 100 Continue gets it from the access hook, once allowed.
    routeUpgrade(request, socket, head, handler);
  });
  return server;
}

/** Bytes Node may read of a body and still hand the connection over (format sniffing, framing). */
const HAND_OVER_LIMIT = 2 * SNIFF_LIMIT;

type SocketInternals = Socket & { _read: (size: number) => void };
const readNothing = (): void => {};

/**
 * The body of a handed-over request, read by Node: decoded from its chunked (or Content-Length)
 * framing as it arrives. Until Node has read HAND_OVER_LIMIT bytes of it, the connection can be
 * handed over to a native reader after all, with every byte read so far (`handOver`).
 *
 * It starts and stops the connection's reads itself: a socket restarts reading whenever its
 * buffer has room (even paused), and between two ticks of Node's loop (the GLib loop runs
 * libuv's) many reads can come. So it reads once more only when its own reader asks, and
 * the socket's own `_read` does nothing until the connection is Node's again (resumeReading).
 */
export class SocketBody extends Readable {
  readonly #socket: Socket;
  readonly #handle: StreamHandle;
  readonly #raw: RawPushBody;
  readonly #decoder: BodyDecoder;
  /** The bytes read from the connection, while it may be handed over. */
  #read: Buffer[] | undefined = [];
  #readBytes = 0;
  #attached = false;
  readonly #onData = (bytes: Buffer): void => this.#take(bytes);
  readonly #onEnd = (): void => {
    this.destroy();
  };
  readonly #onError = (err: Error): void => {
    this.destroy(err);
  };

  constructor(socket: Socket, handle: StreamHandle, raw: RawPushBody) {
    super();
    this.#socket = socket;
    this.#handle = handle;
    this.#raw = raw;
    this.#decoder = new BodyDecoder(raw.contentLength);
    const head = Buffer.from(raw.head.buffer, raw.head.byteOffset, raw.head.byteLength);
    if (head.byteLength > 0) this.#take(head);
    if (this.#decoder.done || this.destroyed) return;
    this.#attached = true;
    (socket as SocketInternals)._read = readNothing;
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onEnd);
    socket.on('error', this.#onError);
    // Flowing, so that each read is a 'data' event at once, never left in the socket's buffer.
    socket.on('data', this.#onData);
    socket.resume();
    this.#readOnce();
  }

  /**
   * Node stops reading; what it read, from the first byte, goes with the connection. Undefined
   * if that is no longer possible (too much read, the body ended or failed).
   */
  handOver(): RawPushBody | undefined {
    const read = this.#read;
    if (!read || !this.#attached || this.#socket.readableLength > 0) return undefined;
    this.#stopReading();
    this.#detach(false);
    this.#read = undefined;
    return { ...this.#raw, head: Buffer.concat(read, this.#readBytes) };
  }

  override _read(): void {
    if (this.#attached) this.#readOnce();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#detach(true);
    callback(error);
  }

  #take(bytes: Buffer): void {
    if (this.#read) {
      this.#read.push(bytes);
      this.#readBytes += bytes.byteLength;
      if (this.#readBytes > HAND_OVER_LIMIT) this.#read = undefined;
    }
    let pieces: Uint8Array[];
    try {
      pieces = this.#decoder.decode(bytes);
    } catch (err) {
      this.destroy(err as Error);
      return;
    }
    let room = true;
    for (const piece of pieces) room = this.push(piece);
    if (this.#decoder.done) {
      this.#detach(true);
      this.push(null);
    } else if (pieces.length > 0 && (!room || this.#read)) {
      // Read on when asked (_read, which a push makes possible again): while the connection
      // may still be handed over, one read at a time, so that its reader sees each first.
      this.#stopReading();
    }
  }

  #readOnce(): void {
    if (this.#handle.reading) return;
    this.#handle.reading = true;
    this.#handle.readStart?.();
  }

  #stopReading(): void {
    if (!this.#handle.reading) return;
    this.#handle.reading = false;
    this.#handle.readStop?.();
  }

  /** The socket is Node's again (`nodeReads`), or the native reader's until resumeReading. */
  #detach(nodeReads: boolean): void {
    if (!this.#attached) return;
    this.#attached = false;
    this.#socket.off('data', this.#onData);
    this.#socket.off('end', this.#onEnd);
    this.#socket.off('close', this.#onEnd);
    this.#socket.off('error', this.#onError);
    if (!nodeReads) return;
    delete (this.#socket as Partial<SocketInternals>)._read;
    // Reads on (and discards), to see the publisher close: resume() does nothing to a socket
    // that flows already, and its reads may be stopped.
    if (!this.#socket.destroyed) this.#socket.read(0);
  }
}
