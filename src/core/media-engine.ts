// What the stream registry needs from a media engine. The GStreamer implementation lives in
// src/gst; unit tests use a fake. Only plain data crosses this boundary.
import type { StreamTracks, TimedUnit } from './media';

/**
 * always: every live stream's media runs from go-live, so even its first reader is primed;
 * watched: a stream's media runs from its first PLAY (nothing runs for a stream nobody reads);
 * off: readers wait for the next keyframe.
 */
export const FAST_START_MODES = ['always', 'watched', 'off'] as const;
export type FastStartMode = (typeof FAST_START_MODES)[number];

/**
 * An ingest that feeds an output directly (native code on a thread of its own). Opaque here:
 * only the engine that made it knows how to connect it to its outputs.
 */
export interface DirectFeeder {
  readonly directFeeder: true;
}

/** The readers' side of one stream: an RTSP mount fed with timed units. */
export interface StreamOutput {
  /** Readers currently attached (RTSP sessions playing this stream). */
  readonly readerCount: number;
  /** Hands one unit to every reader. Never blocks, never throws for flow reasons. */
  write(unit: TimedUnit): void;
  /**
   * From now on `feeder` pushes this stream's video into the output itself, off Node's thread
   * (the native ingest); undefined hands the video back to write(). Idempotent.
   */
  attachFeeder(feeder: DirectFeeder | undefined): void;
  /** Whether new readers can find the stream (DESCRIBE answers 404 while unmounted). */
  setMounted(mounted: boolean): void;
  /** Ends the stream for its readers (end of stream, sessions closed) and releases everything. Idempotent. */
  close(reason: string): void;
}

export interface MediaEngine {
  /** Builds and mounts the output of a stream that has just gone live. Throws MEDIA_ENGINE on failure. */
  createOutput(name: string, tracks: StreamTracks): StreamOutput;
}
