// Format-specific ingest: bytes in, tracks and timed units out. One ingester per push
// (AnnexBIngester, MpegTsIngester; push-session.ts picks one by format).
import type { StreamTracks, TimedUnit } from '../core/media';

export interface IngestSink {
  /** Called once, when every track is known and a keyframe is about to follow. */
  tracks(tracks: StreamTracks): void;
  unit(unit: TimedUnit): void;
}

export interface Ingester {
  /** Feeds bytes that arrived at `arrival` (gateway ns). Throws PushgateError on bad input. */
  push(chunk: Uint8Array, arrival: number): void;
  /** The body is complete: emits what is pending. Throws if the input ended mid-unit. */
  end(arrival: number): void;
  /** Video access units seen so far, whether or not readers got them. */
  readonly framesSeen: number;
}
