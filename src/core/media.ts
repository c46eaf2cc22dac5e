// Plain descriptions of what a publisher sends: the vocabulary shared by ingest, the stream
// registry and the media engine. Nothing here knows about HTTP or GStreamer.

export type VideoCodec = 'h264' | 'h265';
export type AudioCodec = 'aac' | 'opus';

/** What the stream's video parameter sets say. Fields stay undefined until known. */
export interface VideoTrack {
  readonly kind: 'video';
  readonly codec: VideoCodec;
  readonly width: number;
  readonly height: number;
  /** Frames per second from the bitstream's timing info, if it carries any. */
  readonly frameRate?: number;
  /** e.g. "High@4.0" / "Main@L4.1": informative only. */
  readonly profile?: string;
}

export interface AudioTrack {
  readonly kind: 'audio';
  readonly codec: AudioCodec;
  readonly sampleRate: number;
  readonly channels: number;
}

export type Track = VideoTrack | AudioTrack;
export type TrackKind = Track['kind'];

/** The tracks of one published stream: video always, audio optionally. */
export interface StreamTracks {
  readonly video: VideoTrack;
  readonly audio?: AudioTrack;
}

/** One unit of media as the container or bitstream delivered it, before timing is decided. */
export interface DemuxedUnit {
  readonly kind: TrackKind;
  /** Video: one Annex-B access unit (start codes included). Audio: one or more ADTS frames. */
  readonly data: Uint8Array;
  /** Video only: the unit holds a keyframe (IDR / IRAP). */
  readonly keyframe: boolean;
  /** Container timestamps in 90 kHz units (MPEG-TS PES), absent for raw elementary streams. */
  readonly pts90k?: number;
  readonly dts90k?: number;
}

/** A unit with its final timing, ready for the media engine. Times are ns on the gateway clock. */
export interface TimedUnit {
  readonly kind: TrackKind;
  readonly data: Uint8Array;
  readonly keyframe: boolean;
  readonly pts: number;
  readonly dts: number;
  readonly duration: number;
  /** Video: the stream's latest parameter sets (SPS/PPS, VPS for H.265) as Annex-B bytes, so an
   *  output that (re)starts mid-GOP can describe the stream at once. Shared, never copied. */
  readonly parameterSets?: Uint8Array;
}

/** True when readers of `previous` can keep playing `next` without renegotiating. */
export function sameTracks(previous: StreamTracks, next: StreamTracks): boolean {
  const v1 = previous.video;
  const v2 = next.video;
  if (v1.codec !== v2.codec || v1.width !== v2.width || v1.height !== v2.height) return false;
  const a1 = previous.audio;
  const a2 = next.audio;
  if (!a1 || !a2) return a1 === a2;
  return a1.codec === a2.codec && a1.sampleRate === a2.sampleRate && a1.channels === a2.channels;
}

/** Why two track sets differ, for the log line that explains why readers were ended. */
export function describeTrackChange(previous: StreamTracks, next: StreamTracks): string {
  const show = (t: StreamTracks): string =>
    `${t.video.codec} ${t.video.width}x${t.video.height}` +
    (t.audio ? ` + ${t.audio.codec} ${t.audio.sampleRate}Hz/${t.audio.channels}ch` : '');
  return `${show(previous)} -> ${show(next)}`;
}
