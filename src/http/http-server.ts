// The HTTP server: Fastify with pushgate's routes. Long pushes need no request timeout.
// With TLS, pushgate runs two of these (plain and HTTPS) on the same registry: each closes,
// and answers its own pushes with 503, on its own.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { STATUS_CODES, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressQuota } from '../core/address-quota';
import type { Authorizer } from '../auth/authorizer';
import type { Clock } from '../core/clock';
import type { NativeIngestPort, ReaderControl, WebRtcPort } from '../core/media-engine';
import { PushgateError } from '../core/errors';
import type { GatewayEvents } from '../core/gateway-events';
import type { StreamRegistry } from '../core/stream-registry';
import type { RootLogger } from '../observability/logger';
import { registerAccessHook } from './access-hook';
import { registerApiRoutes, type Readiness } from './api-routes';
import { registerOpenApi } from './openapi';
import { registerControlRoutes } from './control-routes';
import { registerInfoRoute } from './info-route';
import { errorBody, sendError } from './error-reply';
import { registerMetricsRoute, type MetricsExposition } from './metrics-route';
import { registerPushRoutes } from './push-routes';
import { registerPushWsRoute } from './push-ws-route';
import { createRawPushServer } from './raw-push';
import { registerWebRoutes } from './web-routes';
import { registerWhepRoutes } from './whep-routes';
import { routeUpgrade } from './upgrade-routing';

export interface HttpServerOptions {
  readonly registry: StreamRegistry;
  readonly events: GatewayEvents;
  readonly clock: Clock;
  readonly logger: RootLogger;
  readonly idleTimeoutMs: number;
  readonly gstreamerVersion: string;
  readonly readiness: () => Readiness;
  /** Serve HTTPS with this PEM certificate (chain) and key instead of plain HTTP. */
  readonly tls?: { readonly cert: string; readonly key: string };
  readonly limits: HttpLimits;
  readonly authorizer: Authorizer;
  /** Read raw H.264/H.265 pushes over plain HTTP natively (none: all in JavaScript). */
  readonly nativeIngest?: NativeIngestPort | undefined;
  /** RTSP readers for the control API (none: listing and kicking readers answer 501). */
  readonly readers?: ReaderControl | undefined;
  /** Serve GET /metrics (Prometheus text format) from this. */
  readonly metrics?: MetricsExposition | undefined;
  /** WebRTC playback for /whep/ (none: it answers 501). */
  readonly webrtc?: WebRtcPort | undefined;
  /** The RTSP ports readers use now (told to WebSocket publishers with their stream's URL). */
  readonly rtspPorts?: () => { readonly rtsp: number | undefined; readonly rtsps: number | undefined };
}

export interface HttpLimits {
  /** Pushes at once per source address, one quota for every listener. */
  readonly publisherQuota: AddressQuota;
  /** Largest request head (Node's maxHeaderSize). */
  readonly maxHeaderBytes: number;
  /** A client must send its whole request head within this. */
  readonly headerTimeoutMs: number;
  /**
   * Connections at once on this listener; Node closes more as it accepts them, so a flood of
   * idle connections cannot use up the process's file descriptors (RTSP accepts need them too).
   */
  readonly maxConnections: number;
}

/** The package's version, for the OpenAPI document (dist/src/http/ → the repository root). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const PACKAGE_VERSION = (require('../../../package.json') as { version: string }).version;

/** How often Node looks for clients that overran the header timeout. */
const CONNECTION_CHECK_MS = 1000;

export function createHttpServer(options: HttpServerOptions): FastifyInstance {
  // pino's Logger is a FastifyBaseLogger; naming the type keeps Fastify's generics at their defaults.
  const httpLogger: FastifyBaseLogger = options.logger.child({ module: 'http' });
  // A push lasts as long as its stream: no request timeout. The request head, though, must
  // arrive in time and in bounds (slowloris, oversized headers), over HTTP and HTTPS alike
  // (Fastify ignores `http` when `https` is given, so the limits go into both).
  const serverLimits = {
    maxHeaderSize: options.limits.maxHeaderBytes,
    headersTimeout: options.limits.headerTimeoutMs,
    connectionsCheckingInterval: CONNECTION_CHECK_MS,
  };
  // Raw pushes over plain HTTP can be handed to the native reader; over TLS the bytes on the
  // socket are encrypted, so Node reads them.
  const nativeIngest = options.tls ? undefined : options.nativeIngest;
  const app = Fastify({
    loggerInstance: httpLogger,
    // An https.Server serves the same IncomingMessage/ServerResponse as an http.Server: the
    // routes are the same, so the instance keeps Fastify's default (plain) server typing.
    ...(options.tls
      ? { https: { cert: options.tls.cert, key: options.tls.key, ...serverLimits } }
      : nativeIngest
        ? { serverFactory: (handler: RequestListener) => createRawPushServer(serverLimits, handler) }
        : { http: serverLimits }),
    requestTimeout: 0,
    connectionTimeout: 0,
    forceCloseConnections: 'idle',
    clientErrorHandler: answerClientError,
  });
  app.setErrorHandler((err, request, reply) => {
    // A request that does not match its route's schema is the client's error, in the one shape.
    if ((err as { validation?: unknown }).validation) return sendError(reply, new PushgateError('BAD_REQUEST', `invalid request: ${err instanceof Error ? err.message : String(err)}`));
    request.log.error({ err }, 'request failed');
    return sendError(reply, err);
  });
  // The routes are added once the OpenAPI plugin has loaded, so that it learns every one of them.
  registerOpenApi(app, PACKAGE_VERSION);
  app.after(() => registerRoutes(app, options, nativeIngest));
  app.server.maxConnections = options.limits.maxConnections;
  // Node would answer "Expect: 100-continue" with 100 at once, before any route or access check
  // ran; with a listener, it hands such requests over as they are, and the access hook sends
  // the 100 once the request is allowed.
  app.server.on('checkContinue', (request: IncomingMessage, response: ServerResponse) => app.server.emit('request', request, response));
  // WebSocket handshakes go through Fastify too (raw-push.ts's server routes them itself).
  if (!nativeIngest) {
    app.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) =>
      routeUpgrade(request, socket, head, (req, res) => app.server.emit('request', req, res)),
    );
  }
  return app;
}

function registerRoutes(app: FastifyInstance, options: HttpServerOptions, nativeIngest: NativeIngestPort | undefined): void {
  registerAccessHook(app, options.authorizer, options.logger.child({ module: 'access' }), options.events, options.readers);
  registerPushRoutes(app, {
    registry: options.registry,
    clock: options.clock,
    logger: options.logger.child({ module: 'push' }),
    idleTimeoutMs: options.idleTimeoutMs,
    publisherQuota: options.limits.publisherQuota,
    nativeIngest,
  });
  registerPushWsRoute(app, {
    registry: options.registry,
    clock: options.clock,
    logger: options.logger.child({ module: 'push' }),
    idleTimeoutMs: options.idleTimeoutMs,
    publisherQuota: options.limits.publisherQuota,
    rtspUrl: (name, hostname) => rtspUrlOf(options, name, hostname),
  });
  registerApiRoutes(app, options.registry, { gstreamer: options.gstreamerVersion, readiness: options.readiness });
  registerControlRoutes(app, { registry: options.registry, readers: options.readers, logger: options.logger.child({ module: 'control' }) });
  if (options.metrics) registerMetricsRoute(app, options.metrics);
  registerInfoRoute(app, { version: PACKAGE_VERSION, rtspPorts: () => options.rtspPorts?.() ?? { rtsp: undefined, rtsps: undefined } });
  registerWebRoutes(app);
  registerWhepRoutes(app, { webrtc: options.webrtc, logger: options.logger.child({ module: 'whep' }) });
}

function rtspUrlOf(options: HttpServerOptions, name: string, hostname: string): string | undefined {
  const ports = options.rtspPorts?.();
  if (ports?.rtsp) return `rtsp://${hostname}:${ports.rtsp}/${name}`;
  if (ports?.rtsps) return `rtsps://${hostname}:${ports.rtsps}/${name}`;
  return undefined;
}

/**
 * Requests Node refuses before any route sees them (too large or too slow a head, broken
 * framing) get the same JSON error shape as every other error, then the connection closes.
 */
function answerClientError(this: FastifyInstance, err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const error =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? new PushgateError('HEADERS_TOO_LARGE', 'the request head is larger than the limit (--max-header-size)')
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new PushgateError('HEADERS_TIMEOUT', 'the request head did not arrive in time (--header-timeout)')
        : new PushgateError('BAD_REQUEST', `malformed HTTP request (${err.code ?? err.message})`);
  this.log.debug({ code: error.code, parserError: err.code }, 'client error');
  const { status, body } = errorBody(error);
  const text = JSON.stringify(body);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
    );
  }
  socket.destroy();
}
