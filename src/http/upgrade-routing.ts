// Upgrade requests (a WebSocket handshake) go through Fastify like every other request: routing,
// the access hook, limits and error replies. The route that takes the upgrade finds here the
// bytes Node had read past the request head; any other route answers it like a plain request
// (its answer, or 404), and the connection closes after it.
import { ServerResponse, type IncomingMessage, type RequestListener } from 'node:http';
import type { Duplex } from 'node:stream';

const heads = new WeakMap<IncomingMessage, Buffer>();

/** The bytes after the head of an upgrade request routed by routeUpgrade; undefined for others. */
export function upgradeHeadOf(request: IncomingMessage): Buffer | undefined {
  return heads.get(request);
}

/** Serves an 'upgrade' event's request through `handler` with a response on its socket. */
export function routeUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer, handler: RequestListener): void {
  heads.set(request, head);
  const response = new ServerResponse(request);
  response.shouldKeepAlive = false;
  response.assignSocket(socket as Parameters<ServerResponse['assignSocket']>[0]);
  response.on('finish', () => (socket as Duplex & { destroySoon?: () => void }).destroySoon?.() ?? socket.end());
  handler(request, response);
}
