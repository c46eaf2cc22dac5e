// Every HTTP request but /healthz is authorised before its route runs: pushes need `publish`
// on their stream, the /v1 API `api` (on the stream it names, or "*" for lists). Missing or
// wrong credentials get 401 with Basic and Bearer challenges, a known user without the
// permission 403. The Authorization header is never logged (see the logger's redaction).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Action } from '../auth/access-config';
import type { Authorizer } from '../auth/authorizer';
import { parseAuthorization } from '../auth/http-credentials';
import type { Logger } from '../core/logger';
import { PushgateError } from '../core/errors';
import { sendError } from './error-reply';
import { closeGently } from './push-routes';

/** Open without credentials: liveness probes need it, and it tells nothing about the streams. */
const OPEN_PATHS = new Set(['/healthz']);

export function registerAccessHook(app: FastifyInstance, authorizer: Authorizer, logger: Logger): void {
  app.addHook('onRequest', async (request, reply) => {
    const target = accessTarget(request);
    if (!target) return;
    const decision = await authorizer.decide({
      credentials: parseAuthorization(request.headers.authorization),
      ip: request.ip,
      protocol: 'http',
      ...target,
    });
    if (decision.result === 'allow') return;
    if (target.action === 'publish') {
      // The body is not wanted: answer, then close without draining it.
      reply.header('connection', 'close');
      closeGently(request.raw.socket);
    }
    logger.info({ ip: request.ip, ...target, result: decision.result, reason: decision.reason }, 'request refused');
    if (decision.result === 'unauthorized') {
      reply.header('www-authenticate', [`Basic realm="${authorizer.realm}"`, `Bearer realm="${authorizer.realm}"`]);
      return sendError(reply, new PushgateError('UNAUTHORIZED', `authentication required to ${target.action} "${target.stream}"`));
    }
    return sendError(reply, new PushgateError('FORBIDDEN', `not allowed to ${target.action} "${target.stream}"`));
  });
}

function accessTarget(request: FastifyRequest): { action: Action; stream: string } | undefined {
  const path = request.url.split('?')[0] ?? '';
  if (OPEN_PATHS.has(path)) return undefined;
  const wildcard = (request.params as Record<string, string> | undefined)?.['*'];
  if (path.startsWith('/push/')) return { action: 'publish', stream: wildcard ?? path.slice('/push/'.length) };
  if (path.startsWith('/v1/streams/') && wildcard) return { action: 'api', stream: wildcard };
  return { action: 'api', stream: '*' };
}
