// Hands the body of a raw H.264/H.265 push over plain HTTP to native code, untouched by Node.
//
// Node's HTTP parser would read and decode every byte of a push on Node's thread. For a request
// that looks like such a push, pushgate makes the server treat it as a connection upgrade (a
// custom IncomingMessage says `upgrade`), so the parser stops after the head and the server
// emits 'upgrade' with the socket and the bytes it had already read. Here that request is given
// an ordinary ServerResponse and sent through Fastify like any other (routing, access hook,
// limits, error replies), carrying the socket for the push route to hand over.
import { IncomingMessage, ServerResponse, createServer, type RequestListener, type Server, type ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import { formatFromContentType } from '../ingest/content-type';
import type { RawPushBody } from '../ingest/native-push';

/** What the push route gets with a handed-over request. */
export interface RawPush {
  readonly body: RawPushBody;
  /** Node reads the connection again (only once the native reader has let it go). */
  readonly resumeReading: () => void;
}

const rawPushes = new WeakMap<IncomingMessage, RawPush>();

/** The handed-over body of `request`, if it is one. */
export function rawPushOf(request: IncomingMessage): RawPush | undefined {
  return rawPushes.get(request);
}

/** A POST or PUT of raw H.264/H.265 to a push path, with a body length Node would accept. */
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
  if (format !== 'h264' && format !== 'h265') return false;
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
      rawPushes.set(request, {
        body: {
          fd: handle.fd as number,
          head,
          contentLength: request.headers['content-length'] === undefined ? undefined : Number(request.headers['content-length']),
          unitWriter: /^Lavf\//.test(request.headers['user-agent'] ?? ''),
        },
        resumeReading: () => socket.resume(),
      });
    }
    // Anything else here is a real upgrade request (e.g. WebSocket): pushgate serves none, so
    // it is answered like a plain request (its route, or 404).
    const response = new ServerResponse(request);
    response.shouldKeepAlive = false;
    response.assignSocket(socket);
    response.on('finish', () => socket.destroySoon());
    // What Node does for a request that expects it (curl -T of a large file does): go on at once.
    if (candidate && request.headers.expect !== undefined) response.writeContinue();
    handler(request, response);
  });
  return server;
}
