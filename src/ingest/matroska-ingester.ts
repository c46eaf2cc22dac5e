// Matroska/WebM (MediaRecorder in a browser, or ffmpeg -f matroska): H.264/H.265 blocks become
// Annex-B access units, Opus or AAC blocks audio units, and the block timecodes are rebased onto
// the gateway clock like MPEG-TS timestamps (one offset for both tracks, jumps re-anchored).
import { SECOND } from '../core/clock';
import { PushgateError } from '../core/errors';
import type { VideoCodec, VideoTrack } from '../core/media';
import { AnnexBFramer, type AccessUnit } from './annexb-framer';
import type { IngestSink, Ingester } from './ingester';
import { MATROSKA_VIDEO_CODECS, audioConfig, lengthPrefixedToAnnexB, parseVideoConfig, type AudioConfig } from './matroska-codecs';
import { MatroskaDemuxer, type MatroskaBlock, type MatroskaEvent, type MatroskaTrack } from './matroska-demuxer';
import { ParameterSets } from './parameter-sets';
import { TimestampRebaser } from './timestamp-rebaser';

const TICK_NS = SECOND / 90_000;
/** Frame durations outside this are not a cadence (a pause, a clock jump). */
const MIN_FRAME_NS = SECOND / 240;
const MAX_FRAME_NS = SECOND;

interface VideoIn {
  readonly number: number;
  readonly codec: VideoCodec;
  /** NAL length prefix size; undefined when the blocks are Annex-B (no configuration record: older Chromium). */
  readonly lengthSize: number | undefined;
  readonly framer: AnnexBFramer;
}

interface AudioIn {
  readonly number: number;
  readonly config: AudioConfig;
}

export class MatroskaIngester implements Ingester {
  readonly #demuxer = new MatroskaDemuxer();
  readonly #rebaser = new TimestampRebaser();
  readonly #sink: IngestSink;
  readonly #parameterSets = new ParameterSets();
  #video: VideoIn | undefined;
  #audio: AudioIn | undefined;
  #track: VideoTrack | undefined;
  #started = false;
  readonly #lastDts = { video: -Infinity, audio: -Infinity };
  #lastVideoTime: number | undefined;
  #frameDuration = SECOND / 30;
  #declaredDuration = false;

  constructor(sink: IngestSink) {
    this.#sink = sink;
  }

  get framesSeen(): number {
    return this.#video?.framer.unitCount ?? 0;
  }

  push(chunk: Uint8Array, arrival: number): void {
    for (const event of this.#demuxer.push(chunk)) this.#accept(event, arrival);
  }

  end(arrival: number): void {
    for (const event of this.#demuxer.flush()) this.#accept(event, arrival);
  }

  #accept(event: MatroskaEvent, arrival: number): void {
    if (event.kind === 'tracks') this.#acceptTracks(event.tracks);
    else this.#acceptBlock(event.block, arrival);
  }

  #acceptTracks(tracks: readonly MatroskaTrack[]): void {
    const video = tracks.find((t) => t.type === 'video');
    if (!video) throw new PushgateError('INVALID_MEDIA', 'the Matroska stream has no video track');
    const codec = MATROSKA_VIDEO_CODECS[video.codecId];
    if (!codec) {
      throw new PushgateError(
        'UNSUPPORTED_CODEC',
        `the Matroska video track is ${video.codecId || 'of no codec'}: pushgate serves H.264 (V_MPEG4/ISO/AVC) and H.265 (V_MPEGH/ISO/HEVC)`,
      );
    }
    const framer = new AnnexBFramer(codec);
    let lengthSize: number | undefined;
    if (video.codecPrivate && video.codecPrivate.byteLength > 0) {
      const config = parseVideoConfig(codec, video.codecPrivate);
      lengthSize = config.lengthSize;
      // Parameter sets alone are no picture: the framer keeps them for the first one.
      framer.push(config.parameterSets);
      framer.flush();
    }
    this.#video = { number: video.number, codec, lengthSize, framer };
    if (video.defaultDurationNs && video.defaultDurationNs >= MIN_FRAME_NS && video.defaultDurationNs <= MAX_FRAME_NS) {
      this.#frameDuration = video.defaultDurationNs;
      this.#declaredDuration = true;
    }
    // Audio in another codec is left out, as MPEG-TS audio other than AAC is.
    for (const track of tracks) {
      if (track.type !== 'audio') continue;
      const config = audioConfig(track.codecId, track.codecPrivate, track.channels);
      if (config) {
        this.#audio = { number: track.number, config };
        break;
      }
    }
  }

  #acceptBlock(block: MatroskaBlock, arrival: number): void {
    const video = this.#video;
    if (!video) throw new PushgateError('INVALID_MEDIA', 'a Matroska block came before the stream\'s Tracks');
    if (block.track === video.number) this.#acceptVideo(video, block, arrival);
    else if (block.track === this.#audio?.number) this.#acceptAudio(this.#audio, block, arrival);
  }

  #acceptVideo(video: VideoIn, block: MatroskaBlock, arrival: number): void {
    block.frames.forEach((frame, index) => {
      // With a configuration record the blocks are length-prefixed, whatever their first bytes
      // look like (a 256-byte NAL unit's length is 00 00 01 00); without one, Annex-B.
      const annexB = video.lengthSize === undefined ? frame : lengthPrefixedToAnnexB(frame, video.lengthSize);
      // A block is one whole access unit: no need to wait for the next one to know it ended.
      const units = [...video.framer.push(annexB), ...video.framer.flush()];
      const timeNs = block.timeNs + index * this.#frameDuration;
      units.forEach((unit, n) => this.#acceptAccessUnit(unit, timeNs + n * this.#frameDuration, arrival));
    });
  }

  #acceptAccessUnit(unit: AccessUnit, timeNs: number, arrival: number): void {
    this.#parameterSets.update(unit.parameterSets);
    if (unit.track) {
      this.#track = unit.track;
      if (unit.track.frameRate && !this.#declaredDuration) this.#frameDuration = SECOND / unit.track.frameRate;
    }
    this.#learnFrameDuration(timeNs);
    const { pts, dts } = this.#rebase('video', timeNs, arrival);
    if (!this.#ready(unit.keyframe)) return;
    this.#sink.unit({
      kind: 'video',
      data: unit.data,
      keyframe: unit.keyframe,
      pts,
      dts,
      duration: Math.round(this.#frameDuration),
      parameterSets: this.#parameterSets.bytes,
    });
  }

  /** Without a declared rate, the cadence is what the timecodes say (a browser's camera rate). */
  #learnFrameDuration(timeNs: number): void {
    const last = this.#lastVideoTime;
    this.#lastVideoTime = timeNs;
    if (this.#declaredDuration || this.#track?.frameRate || last === undefined) return;
    const step = timeNs - last;
    if (step >= MIN_FRAME_NS && step <= MAX_FRAME_NS) this.#frameDuration += (step - this.#frameDuration) * 0.1;
  }

  #acceptAudio(audio: AudioIn, block: MatroskaBlock, arrival: number): void {
    if (!this.#started) return;
    let timeNs = block.timeNs;
    for (const frame of block.frames) {
      const duration = audio.config.duration(frame);
      const { pts, dts } = this.#rebase('audio', timeNs, arrival);
      this.#sink.unit({ kind: 'audio', data: audio.config.unit(frame), keyframe: true, pts, dts, duration });
      timeNs += duration;
    }
  }

  /**
   * Matroska times are presentation times; there is no decode time. DTS follows PTS and never
   * goes back: right for streams without B-frames (what browsers record), and monotonic for the
   * pacer when there are some.
   */
  #rebase(kind: 'video' | 'audio', timeNs: number, arrival: number): { pts: number; dts: number } {
    const { pts } = this.#rebaser.rebase(Math.round(timeNs / TICK_NS), undefined, arrival);
    const dts = Math.max(pts, this.#lastDts[kind]);
    this.#lastDts[kind] = dts;
    return { pts, dts };
  }

  /** Starts the stream at the first keyframe with known parameter sets; audio is known from Tracks. */
  #ready(keyframe: boolean): boolean {
    if (this.#started) return true;
    if (!this.#track || !keyframe) return false;
    this.#started = true;
    this.#sink.tracks(this.#audio ? { video: this.#track, audio: this.#audio.config.track } : { video: this.#track });
    return true;
  }
}
