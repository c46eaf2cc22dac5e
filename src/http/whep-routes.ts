// WHEP (RFC 9725): WebRTC playback of a live stream. POST /whep/<name> with an SDP offer
// answers 201 with the SDP answer, every ICE candidate in it (no trickle), and the session's
// URL in Location; DELETE on that URL ends the watcher. PATCH (trickle ICE, ICE restarts)
// answers 405. Who may watch is the access hook's business (`read` on the stream). WHEP players
// often live on another origin: preflights are answered here, without credentials, and every
// /whep/ answer carries CORS headers that expose Location.
import type { FastifyInstance } from 'fastify';
import { PushgateError } from '../core/errors';
import type { Logger } from '../core/logger';
import type { WebRtcPort } from '../core/media-engine';
import { parseStreamName } from '../core/stream-name';
import { MAX_OFFER_BYTES } from '../core/webrtc-offer';
import { errorResponses, streamParams } from './api-schemas';
import { sendError } from './error-reply';

export interface WhepRoutesOptions {
  /** Undefined when WebRTC is off or cannot work here: POST answers 501 WEBRTC_UNAVAILABLE. */
  readonly webrtc: WebRtcPort | undefined;
  readonly logger: Logger;
}

export const WHEP_PREFIX = '/whep/';

/** A session URL is /whep/<name>/<id>; ids are UUIDs, so the last segment is never part of a name. */
const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The stream and session a /whep/ path names: POST names a stream, DELETE a session under it. */
export function whepTarget(wildcard: string): { stream: string; session: string | undefined } {
  const slash = wildcard.lastIndexOf('/');
  const last = wildcard.slice(slash + 1);
  if (slash > 0 && SESSION_ID.test(last)) return { stream: wildcard.slice(0, slash), session: last };
  return { stream: wildcard, session: undefined };
}

const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'POST, DELETE, PATCH, OPTIONS',
  'access-control-allow-headers': 'Authorization, Content-Type, If-Match',
  'access-control-expose-headers': 'Location, Accept-Patch, Link, ETag',
  'access-control-max-age': '600',
} as const;

/** DELETE's path: the session URL the POST answered with (Location). */
const sessionParams = { type: 'object', properties: { '*': { type: 'string', description: '<stream name>/<session id>, as in the Location of the POST answer' } } } as const;

export function registerWhepRoutes(app: FastifyInstance, options: WhepRoutesOptions): void {
  const port = (): WebRtcPort => {
    if (!options.webrtc) throw new PushgateError('WEBRTC_UNAVAILABLE', 'WebRTC playback is off here (--webrtc off, or GStreamer lacks webrtcbin or gstreamer1.0-nice)');
    return options.webrtc;
  };
  // Only this type is read into memory (bounded); anything else is left to the route to refuse.
  app.addContentTypeParser('application/sdp', { parseAs: 'string', bodyLimit: MAX_OFFER_BYTES }, (_request, body, done) => done(null, body));
  // Every /whep/ answer, errors and the access hook's 401/403 included, can be read cross-origin.
  app.addHook('onSend', (request, reply, payload, done) => {
    if (request.url.startsWith(WHEP_PREFIX)) reply.headers(CORS_HEADERS);
    done(null, payload);
  });

  app.options('/whep/*', { schema: { hide: true } }, (_request, reply) => reply.code(204).send());

  app.post<{ Params: { '*': string }; Body: string | undefined }>(
    '/whep/*',
    {
      schema: {
        summary: 'Watch a live stream over WebRTC (WHEP, RFC 9725): an SDP offer in, the SDP answer out',
        description:
          'The answer carries every ICE candidate (no trickle: PATCH answers 405). The session URL (Location) is what DELETE ends. ' +
          'Video is the stream\'s H.264 as it is (the offer must have H.264 packetization-mode=1); audio, when both the stream and the offer have it, is Opus. Needs `read` on the stream.',
        params: streamParams,
        response: {
          201: { description: 'The SDP answer (Content-Type application/sdp); Location: /whep/<name>/<session>', content: { 'application/sdp': { schema: { type: 'string' } } } },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      try {
        const stream = parseStreamName(request.params['*']);
        const type = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
        if (type !== 'application/sdp') {
          reply.header('connection', 'close');
          throw new PushgateError('UNSUPPORTED_MEDIA_TYPE', `a WHEP offer is Content-Type application/sdp, not ${type ?? 'none'}`);
        }
        const offer = typeof request.body === 'string' ? request.body : '';
        if (offer.trim() === '') throw new PushgateError('WHEP_OFFER_INVALID', 'the offer is empty');
        const { id, answer } = await port().answer({ stream, offer, remoteAddress: request.ip });
        return reply.code(201).header('location', `${WHEP_PREFIX}${stream}/${id}`).type('application/sdp').send(answer);
      } catch (err) {
        options.logger.info({ remoteAddress: request.ip, err: err instanceof Error ? err.message : String(err) }, 'WHEP offer refused');
        return sendError(reply, err);
      }
    },
  );

  app.delete<{ Params: { '*': string } }>(
    '/whep/*',
    {
      schema: {
        summary: 'End a WHEP session (its URL is the Location of the POST answer)',
        params: sessionParams,
        response: { 200: { description: 'the watcher was ended', type: 'object', properties: { session: { type: 'string' }, stream: { type: 'string' }, ended: { type: 'boolean' } }, required: ['session', 'stream', 'ended'] }, ...errorResponses },
      },
    },
    (request, reply) => {
      try {
        const { stream, session } = whepTarget(request.params['*']);
        const webrtc = port();
        if (!session || webrtc.streamOf(session) !== stream || !webrtc.close(session)) {
          throw new PushgateError('WHEP_SESSION_NOT_FOUND', `no WHEP session ${session ?? '(none named)'} of stream "${stream}"`);
        }
        return reply.send({ session, stream, ended: true });
      } catch (err) {
        return sendError(reply, err);
      }
    },
  );

  app.patch('/whep/*', { schema: { hide: true } }, (_request, reply) =>
    sendError(reply.header('allow', 'POST, DELETE, OPTIONS'), new PushgateError('WHEP_METHOD_NOT_ALLOWED', 'pushgate answers with every ICE candidate: it takes no trickled candidates or ICE restarts (PATCH)')),
  );
}
