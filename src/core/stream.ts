// One named stream: at most one publisher, any number of readers, and the output that
// outlives a publisher for the grace period so readers can ride out a reconnect.
import type { Clock } from './clock';
import { SECOND } from './clock';
import type { StreamOutput } from './media-engine';
import type { StreamTracks, TimedUnit, VideoCodec } from './media';

export type IngestFormat = 'h264' | 'h265' | 'mpegts' | 'matroska';

/** A raw (Annex-B) video push, as opposed to a container. */
export function isRawVideo(format: IngestFormat | undefined): format is VideoCodec {
  return format === 'h264' || format === 'h265';
}

export interface PublisherInfo {
  readonly remoteAddress: string;
  readonly format: IngestFormat;
  /** Who reads the push: pushgate's native reader thread, or Node (JavaScript). */
  readonly ingest: IngestPath;
}

export type IngestPath = 'native' | 'node';

/** What the API shows about a stream: the same description for /v1/streams and logs. */
export interface StreamDescription {
  readonly name: string;
  readonly state: 'starting' | 'live' | 'grace';
  readonly format: IngestFormat;
  readonly video: { codec: string; width: number; height: number; frameRate: number | null; profile: string | null } | null;
  readonly audio: { codec: string; sampleRate: number; channels: number } | null;
  readonly bitrateKbps: number;
  readonly bytesIn: number;
  readonly framesIn: number;
  readonly readers: number;
  /** WebRTC (WHEP) watchers; they reach the stream through one RTSP reader, counted in `readers`. */
  readonly webrtcWatchers?: number;
  readonly publisher: { remoteAddress: string; ingest: IngestPath } | null;
  readonly liveSince: string | null;
}

const BITRATE_WINDOW = 2 * SECOND;

export class Stream {
  readonly name: string;
  format: IngestFormat;
  publisher: PublisherInfo | undefined;
  tracks: StreamTracks | undefined;
  output: StreamOutput | undefined;
  /** Wall-clock time the current output went live; kept across reconnects within the grace period. */
  liveSince: Date | undefined;
  graceTimer: NodeJS.Timeout | undefined;
  bytesIn = 0;
  framesIn = 0;
  /** Brings bytesIn/framesIn up to date, for a publisher counted elsewhere (the native ingest). */
  refreshCounters: (() => void) | undefined;
  readonly #clock: Clock;
  // Bitrate of the last complete window: stable enough to read, cheap to keep.
  #windowStart = 0;
  #windowBytes = 0;
  #lastWindowKbps = 0;

  constructor(name: string, publisher: PublisherInfo, clock: Clock) {
    this.name = name;
    this.publisher = publisher;
    this.format = publisher.format;
    this.#clock = clock;
    this.#windowStart = clock.now();
  }

  countBytes(bytes: number): void {
    this.bytesIn += bytes;
    this.#rollWindow();
    this.#windowBytes += bytes;
  }

  write(unit: TimedUnit): void {
    if (unit.kind === 'video') this.framesIn++;
    this.output?.write(unit);
  }

  get bitrateKbps(): number {
    this.#rollWindow();
    return this.#lastWindowKbps;
  }

  #rollWindow(): void {
    const elapsed = this.#clock.now() - this.#windowStart;
    if (elapsed < BITRATE_WINDOW) return;
    const windows = Math.floor(elapsed / BITRATE_WINDOW);
    this.#lastWindowKbps = windows === 1 ? Math.round((this.#windowBytes * 8) / (BITRATE_WINDOW / SECOND) / 1000) : 0;
    this.#windowBytes = 0;
    this.#windowStart += windows * BITRATE_WINDOW;
  }

  describe(): StreamDescription {
    this.refreshCounters?.();
    const video = this.tracks?.video;
    const audio = this.tracks?.audio;
    return {
      name: this.name,
      state: this.publisher ? (this.output ? 'live' : 'starting') : 'grace',
      format: this.format,
      video: video
        ? { codec: video.codec, width: video.width, height: video.height, frameRate: video.frameRate ?? null, profile: video.profile ?? null }
        : null,
      audio: audio ? { codec: audio.codec, sampleRate: audio.sampleRate, channels: audio.channels } : null,
      bitrateKbps: this.bitrateKbps,
      bytesIn: this.bytesIn,
      framesIn: this.framesIn,
      readers: this.output?.readerCount ?? 0,
      publisher: this.publisher ? { remoteAddress: this.publisher.remoteAddress, ingest: this.publisher.ingest } : null,
      liveSince: this.liveSince?.toISOString() ?? null,
    };
  }
}
