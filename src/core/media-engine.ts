// What the stream registry needs from a media engine. The GStreamer implementation lives in
// src/gst; unit tests use a fake. Only plain data crosses this boundary.
import type { StreamTracks, TimedUnit } from './media';

/** The readers' side of one stream: an RTSP mount fed with timed units. */
export interface StreamOutput {
  /** Readers currently attached (RTSP sessions playing this stream). */
  readonly readerCount: number;
  /** Hands one unit to every reader. Never blocks, never throws for flow reasons. */
  write(unit: TimedUnit): void;
  /** Whether new readers can find the stream (DESCRIBE answers 404 while unmounted). */
  setMounted(mounted: boolean): void;
  /** Ends the stream for its readers (end of stream, sessions closed) and releases everything. Idempotent. */
  close(reason: string): void;
}

export interface MediaEngine {
  /** Builds and mounts the output of a stream that has just gone live. Throws MEDIA_ENGINE on failure. */
  createOutput(name: string, tracks: StreamTracks): StreamOutput;
}
