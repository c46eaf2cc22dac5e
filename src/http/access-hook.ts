// Every HTTP request but /healthz is authorised before its route runs: pushes (WebSocket ones
// before the upgrade) need `publish` on their stream, the /v1 API `api` (on the stream it
// names, a kicked reader's stream, or "*" for lists of every stream). Missing or
// wrong credentials get 401 with Basic and Bearer challenges, a known user without the
// permission 403. The Authorization header is never logged (see the logger's redaction). A
// client expecting 100 Continue gets it only once allowed.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Action } from '../auth/access-config';
import type { Credentials } from '../auth/access-policy';
import type { Authorizer } from '../auth/authorizer';
import { parseAuthorization } from '../auth/http-credentials';
import type { GatewayEvents } from '../core/gateway-events';
import type { Logger } from '../core/logger';
import type { ReaderControl } from '../core/media-engine';
import { PushgateError } from '../core/errors';
import { sendError } from './error-reply';
import { closeGently } from './push-routes';
import { WHEP_PREFIX, whepTarget } from './whep-routes';
import { credentialsFromProtocols } from './push-ws-protocol';

/** Open without credentials: liveness probes need it, and it tells nothing about the streams. */
const OPEN_PATHS = new Set(['/healthz', '/readyz']);

declare module 'fastify' {
  interface FastifyContextConfig {
    /** 'open': the route holds no data and needs no credentials (the web page's files). */
    access?: 'open';
  }
}

/** Route config of a route open to anyone, like /healthz (the web page's static files). */
export const OPEN_ROUTE = { access: 'open' } as const;

export function registerAccessHook(app: FastifyInstance, authorizer: Authorizer, logger: Logger, events: GatewayEvents, readers?: ReaderControl): void {
  app.addHook('onRequest', async (request, reply) => {
    const target = accessTarget(request, readers);
    if (!target) return continueIfExpected(request, reply);
    const decision = await authorizer.decide({
      credentials: credentialsOf(request, target.action),
      ip: request.ip,
      protocol: 'http',
      ...target,
    });
    if (decision.result === 'allow') return continueIfExpected(request, reply);
    if (target.action === 'publish') {
      // The body is not wanted: answer, then close without draining it.
      reply.header('connection', 'close');
      closeGently(request.raw.socket);
    }
    logger.info({ ip: request.ip, ...target, result: decision.result, reason: decision.reason }, 'request refused');
    events.emit('authRefused', { protocol: 'http', ...target, remoteAddress: request.ip, result: decision.result, reason: decision.reason });
    if (decision.result === 'unauthorized') {
      reply.header('www-authenticate', [`Basic realm="${authorizer.realm}"`, `Bearer realm="${authorizer.realm}"`]);
      return sendError(reply, new PushgateError('UNAUTHORIZED', `authentication required to ${target.action} "${target.stream}"`));
    }
    return sendError(reply, new PushgateError('FORBIDDEN', `not allowed to ${target.action} "${target.stream}"`));
  });
}

/**
 * A client that sent "Expect: 100-continue" waits for the 100 before its body: it is sent only
 * once the request is allowed (the servers hand such requests over without it, see
 * http-server.ts), so a refused client learns it needs credentials before sending a byte of
 * its body (ffmpeg with user:pass in the URL sends none until challenged).
 */
function continueIfExpected(request: FastifyRequest, reply: FastifyReply): void {
  if (request.headers.expect?.toLowerCase() === '100-continue' && !reply.raw.headersSent) reply.raw.writeContinue();
}

/**
 * The Authorization header; for a WebSocket push without one, what its subprotocols carry (a
 * browser's WebSocket API cannot set headers: see push-ws-protocol.ts).
 */
function credentialsOf(request: FastifyRequest, action: Action): Credentials {
  const header = request.headers.authorization;
  if (header === undefined && action === 'publish' && request.url.startsWith('/push-ws/')) {
    return credentialsFromProtocols(request.headers['sec-websocket-protocol']) ?? { kind: 'none' };
  }
  return parseAuthorization(header);
}

function accessTarget(request: FastifyRequest, readers: ReaderControl | undefined): { action: Action; stream: string } | undefined {
  const path = request.url.split('?')[0] ?? '';
  if (OPEN_PATHS.has(path) || request.routeOptions.config?.access === 'open') return undefined;
  const params = request.params as Record<string, string> | undefined;
  const wildcard = params?.['*'];
  if (path.startsWith('/push/')) return { action: 'publish', stream: wildcard ?? path.slice('/push/'.length) };
  // WHEP: watching is reading. A CORS preflight carries no credentials and is answered openly;
  // a session's DELETE is checked against the stream in its URL (the route checks they match).
  if (path.startsWith(WHEP_PREFIX)) {
    if (request.method === 'OPTIONS') return undefined;
    const named = wildcard ?? path.slice(WHEP_PREFIX.length);
    return { action: 'read', stream: request.method === 'POST' ? named : whepTarget(named).stream };
  }
  if (path.startsWith('/push-ws/')) return { action: 'publish', stream: wildcard ?? path.slice('/push-ws/'.length) };
  if ((path.startsWith('/v1/streams/') || path.startsWith('/v1/publishers/')) && wildcard) return { action: 'api', stream: wildcard };
  if (path === '/v1/readers') {
    const stream = (request.query as Record<string, unknown> | undefined)?.stream;
    return { action: 'api', stream: typeof stream === 'string' ? stream : '*' };
  }
  // A reader is kicked with the permission on its stream; an unknown id needs "*", so that ids
  // of other streams' readers cannot be probed.
  if (path.startsWith('/v1/readers/') && params?.id) {
    const id = params.id;
    return { action: 'api', stream: readers?.list().find((r) => r.id === id)?.stream ?? '*' };
  }
  return { action: 'api', stream: '*' };
}
