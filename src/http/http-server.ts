// The HTTP server: Fastify with pushgate's routes. Long pushes need no request timeout.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Authorizer } from '../auth/authorizer';
import type { Clock } from '../core/clock';
import type { StreamRegistry } from '../core/stream-registry';
import type { RootLogger } from '../observability/logger';
import { registerAccessHook } from './access-hook';
import { registerApiRoutes } from './api-routes';
import { sendError } from './error-reply';
import { registerPushRoutes } from './push-routes';

export interface HttpServerOptions {
  readonly registry: StreamRegistry;
  readonly clock: Clock;
  readonly logger: RootLogger;
  readonly idleTimeoutMs: number;
  readonly gstreamerVersion: string;
  readonly authorizer: Authorizer;
}

export function createHttpServer(options: HttpServerOptions): FastifyInstance {
  // pino's Logger is a FastifyBaseLogger; naming the type keeps Fastify's generics at their defaults.
  const httpLogger: FastifyBaseLogger = options.logger.child({ module: 'http' });
  const app = Fastify({
    loggerInstance: httpLogger,
    requestTimeout: 0,
    connectionTimeout: 0,
    forceCloseConnections: 'idle',
  });
  app.setErrorHandler((err, request, reply) => {
    request.log.error({ err }, 'request failed');
    return sendError(reply, err);
  });
  registerAccessHook(app, options.authorizer, options.logger.child({ module: 'access' }));
  registerPushRoutes(app, {
    registry: options.registry,
    clock: options.clock,
    logger: options.logger.child({ module: 'push' }),
    idleTimeoutMs: options.idleTimeoutMs,
  });
  registerApiRoutes(app, options.registry, { gstreamer: options.gstreamerVersion });
  return app;
}
