// One HTTP push from first byte to last: it claims the stream name, feeds the ingester, paces
// units to real time, and whatever way it ends (finished, dropped, bad input, idle) releases
// its claim exactly once.
import type { Readable } from 'node:stream';
import type { Clock } from '../core/clock';
import { MS } from '../core/clock';
import { PushgateError, isPushgateError } from '../core/errors';
import type { Logger } from '../core/logger';
import type { StreamTracks } from '../core/media';
import type { IngestFormat } from '../core/stream';
import type { Publication, StreamRegistry } from '../core/stream-registry';
import { AnnexBIngester } from './annexb-ingester';
import type { IngestSink, Ingester } from './ingester';
import { MatroskaIngester } from './matroska-ingester';
import { MpegTsIngester } from './mpegts-ingester';
import { SUPPORTED_CONTENT_TYPES } from './content-type';
import { SNIFF_LIMIT, sniffFormat } from './format-sniffer';
import { Pacer } from './pacer';

/** The request body, read as it arrives (an http.IncomingMessage). */
export type PushBody = Readable;

export interface PushRequest {
  readonly name: string;
  /** From the Content-Type; undefined when it had none, so the first bytes decide. */
  readonly format: IngestFormat | undefined;
  readonly remoteAddress: string;
  readonly body: PushBody;
  /** Aborting ends the push with the signal's reason (a PushgateError), e.g. on shutdown. */
  readonly signal?: AbortSignal;
  /**
   * Once the format is known, before anything is published: another reader may take the push
   * over from here (the native ingest, for raw video). Returns that push, or undefined.
   */
  readonly handOver?: (format: IngestFormat) => Promise<PushSummary> | undefined;
  /** Told when the name is claimed and when the stream goes live (a WebSocket publisher hears of both). */
  readonly observer?: PushObserver;
}

export interface PushObserver {
  published?(): void;
  live?(tracks: StreamTracks): void;
}

export interface PushSessionDeps {
  readonly registry: StreamRegistry;
  readonly clock: Clock;
  readonly logger: Logger;
  /** A publisher silent for longer than this is closed. */
  readonly idleTimeoutMs: number;
}

/** What the publisher is told when its push ends. */
export interface PushSummary {
  readonly stream: string;
  readonly bytes: number;
  readonly durationMs: number;
  readonly frames: number;
}

export class PushFailure extends PushgateError {
  readonly summary: PushSummary;

  constructor(error: PushgateError, summary: PushSummary) {
    super(error.code, error.message, { cause: error.cause ?? error });
    this.summary = summary;
  }
}

export async function runPush(request: PushRequest, deps: PushSessionDeps): Promise<PushSummary> {
  const { registry, clock, idleTimeoutMs } = deps;
  const log = deps.logger.child({ stream: request.name, remoteAddress: request.remoteAddress });
  const startedAt = clock.now();
  const chunks = new BodyReader(request.body, idleTimeoutMs, request.signal, clock);
  let sniffed: { format: IngestFormat; head: Uint8Array[] };
  try {
    sniffed = request.format ? { format: request.format, head: [] } : await sniff(chunks);
  } catch (err) {
    chunks.stop();
    const error = asPushError(err, 0);
    log.warn({ code: error.code, err: error.message }, 'push refused');
    throw error;
  }
  const { format, head } = sniffed;
  const handedOver = request.handOver?.(format);
  if (handedOver) {
    chunks.stop();
    return handedOver;
  }
  let publication: Publication;
  try {
    publication = registry.publish(request.name, { remoteAddress: request.remoteAddress, format, ingest: 'node' });
  } catch (err) {
    // Refused (busy name, limits, shutdown): the reader's idle timer and listeners go too.
    chunks.stop();
    throw err;
  }
  // Kicked by an operator: the read ends with the kick's error, as with an abort.
  const onKicked = (): void => chunks.abort(publication.kicked.reason);
  publication.kicked.addEventListener('abort', onKicked, { once: true });
  const pacer = new Pacer({ clock, release: (unit) => publication.write(unit) });
  request.observer?.published?.();
  const ingester = createIngester(format, {
    tracks: (tracks) => {
      publication.start(tracks);
      request.observer?.live?.(tracks);
    },
    unit: (unit) => pacer.enqueue(unit),
  });
  let bytes = 0;
  const summary = (): PushSummary => ({
    stream: request.name,
    bytes,
    durationMs: Math.round((clock.now() - startedAt) / MS),
    frames: ingester.framesSeen,
  });
  const accept = (chunk: Uint8Array): void => {
    bytes += chunk.byteLength;
    publication.countBytes(chunk.byteLength);
    ingester.push(chunk, clock.now());
  };

  let error: PushgateError | undefined;
  try {
    head.forEach(accept);
    for (let chunk = await chunks.next(bytes); chunk; chunk = await chunks.next(bytes)) {
      accept(chunk);
      // Not reading while the pacer is full is what slows an unpaced publisher down.
      await pacer.waitForRoom();
    }
    ingester.end(clock.now());
    if (!publication.started) {
      throw new PushgateError('INVALID_MEDIA', `the push ended after ${bytes} bytes without a decodable keyframe and its parameter sets`);
    }
    // The last second of an upload sent faster than real time still plays in real time.
    await pacer.drained();
  } catch (err) {
    error = asPushError(err, bytes);
  } finally {
    publication.kicked.removeEventListener('abort', onKicked);
    pacer.close();
    chunks.stop();
  }
  return concludePush(publication, log, summary(), error);
}

/**
 * Ends the publication the way its push ended and logs it; returns the summary the publisher
 * is answered with, or throws it inside a PushFailure. A dropped connection may come back
 * within the grace period; bad input may not.
 */
export function concludePush(publication: Publication, log: Logger, summary: PushSummary, error: PushgateError | undefined): PushSummary {
  // Kicked after its body ended (while the last units played out): still a kicked push.
  if (!error && publication.kicked.aborted) error = asPushError(publication.kicked.reason, summary.bytes);
  if (!error) {
    publication.end({ kind: 'ended' });
    log.info(summary, 'push finished');
    return summary;
  }
  publication.end(error.code === 'PUSH_ABORTED' ? { kind: 'ended', code: error.code } : { kind: 'failed', reason: error.message, code: error.code });
  log.warn({ ...summary, code: error.code, err: error.message }, 'push failed');
  throw new PushFailure(error, summary);
}

/**
 * Reads the body chunk by chunk. A publisher silent for too long, or an aborted push, ends the
 * read with an error while the connection stays open, so the publisher can still be answered.
 * Runs once per network read for as long as a push lasts, so it allocates as little as it can:
 * data is taken with read() while there is some, one promise waits when there is none, and one
 * timer checks for silence every idle timeout (not one timer per chunk).
 */
class BodyReader {
  readonly #body: Readable;
  readonly #idleTimeoutMs: number;
  readonly #signal: AbortSignal | undefined;
  readonly #clock: Clock;
  #ended = false;
  #failure: Error | undefined;
  #wake: (() => void) | undefined;
  /** When next() began waiting for data that has not come yet. */
  #waitingSince: number | undefined;
  #bytesSoFar = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  readonly #onWake = (): void => {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  };
  readonly #onEnd = (): void => {
    this.#ended = true;
    this.#onWake();
  };
  readonly #onError = (error: unknown): void => this.#fail(error);
  // A body closed before its end is a publisher that went away mid-transfer.
  readonly #onClose = (): void => {
    if (!this.#ended) this.#fail(new Error('the request was closed before its end'));
  };
  readonly #onAbort = (): void => this.#fail(this.#signal?.reason);

  constructor(body: Readable, idleTimeoutMs: number, signal: AbortSignal | undefined, clock: Clock) {
    this.#body = body;
    this.#idleTimeoutMs = idleTimeoutMs;
    this.#signal = signal;
    this.#clock = clock;
    body.on('readable', this.#onWake);
    body.on('end', this.#onEnd);
    body.on('error', this.#onError);
    body.on('close', this.#onClose);
    signal?.addEventListener('abort', this.#onAbort, { once: true });
    this.#armIdleTimer(idleTimeoutMs);
  }

  /** The next chunk, or undefined at the end of the body. */
  async next(bytesSoFar: number): Promise<Uint8Array | undefined> {
    this.#bytesSoFar = bytesSoFar;
    for (;;) {
      if (this.#signal?.aborted) throw this.#signal.reason;
      if (this.#failure !== undefined) throw this.#failure;
      const chunk = this.#body.read() as Buffer | null;
      if (chunk !== null) {
        this.#waitingSince = undefined;
        return chunk;
      }
      if (this.#ended) return undefined;
      this.#waitingSince ??= this.#clock.now();
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  /** Ends the read: the next (or a waiting) next() throws `reason`. */
  abort(reason: unknown): void {
    this.#fail(reason);
  }

  stop(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    this.#body.off('readable', this.#onWake);
    this.#body.off('end', this.#onEnd);
    this.#body.off('error', this.#onError);
    this.#body.off('close', this.#onClose);
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#wake = undefined;
  }

  #fail(error: unknown): void {
    this.#failure ??= error instanceof Error ? error : new Error(`the push was aborted: ${String(error)}`);
    this.#onWake();
  }

  /** Silence is only what passes while the push waits for data: not while the pacer holds it. */
  #armIdleTimer(delayMs: number): void {
    this.#idleTimer = setTimeout(() => {
      const silentMs = this.#waitingSince === undefined ? 0 : (this.#clock.now() - this.#waitingSince) / MS;
      if (silentMs >= this.#idleTimeoutMs) {
        this.#fail(
          new PushgateError('PUBLISHER_IDLE', `the publisher sent nothing for ${this.#idleTimeoutMs} ms after ${this.#bytesSoFar} bytes: closed as idle`),
        );
        return;
      }
      this.#armIdleTimer(Math.max(1, this.#idleTimeoutMs - silentMs));
    }, delayMs);
  }
}

/** Reads the first bytes of a push without a Content-Type until they show its format. */
async function sniff(chunks: BodyReader): Promise<{ format: IngestFormat; head: Uint8Array[] }> {
  const head: Uint8Array[] = [];
  let bytes = 0;
  for (;;) {
    const chunk = await chunks.next(bytes);
    if (chunk) {
      head.push(chunk);
      bytes += chunk.byteLength;
    }
    const format = sniffFormat(Buffer.concat(head, Math.min(bytes, SNIFF_LIMIT)));
    if (format !== 'more' && format !== undefined) return { format, head };
    if (format === undefined || !chunk || bytes >= SNIFF_LIMIT) {
      throw new PushgateError(
        'UNSUPPORTED_MEDIA_TYPE',
        `missing Content-Type and the body is not recognisable as H.264, H.265, MPEG-TS or Matroska: send Content-Type ${SUPPORTED_CONTENT_TYPES.join(', ')}`,
      );
    }
  }
}

export function asPushError(err: unknown, bytes: number): PushgateError {
  if (isPushgateError(err)) return err;
  return new PushgateError(
    'PUSH_ABORTED',
    `the publisher closed the connection after ${bytes} bytes, before the body was complete (the stream stopped mid-transfer)`,
    { cause: err },
  );
}

function createIngester(format: IngestFormat, sink: IngestSink): Ingester {
  if (format === 'mpegts') return new MpegTsIngester(sink);
  if (format === 'matroska') return new MatroskaIngester(sink);
  return new AnnexBIngester(format, sink);
}
