// One HTTP push from first byte to last: it claims the stream name, feeds the ingester, paces
// units to real time, and whatever way it ends (finished, dropped, bad input, idle) releases
// its claim exactly once.
import type { Clock } from '../core/clock';
import { MS } from '../core/clock';
import { PushgateError, isPushgateError } from '../core/errors';
import type { Logger } from '../core/logger';
import type { IngestFormat } from '../core/stream';
import type { StreamRegistry } from '../core/stream-registry';
import { createIngester } from './ingester';
import { Pacer } from './pacer';

export interface PushBody extends AsyncIterable<Uint8Array> {
  destroy(error?: Error): void;
}

export interface PushRequest {
  readonly name: string;
  readonly format: IngestFormat;
  readonly remoteAddress: string;
  readonly body: PushBody;
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
  const publication = registry.publish(request.name, { remoteAddress: request.remoteAddress, format: request.format });
  const startedAt = clock.now();
  const pacer = new Pacer({ clock, release: (unit) => publication.write(unit) });
  const ingester = createIngester(request.format, {
    tracks: (tracks) => publication.start(tracks),
    unit: (unit) => pacer.enqueue(unit),
  });
  let bytes = 0;
  const summary = (): PushSummary => ({
    stream: request.name,
    bytes,
    durationMs: Math.round((clock.now() - startedAt) / MS),
    frames: ingester.framesSeen,
  });

  let idleTimer: NodeJS.Timeout | undefined;
  const armIdle = (): void => {
    idleTimer = setTimeout(() => {
      request.body.destroy(
        new PushgateError('PUBLISHER_IDLE', `the publisher sent nothing for ${idleTimeoutMs} ms after ${bytes} bytes: closed as idle`),
      );
    }, idleTimeoutMs);
  };

  try {
    armIdle();
    for await (const chunk of request.body) {
      clearTimeout(idleTimer);
      bytes += chunk.byteLength;
      publication.countBytes(chunk.byteLength);
      ingester.push(chunk, clock.now());
      // Not reading while the pacer is full is what slows an unpaced publisher down.
      await pacer.waitForRoom();
      armIdle();
    }
    clearTimeout(idleTimer);
    ingester.end(clock.now());
    if (!publication.started) {
      throw new PushgateError('INVALID_MEDIA', `the push ended after ${bytes} bytes without a decodable keyframe and its parameter sets`);
    }
    pacer.flushAndClose();
    publication.end({ kind: 'ended' });
    const result = summary();
    log.info(result, 'push finished');
    return result;
  } catch (err) {
    clearTimeout(idleTimer);
    pacer.close();
    const error = asPushError(err, bytes);
    // A dropped connection may come back within the grace period; bad input may not.
    publication.end(error.code === 'PUSH_ABORTED' ? { kind: 'ended' } : { kind: 'failed', reason: error.message });
    const result = summary();
    log.warn({ ...result, code: error.code, err: error.message }, 'push failed');
    throw new PushFailure(error, result);
  }
}

function asPushError(err: unknown, bytes: number): PushgateError {
  if (isPushgateError(err)) return err;
  return new PushgateError(
    'PUSH_ABORTED',
    `the publisher closed the connection after ${bytes} bytes, before the body was complete (the stream stopped mid-transfer)`,
    { cause: err },
  );
}
