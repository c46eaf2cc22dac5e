// Read-only API: what is live, whether the gateway is up (/healthz) and whether it takes new
// work (/readyz: not while draining or stopping, so a load balancer sends pushes elsewhere).
import type { FastifyInstance } from 'fastify';
import { PushgateError } from '../core/errors';
import { parseStreamName } from '../core/stream-name';
import type { StreamRegistry } from '../core/stream-registry';
import { errorResponses, streamParams, streamSchema } from './api-schemas';
import { sendError } from './error-reply';

const healthSchema = {
  type: 'object',
  properties: { status: { type: 'string', enum: ['ok'] }, gstreamer: { type: 'string' }, streams: { type: 'integer' } },
  required: ['status', 'gstreamer', 'streams'],
} as const;

const readinessSchema = { type: 'object', properties: { status: { type: 'string', enum: ['ready', 'draining', 'stopping'] } }, required: ['status'] } as const;

/** ready: takes pushes and readers; draining: serves its readers, takes no push; stopping: closing. */
export type Readiness = 'ready' | 'draining' | 'stopping';

export function registerApiRoutes(app: FastifyInstance, registry: StreamRegistry, info: { gstreamer: string; readiness: () => Readiness }): void {
  app.get(
    '/healthz',
    { schema: { summary: 'The process is up (no credentials needed)', response: { 200: healthSchema } } },
    () => ({ status: 'ok', gstreamer: info.gstreamer, streams: registry.list().length }),
  );

  app.get('/readyz', { schema: { summary: 'Whether it takes new pushes and readers (no credentials needed)', response: { 200: readinessSchema, 503: readinessSchema } } }, (_request, reply) => {
    const status = info.readiness();
    return reply.code(status === 'ready' ? 200 : 503).send({ status });
  });

  app.get(
    '/v1/streams',
    { schema: { summary: 'Every stream: live, starting, or in its grace period', response: { 200: { type: 'object', properties: { streams: { type: 'array', items: streamSchema } }, required: ['streams'] }, ...errorResponses } } },
    () => ({ streams: registry.list() }),
  );

  app.get<{ Params: { '*': string } }>('/v1/streams/*', { schema: { summary: 'One stream', params: streamParams, response: { 200: streamSchema, ...errorResponses } } }, (request, reply) => {
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
