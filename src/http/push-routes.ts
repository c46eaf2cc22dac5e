// POST/PUT /push/<name>: the body is the live stream. Everything that can be refused is refused
// before the body is read (bad name, bad type, busy name); the push then runs until the body ends.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Socket } from 'node:net';
import type { AddressQuota } from '../core/address-quota';
import type { Clock } from '../core/clock';
import type { Logger } from '../core/logger';
import { PushgateError } from '../core/errors';
import { parseStreamName } from '../core/stream-name';
import type { StreamRegistry } from '../core/stream-registry';
import { formatFromContentType } from '../ingest/content-type';
import type { VideoCodec } from '../core/media';
import { isRawVideo, type IngestFormat } from '../core/stream';
import type { NativeIngestPort, RawPushBody } from '../core/media-engine';
import { runNativePush } from '../ingest/native-push';
import { PushFailure, runPush, type PushSummary } from '../ingest/push-session';
import { pushErrorSchema, pushSummarySchema, streamParams } from './api-schemas';
import { sendError } from './error-reply';
import { rawPushOf } from './raw-push';

export interface PushRoutesOptions {
  readonly registry: StreamRegistry;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly idleTimeoutMs: number;
  /** Pushes at once per source address, shared by the HTTP and HTTPS listeners. */
  readonly publisherQuota: AddressQuota;
  /** Reads raw H.264/H.265 bodies handed over by the server (raw-push.ts) natively. */
  readonly nativeIngest?: NativeIngestPort | undefined;
}

export function registerPushRoutes(app: FastifyInstance, options: PushRoutesOptions): void {
  // Leave push bodies unread: the handler streams them itself, for as long as they last.
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));

  // On shutdown every push ends with a 503 its publisher can read, before connections close.
  const activePushes = new Set<AbortController>();
  const quota = options.publisherQuota;
  app.addHook('preClose', (done) => {
    for (const push of activePushes) push.abort(new PushgateError('SHUTTING_DOWN', 'the gateway is shutting down'));
    done();
  });

  const handler = async (request: FastifyRequest<{ Params: { '*': string } }>, reply: FastifyReply): Promise<FastifyReply> => {
    // After an error the rest of the body is unwanted: close rather than drain it.
    reply.header('connection', 'close');
    const raw = rawPushOf(request.raw);
    // Node reads the connection again once nothing else does, to see the publisher close it.
    if (raw) reply.raw.once('finish', raw.resumeReading);
    let name: string;
    let format;
    let release: () => void;
    try {
      name = parseStreamName(request.params['*']);
      format = formatFromContentType(request.headers['content-type']);
      release = quota.acquire(request.ip);
    } catch (err) {
      options.logger.warn({ remoteAddress: request.ip, err: err instanceof Error ? err.message : String(err) }, 'push refused');
      return sendError(reply, err);
    }
    const abort = new AbortController();
    activePushes.add(abort);
    // Whatever ends the push before its body ends, the publisher should read the answer.
    closeGently(request.raw.socket);
    // An untyped push handed over by the server (raw-push.ts) is read by Node until its first
    // bytes tell what it is; raw video then goes to the native reader after all.
    const nodeBody = raw && format === undefined ? raw.readInNode() : undefined;
    try {
      const deps = { registry: options.registry, clock: options.clock, logger: options.logger, idleTimeoutMs: options.idleTimeoutMs };
      const nativeIngest = options.nativeIngest;
      const readNatively =
        nativeIngest && ((codec: VideoCodec, body: RawPushBody) => runNativePush({ name, codec, remoteAddress: request.ip, body, signal: abort.signal }, { ...deps, nativeIngest }));
      let summary: PushSummary;
      if (raw && readNatively && isRawVideo(format)) {
        summary = await readNatively(format, raw.body);
      } else {
        const handOver =
          nodeBody &&
          readNatively &&
          ((sniffed: IngestFormat): Promise<PushSummary> | undefined => {
            if (!isRawVideo(sniffed)) return undefined;
            const body = nodeBody.handOver();
            return body && readNatively(sniffed, body);
          });
        summary = await runPush({ name, format, remoteAddress: request.ip, body: nodeBody ?? request.raw, signal: abort.signal, ...(handOver && { handOver }) }, deps);
      }
      return reply.code(200).send(summary);
    } catch (err) {
      return sendError(reply, err, err instanceof PushFailure ? { push: err.summary } : {});
    } finally {
      nodeBody?.destroy();
      activePushes.delete(abort);
      release();
    }
  };
  const schema = {
    summary: 'Push a live stream (H.264 or H.265 Annex B, or MPEG-TS) for as long as it lasts',
    params: streamParams,
    response: {
      200: { description: 'The push ended and its stream was served', ...pushSummarySchema },
      '4xx': pushErrorSchema,
      '5xx': pushErrorSchema,
    },
  };
  app.post('/push/*', { schema }, handler);
  app.put('/push/*', { schema }, handler);
}

/** How long a publisher answered mid-body has to stop sending before its connection is reset. */
const LINGER_MS = 1000;

/**
 * Node closes a `Connection: close` socket as soon as the response is flushed. If the publisher
 * is still sending, the unread bytes make the kernel reset the connection, and the reset can
 * destroy the response before the publisher reads it. So: FIN after the response, keep
 * discarding what arrives, and close when the publisher does or after `lingerMs`.
 */
export function closeGently(socket: Socket, lingerMs = LINGER_MS): void {
  socket.destroySoon = function (this: Socket): void {
    this.end();
    const timer = setTimeout(() => this.destroy(), lingerMs);
    this.once('close', () => clearTimeout(timer));
  };
}
