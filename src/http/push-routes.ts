// POST/PUT /push/<name>: the body is the live stream. Everything that can be refused is refused
// before the body is read (bad name, bad type, busy name); the push then runs until the body ends.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../core/clock';
import type { Logger } from '../core/logger';
import { PushgateError } from '../core/errors';
import { parseStreamName } from '../core/stream-name';
import type { StreamRegistry } from '../core/stream-registry';
import { formatFromContentType } from '../ingest/content-type';
import { PushFailure, runPush } from '../ingest/push-session';
import { sendError } from './error-reply';

export interface PushRoutesOptions {
  readonly registry: StreamRegistry;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly idleTimeoutMs: number;
}

export function registerPushRoutes(app: FastifyInstance, options: PushRoutesOptions): void {
  // Leave push bodies unread: the handler streams them itself, for as long as they last.
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));

  // On shutdown every push ends with a 503 its publisher can read, before connections close.
  const activeBodies = new Set<FastifyRequest['raw']>();
  app.addHook('preClose', (done) => {
    for (const body of activeBodies) body.destroy(new PushgateError('SHUTTING_DOWN', 'the gateway is shutting down'));
    done();
  });

  const handler = async (request: FastifyRequest<{ Params: { '*': string } }>, reply: FastifyReply): Promise<FastifyReply> => {
    // After an error the rest of the body is unwanted: close rather than drain it.
    reply.header('connection', 'close');
    let name: string;
    let format;
    try {
      name = parseStreamName(request.params['*']);
      format = formatFromContentType(request.headers['content-type']);
    } catch (err) {
      return sendError(reply, err);
    }
    activeBodies.add(request.raw);
    try {
      const summary = await runPush(
        { name, format, remoteAddress: request.ip, body: request.raw },
        { registry: options.registry, clock: options.clock, logger: options.logger, idleTimeoutMs: options.idleTimeoutMs },
      );
      return reply.code(200).send(summary);
    } catch (err) {
      return sendError(reply, err, err instanceof PushFailure ? { push: err.summary } : {});
    } finally {
      activeBodies.delete(request.raw);
    }
  };
  app.post('/push/*', handler);
  app.put('/push/*', handler);
}
