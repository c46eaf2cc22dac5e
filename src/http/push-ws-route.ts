// GET /push-ws/<name>, upgraded to a WebSocket: a browser publishes what its MediaRecorder
// writes (Matroska/WebM with H.264, and Opus audio), one binary message per recorder chunk.
// Everything that can be refused is refused before the upgrade, with an ordinary HTTP answer:
// credentials (the access hook: publish on the stream), the name, another site's page (Origin),
// the per-address publisher limit. After the upgrade the push runs exactly like an HTTP push
// (runPush: claim, pace, grace on a drop, idle timeout, kick), and its end is told in a last
// text message and the close code.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { AddressQuota } from '../core/address-quota';
import type { Clock } from '../core/clock';
import { PushgateError } from '../core/errors';
import type { Logger } from '../core/logger';
import type { StreamTracks } from '../core/media';
import { parseStreamName } from '../core/stream-name';
import type { StreamRegistry } from '../core/stream-registry';
import { PushFailure, runPush } from '../ingest/push-session';
import { errorResponses, streamParams } from './api-schemas';
import { errorBody, sendError } from './error-reply';
import { PUSH_WS_PROTOCOL, offeredProtocols } from './push-ws-protocol';
import { upgradeHeadOf } from './upgrade-routing';

export interface PushWsRouteOptions {
  readonly registry: StreamRegistry;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly idleTimeoutMs: number;
  readonly publisherQuota: AddressQuota;
  /** The RTSP URL readers play `name` at, as seen from `hostname` (the page's host). */
  readonly rtspUrl?: (name: string, hostname: string) => string | undefined;
}

/** A MediaRecorder chunk of 200 ms is well under 1 MB even at 20 Mbit/s. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Received bytes waiting for the ingest before the socket stops being read. */
const BODY_HIGH_WATER_MARK = 1024 * 1024;
/** Application close codes: 4000 + the HTTP status the same error gets (4409 STREAM_BUSY, ...). */
const CLOSE_CODE_BASE = 4000;

/** What the gateway tells a WebSocket publisher, one JSON text message each. */
export type PushWsMessage =
  | { readonly type: 'publishing'; readonly stream: string; readonly rtsp: string | null }
  | { readonly type: 'live'; readonly video: StreamTracks['video']; readonly audio: StreamTracks['audio'] | null }
  | { readonly type: 'ended'; readonly push: unknown }
  | { readonly type: 'error'; readonly error: { code: string; message: string }; readonly push?: unknown };

export function registerPushWsRoute(app: FastifyInstance, options: PushWsRouteOptions): void {
  const log = options.logger;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_MESSAGE_BYTES,
    // Compressing compressed video costs CPU for nothing.
    perMessageDeflate: false,
    handleProtocols: (protocols) => (protocols.has(PUSH_WS_PROTOCOL) ? PUSH_WS_PROTOCOL : false),
  });
  const activePushes = new Set<AbortController>();
  app.addHook('preClose', (done) => {
    for (const push of activePushes) push.abort(new PushgateError('SHUTTING_DOWN', 'the gateway is shutting down'));
    done();
  });
  // Upgraded connections are no longer the HTTP server's: close what is left, or close() waits.
  app.addHook('onClose', (_instance, done) => {
    for (const client of wss.clients) client.terminate();
    wss.close(() => done());
  });

  const handler = async (request: FastifyRequest<{ Params: { '*': string } }>, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    let name: string;
    let release: () => void;
    const head = upgradeHeadOf(request.raw);
    try {
      if (request.headers.upgrade?.toLowerCase() !== 'websocket' || !head) {
        throw new PushgateError('BAD_REQUEST', 'GET /push-ws/<name> takes a WebSocket upgrade (Upgrade: websocket); POST or PUT /push/<name> takes a body');
      }
      name = parseStreamName(request.params['*']);
      checkOrigin(request);
      const protocols = offeredProtocols(request.headers['sec-websocket-protocol']);
      if (protocols.length > 0 && !protocols.includes(PUSH_WS_PROTOCOL)) {
        throw new PushgateError('BAD_REQUEST', `offer the WebSocket subprotocol ${PUSH_WS_PROTOCOL}`);
      }
      release = once(options.publisherQuota.acquire(request.ip));
    } catch (err) {
      log.warn({ remoteAddress: request.ip, err: err instanceof Error ? err.message : String(err) }, 'WebSocket push refused');
      return sendError(reply, err);
    }
    // From here the connection is the WebSocket's: Fastify sends nothing more on it.
    reply.hijack();
    const socket = request.raw.socket;
    // A handshake ws refuses (a bad key) never reaches the callback: the slot is freed on close.
    socket.once('close', release);
    const rtsp = options.rtspUrl?.(name, request.hostname) ?? null;
    wss.handleUpgrade(request.raw, socket, head, (ws) => {
      void servePush(ws, { name, remoteAddress: request.ip, rtsp, release });
    });
    return undefined;
  };

  async function servePush(ws: WebSocket, push: { name: string; remoteAddress: string; rtsp: string | null; release: () => void }): Promise<void> {
    const abort = new AbortController();
    activePushes.add(abort);
    const body = new WebSocketBody(ws);
    const send = (message: PushWsMessage): void => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
    };
    try {
      const summary = await runPush(
        {
          name: push.name,
          format: 'matroska',
          remoteAddress: push.remoteAddress,
          body,
          signal: abort.signal,
          observer: {
            published: () => send({ type: 'publishing', stream: push.name, rtsp: push.rtsp }),
            live: (tracks) => send({ type: 'live', video: tracks.video, audio: tracks.audio ?? null }),
          },
        },
        { registry: options.registry, clock: options.clock, logger: log, idleTimeoutMs: options.idleTimeoutMs },
      );
      send({ type: 'ended', push: summary });
      ws.close(1000, 'push ended');
    } catch (err) {
      const { status, body: answer } = errorBody(err);
      send({ type: 'error', ...answer, ...(err instanceof PushFailure && { push: err.summary }) });
      ws.close(CLOSE_CODE_BASE + status, answer.error.code);
    } finally {
      activePushes.delete(abort);
      body.destroy();
      push.release();
    }
  }

  const schema = {
    summary: 'Publish from a browser: a WebSocket (subprotocol pushgate.v1) carrying Matroska/WebM, one binary message per MediaRecorder chunk',
    params: streamParams,
    response: { ...errorResponses },
  };
  app.get('/push-ws/*', { schema }, handler);
}

/**
 * A page of another site must not publish with the credentials a browser would attach for
 * this one (cross-site WebSocket hijacking): a browser always sends Origin, and it must name
 * this host. Clients that are not browsers send none.
 */
function checkOrigin(request: FastifyRequest): void {
  const origin = request.headers.origin;
  if (origin === undefined) return;
  let host: string | undefined;
  try {
    host = new URL(origin).host;
  } catch {
    host = undefined;
  }
  if (host === undefined || host.toLowerCase() !== (request.headers.host ?? '').toLowerCase()) {
    throw new PushgateError('FORBIDDEN', `a page from ${origin} may not publish here: open the publish page of this gateway`);
  }
}

/**
 * The binary messages of a WebSocket as a byte stream, for runPush: a normal close (1000) is
 * the end of the body, any other close a publisher gone mid-stream (readers wait out the grace
 * period). The socket is not read while the ingest is behind.
 */
class WebSocketBody extends Readable {
  readonly #ws: WebSocket;
  #ended = false;

  constructor(ws: WebSocket) {
    super({ highWaterMark: BODY_HIGH_WATER_MARK });
    this.#ws = ws;
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (!isBinary || this.destroyed || this.#ended) return;
      if (!this.push(asBuffer(data))) ws.pause();
    });
    ws.on('close', (code: number) => {
      if (code === 1000 && !this.destroyed) {
        this.#ended = true;
        this.push(null);
      } else {
        this.destroy();
      }
    });
    ws.on('error', () => this.destroy());
  }

  override _read(): void {
    this.#ws.resume();
  }
}

function asBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function once(release: () => void): () => void {
  let released = false;
  return () => {
    if (released) return;
    released = true;
    release();
  };
}
