// Read-only API: what is live, and whether the gateway is up.
import type { FastifyInstance } from 'fastify';
import { PushgateError } from '../core/errors';
import { parseStreamName } from '../core/stream-name';
import type { StreamRegistry } from '../core/stream-registry';
import { sendError } from './error-reply';

export function registerApiRoutes(app: FastifyInstance, registry: StreamRegistry, info: { gstreamer: string }): void {
  app.get('/healthz', () => ({ status: 'ok', gstreamer: info.gstreamer, streams: registry.list().length }));

  app.get('/v1/streams', () => ({ streams: registry.list() }));

  app.get<{ Params: { '*': string } }>('/v1/streams/*', (request, reply) => {
    try {
      const name = parseStreamName(request.params['*']);
      const stream = registry.get(name);
      if (!stream) throw new PushgateError('STREAM_NOT_FOUND', `no stream "${name}" is live`);
      return reply.send(stream);
    } catch (err) {
      return sendError(reply, err);
    }
  });
}
