// The HTTP server: Fastify with pushgate's routes. Long pushes need no request timeout.
// With TLS, pushgate runs two of these (plain and HTTPS) on the same registry: each closes,
// and answers its own pushes with 503, on its own.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Clock } from '../core/clock';
import type { StreamRegistry } from '../core/stream-registry';
import type { RootLogger } from '../observability/logger';
import { registerApiRoutes } from './api-routes';
import { sendError } from './error-reply';
import { registerPushRoutes } from './push-routes';

export interface HttpServerOptions {
  readonly registry: StreamRegistry;
  readonly clock: Clock;
  readonly logger: RootLogger;
  readonly idleTimeoutMs: number;
  readonly gstreamerVersion: string;
  /** Serve HTTPS with this PEM certificate (chain) and key instead of plain HTTP. */
  readonly tls?: { readonly cert: string; readonly key: string };
}

export function createHttpServer(options: HttpServerOptions): FastifyInstance {
  // pino's Logger is a FastifyBaseLogger; naming the type keeps Fastify's generics at their defaults.
  const httpLogger: FastifyBaseLogger = options.logger.child({ module: 'http' });
  const app = Fastify({
    loggerInstance: httpLogger,
    // An https.Server serves the same IncomingMessage/ServerResponse as an http.Server: the
    // routes are the same, so the instance keeps Fastify's default (plain) server typing.
    ...(options.tls ? { https: { cert: options.tls.cert, key: options.tls.key } } : {}),
    requestTimeout: 0,
    connectionTimeout: 0,
    forceCloseConnections: 'idle',
  });
  app.setErrorHandler((err, request, reply) => {
    request.log.error({ err }, 'request failed');
    return sendError(reply, err);
  });
  registerPushRoutes(app, {
    registry: options.registry,
    clock: options.clock,
    logger: options.logger.child({ module: 'push' }),
    idleTimeoutMs: options.idleTimeoutMs,
  });
  registerApiRoutes(app, options.registry, { gstreamer: options.gstreamerVersion });
  return app;
}
