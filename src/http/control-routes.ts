// The control API: list RTSP readers, close one, end a publisher's push. Who may do it is the
// access hook's business (the `api` permission on the stream concerned); the readers come
// from the media engine's ReaderControl port, so nothing here knows GStreamer. Every route has
// a JSON schema for its params, query and answers: the OpenAPI document is made from them.
import type { FastifyInstance } from 'fastify';
import { PushgateError } from '../core/errors';
import type { Logger } from '../core/logger';
import type { ReaderControl } from '../core/media-engine';
import { parseStreamName } from '../core/stream-name';
import type { StreamRegistry } from '../core/stream-registry';
import { errorResponses } from './api-schemas';
import { sendError } from './error-reply';

export interface ControlRoutesOptions {
  readonly registry: StreamRegistry;
  /** Undefined without the native plugin: the reader routes answer 501 READERS_UNAVAILABLE. */
  readonly readers: ReaderControl | undefined;
  readonly logger: Logger;
}

const readerSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', description: 'unique in the gateway process; what DELETE /v1/readers/<id> names' },
    stream: { type: 'string' },
    remoteAddress: { type: 'string' },
    transport: { type: 'string', enum: ['tcp', 'udp', 'udp-multicast'] },
    tls: { type: 'boolean', description: 'read over RTSPS' },
    since: { type: 'string', format: 'date-time', description: 'when its SETUP succeeded' },
    bytesSent: { type: 'integer', description: 'bytes sent to it since its SETUP (see docs/api.md for what is counted)' },
  },
  required: ['id', 'stream', 'remoteAddress', 'transport', 'tls', 'since', 'bytesSent'],
} as const;

export function registerControlRoutes(app: FastifyInstance, options: ControlRoutesOptions): void {
  const { registry, logger } = options;
  const readers = (): ReaderControl => {
    if (!options.readers) throw new PushgateError('READERS_UNAVAILABLE', 'RTSP readers cannot be listed or kicked: the native plugin pgreaders is not built (scripts/build-native.sh)');
    return options.readers;
  };

  app.get<{ Querystring: { stream?: string } }>(
    '/v1/readers',
    {
      schema: {
        querystring: { type: 'object', properties: { stream: { type: 'string', description: 'only the readers of this stream' } } },
        response: { 200: { description: 'RTSP readers now, of every stream or of one', type: 'object', properties: { readers: { type: 'array', items: readerSchema } }, required: ['readers'] }, ...errorResponses },
      },
    },
    (request, reply) => {
      try {
        const stream = request.query.stream === undefined ? undefined : parseStreamName(request.query.stream);
        const all = readers().list();
        return reply.send({ readers: stream === undefined ? all : all.filter((r) => r.stream === stream) });
      } catch (err) {
        return sendError(reply, err);
      }
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/readers/:id',
    {
      schema: {
        params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
        response: { 200: { description: "the reader's RTSP connection was closed (its player sees the end)", type: 'object', properties: { id: { type: 'string' }, kicked: { type: 'boolean' } }, required: ['id', 'kicked'] }, ...errorResponses },
      },
    },
    (request, reply) => {
      try {
        const { id } = request.params;
        if (!readers().kick(id)) throw new PushgateError('READER_NOT_FOUND', `no RTSP reader "${id}" (it left, or never was)`);
        logger.info({ reader: id, by: request.ip }, 'reader kicked');
        return reply.send({ id, kicked: true });
      } catch (err) {
        return sendError(reply, err);
      }
    },
  );

  app.delete<{ Params: { '*': string } }>(
    '/v1/publishers/*',
    {
      schema: {
        params: { type: 'object', properties: { '*': { type: 'string', description: 'the stream name (may contain /)' } } },
        response: {
          200: { description: "the stream's push was ended: its publisher is answered 409 PUBLISHER_KICKED and its readers get end of stream", type: 'object', properties: { stream: { type: 'string' }, remoteAddress: { type: 'string' }, kicked: { type: 'boolean' } }, required: ['stream', 'remoteAddress', 'kicked'] },
          ...errorResponses,
        },
      },
    },
    (request, reply) => {
      try {
        const name = parseStreamName(request.params['*']);
        const publisher = registry.kickPublisher(name, `DELETE /v1/publishers from ${request.ip}`);
        return reply.send({ stream: name, remoteAddress: publisher.remoteAddress, kicked: true });
      } catch (err) {
        return sendError(reply, err);
      }
    },
  );
}
