// A raw H.264/H.265 push whose body the media engine's native reader reads, frames, times, paces
// and feeds to the stream's output on a thread of its own (NativeIngestPort; in GStreamer,
// src/gst/native-ingest.ts). Node only acts on its few events: the first keyframe (the stream
// goes live), a new SPS (its frame rate), the end. Same outcomes, errors and summary as a push
// read in JavaScript (push-session.ts).
import { MS, type Clock } from '../core/clock';
import { PushgateError, isPushgateError } from '../core/errors';
import type { Logger } from '../core/logger';
import type { VideoCodec, VideoTrack } from '../core/media';
import type { NativeIngestPort, NativeReader, RawPushBody } from '../core/media-engine';
import type { StreamRegistry } from '../core/stream-registry';
import { H264NalType, h264NalType, parseH264Sps } from './h264';
import { H265NalType, h265NalType, parseH265Sps } from './h265';
import { asPushError, concludePush, type PushSummary } from './push-session';

export interface NativePushRequest {
  readonly name: string;
  readonly codec: VideoCodec;
  readonly remoteAddress: string;
  readonly body: RawPushBody;
  readonly signal?: AbortSignal;
}

export interface NativePushDeps {
  readonly registry: StreamRegistry;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly idleTimeoutMs: number;
  readonly nativeIngest: NativeIngestPort;
}

/** How often the stream's byte and frame counts (API, bitrate) are brought up to date. */
const COUNTERS_MS = 1000;

/**
 * Every native push's counters are brought up to date by one timer: one wake-up of Node's
 * thread a second rather than one per push (32 pushes: 30 wake-ups a second, half a percent
 * of a core). Returns what stops counting `count`.
 */
const counting = new Set<() => void>();
let countingTimer: NodeJS.Timeout | undefined;
function countEverySecond(count: () => void): () => void {
  counting.add(count);
  countingTimer ??= setInterval(() => counting.forEach((each) => each()), COUNTERS_MS);
  return () => {
    counting.delete(count);
    if (counting.size > 0) return;
    clearInterval(countingTimer);
    countingTimer = undefined;
  };
}

export async function runNativePush(request: NativePushRequest, deps: NativePushDeps): Promise<PushSummary> {
  const { registry, clock } = deps;
  const log = deps.logger.child({ stream: request.name, remoteAddress: request.remoteAddress });
  const startedAt = clock.now();
  const publication = registry.publish(request.name, { remoteAddress: request.remoteAddress, format: request.codec, ingest: 'native' });
  let reader: NativeReader;
  try {
    reader = deps.nativeIngest.open(request.name, request.codec, request.body, deps.idleTimeoutMs);
  } catch (err) {
    const error = isPushgateError(err) ? err : new PushgateError('MEDIA_ENGINE', `the native ingest could not start: ${String(err)}`);
    return concludePush(publication, log, { stream: request.name, bytes: 0, durationMs: 0, frames: 0 }, error);
  }

  let countedBytes = 0;
  let countedFrames = 0;
  const count = (): void => {
    const { bytes, framesOut } = reader;
    publication.countBytes(bytes - countedBytes);
    publication.countFrames(framesOut - countedFrames);
    countedBytes = bytes;
    countedFrames = framesOut;
  };
  // Read when the API describes the stream, and now and then for its bitrate window.
  publication.countWith(count);
  const stopCounting = countEverySecond(count);
  let onAbort: (() => void) | undefined;
  let onKicked: (() => void) | undefined;

  const error = await new Promise<PushgateError | undefined>((resolve) => {
    let spsSerial = -1;
    const fail = (err: unknown): void => {
      reader.stop();
      resolve(asPushError(err, reader.bytes));
    };
    const onChange = (): void => {
      count();
      try {
        if (reader.started && reader.spsSerial !== spsSerial) {
          spsSerial = reader.spsSerial;
          const track = trackFromParameterSets(request.codec, reader.parameterSets);
          if (!publication.started) {
            publication.start({ video: track });
            reader.begin(track.frameRate);
          } else if (track.frameRate) {
            reader.setFrameRate(track.frameRate);
          }
        }
      } catch (err) {
        fail(err);
        return;
      }
      if (reader.state !== 'running') resolve(outcomeError(reader, publication.started, deps.idleTimeoutMs));
    };
    onAbort = () => fail(request.signal?.reason);
    onKicked = () => fail(publication.kicked.reason);
    if (request.signal?.aborted) onAbort();
    request.signal?.addEventListener('abort', onAbort, { once: true });
    publication.kicked.addEventListener('abort', onKicked, { once: true });
    reader.onChange(onChange);
    onChange();
  });

  stopCounting();
  if (onAbort) request.signal?.removeEventListener('abort', onAbort);
  if (onKicked) publication.kicked.removeEventListener('abort', onKicked);
  reader.stop();
  count();
  const summary: PushSummary = {
    stream: request.name,
    bytes: reader.bytes,
    durationMs: Math.round((clock.now() - startedAt) / MS),
    frames: reader.frames,
  };
  return concludePush(publication, log, summary, error);
}

/** The error a finished read ends the push with (undefined: it ended well). */
function outcomeError(reader: NativeReader, started: boolean, idleTimeoutMs: number): PushgateError | undefined {
  const bytes = reader.bytes;
  switch (reader.state) {
    case 'ended':
      return started ? undefined : new PushgateError('INVALID_MEDIA', `the push ended after ${bytes} bytes without a decodable keyframe and its parameter sets`);
    case 'idle':
      return new PushgateError('PUBLISHER_IDLE', `the publisher sent nothing for ${idleTimeoutMs} ms after ${bytes} bytes: closed as idle`);
    case 'invalid':
      return new PushgateError('INVALID_MEDIA', reader.error);
    case 'bad-body':
      return new PushgateError('BAD_REQUEST', reader.error);
    default:
      return asPushError(new Error(reader.error || 'the read stopped'), bytes);
  }
}

/** The video track the latest SPS describes (throws INVALID_MEDIA naming the problem). */
export function trackFromParameterSets(codec: VideoCodec, parameterSets: Uint8Array): VideoTrack {
  for (const nal of splitAnnexB(parameterSets)) {
    const header = nal[0] ?? 0;
    if (codec === 'h264' && h264NalType(header) === H264NalType.SPS) return parseH264Sps(nal);
    if (codec === 'h265' && h265NalType(header) === H265NalType.SPS) return parseH265Sps(nal);
  }
  throw new PushgateError('INVALID_MEDIA', `no ${codec === 'h264' ? 'H.264' : 'H.265'} SPS among the parameter sets`);
}

/** NAL units of Annex-B bytes that start with a start code (as the reader's parameter sets do). */
function* splitAnnexB(bytes: Uint8Array): Generator<Uint8Array> {
  const starts: number[] = [];
  for (let i = 2; i < bytes.length; i++) {
    if (bytes[i] === 1 && bytes[i - 1] === 0 && bytes[i - 2] === 0) starts.push(i + 1);
  }
  for (let k = 0; k < starts.length; k++) {
    const start = starts[k] as number;
    let end = k + 1 < starts.length ? (starts[k + 1] as number) - 3 : bytes.length;
    while (end > start && bytes[end - 1] === 0) end--;
    yield bytes.subarray(start, end);
  }
}
