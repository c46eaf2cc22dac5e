// What the core and the pushes need from a media engine. The GStreamer implementation lives in
// src/gst; unit tests use a fake. Only plain data crosses this boundary.
import type { ReaderState } from './gateway-events';
import type { StreamTracks, TimedUnit, VideoCodec } from './media';

/**
 * always: every live stream's media runs from go-live, so even its first reader is primed;
 * watched: a stream's media runs from its first PLAY (nothing runs for a stream nobody reads);
 * off: readers wait for the next keyframe.
 */
export const FAST_START_MODES = ['always', 'watched', 'off'] as const;
export type FastStartMode = (typeof FAST_START_MODES)[number];

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
  /** The engine's own reader of raw pushes; undefined when it has none (Node reads every push). */
  readonly nativeIngest: NativeIngestPort | undefined;
  /** The RTSP readers of every stream, to list and close; undefined when the engine cannot. */
  readonly readers: ReaderControl | undefined;
  /** WebRTC watchers (WHEP); undefined when the engine has none. */
  readonly webrtc?: WebRtcPort | undefined;
}

/**
 * WebRTC playback: one watcher per WHEP session, answered with every ICE candidate in the SDP
 * (no trickle). Plain data, called on Node's thread.
 */
export interface WebRtcPort {
  /**
   * Answers the offer of a watcher of live stream `stream`: resolves once ICE gathering is done
   * (or its timeout passed). Throws STREAM_NOT_FOUND, WHEP_OFFER_INVALID, WHEP_CODEC_UNSUPPORTED,
   * WEBRTC_WATCHER_LIMIT, MEDIA_ENGINE.
   */
  answer(request: { readonly stream: string; readonly offer: string; readonly remoteAddress: string }): Promise<{ readonly id: string; readonly answer: string }>;
  /** Ends one watcher; false for an unknown id. */
  close(id: string): boolean;
  /** The stream a watcher watches (for its DELETE's access check); undefined for an unknown id. */
  streamOf(id: string): string | undefined;
  /** Watchers now, of one stream or of all. */
  count(stream?: string): number;
}

/** The control API's hold on RTSP readers: plain data, called on Node's thread. */
export interface ReaderControl {
  /** Every reader now, with the bytes it has been sent so far. */
  list(): ReaderState[];
  /** Closes one reader (its RTSP connection, so its client sees the end); false for an unknown id. */
  kick(id: string): boolean;
}

/** The request body of a raw push, left unread by Node after the request head. */
export interface RawPushBody {
  /** The connection's file descriptor. The reader reads a duplicate of it; Node must not read meanwhile. */
  readonly fd: number;
  /** Body bytes Node had already read together with the head. */
  readonly head: Uint8Array;
  /** From Content-Length; undefined for a chunked body. */
  readonly contentLength: number | undefined;
  /**
   * The publisher is known to write whole access units per chunk, split only at its buffer's
   * size (ffmpeg's libavformat: User-Agent "Lavf/..."), unlike a relay such as curl -T - reading
   * a pipe: once learned, a unit can leave at its chunk's end without waiting a moment for more.
   */
  readonly unitWriter: boolean;
}

/**
 * The media engine's port for a natively read push: a raw H.264/H.265 body read, framed, timed,
 * paced and fed to the stream's output by the engine itself, on a thread of its own. The engine
 * connects the reader to the output of the stream it was opened for; Node only acts on its few
 * events (ingest/native-push.ts).
 */
export interface NativeIngestPort {
  /** Starts reading `body` for stream `name`. Throws MEDIA_ENGINE if that is impossible. */
  open(name: string, codec: VideoCodec, body: RawPushBody, idleTimeoutMs: number): NativeReader;
}

export type NativeReadState = 'running' | 'ended' | 'aborted' | 'idle' | 'invalid' | 'bad-body' | 'stopped';

export interface NativeReader {
  readonly state: NativeReadState;
  /** Why it failed, for 'invalid', 'bad-body' and 'aborted'. */
  readonly error: string;
  /** A keyframe with parameter sets arrived: the stream can go live. */
  readonly started: boolean;
  /** The latest SPS/PPS(/VPS), Annex-B. */
  readonly parameterSets: Uint8Array;
  /** Changes with every new SPS. */
  readonly spsSerial: number;
  /** Body bytes read. */
  readonly bytes: number;
  /** Access units framed, and released to the output. */
  readonly frames: number;
  readonly framesOut: number;
  /**
   * The stream is live (its output exists): from now on the reader feeds the stream's output
   * itself, timing units at the declared frame rate if any.
   */
  begin(frameRate: number | undefined): void;
  setFrameRate(frameRate: number): void;
  /** `listener` runs on Node's thread whenever the reader may have changed (started, SPS, state). */
  onChange(listener: () => void): void;
  /** Ends the read now, waits for the reader's thread, and stops feeding the output. Idempotent. */
  stop(): void;
}
