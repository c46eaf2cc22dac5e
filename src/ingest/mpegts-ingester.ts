// MPEG-TS: demux PES, frame video access units, rebase the container's timestamps onto the
// gateway clock. Audio (AAC ADTS) becomes a second track when the program declares it.
import { SECOND } from '../core/clock';
import type { AudioTrack, VideoTrack } from '../core/media';
import { adtsTrack } from './adts';
import { AnnexBFramer, type AccessUnit } from './annexb-framer';
import type { IngestSink, Ingester } from './ingester';
import { MpegTsDemuxer, type TsPes } from './mpegts-demuxer';
import { ParameterSets } from './parameter-sets';
import { TimestampRebaser } from './timestamp-rebaser';

/** How long to wait for the first audio frame of a program that declares audio. */
const AUDIO_WAIT_FRAMES = 60;
const AAC_FRAME_SAMPLES = 1024;

export class MpegTsIngester implements Ingester {
  readonly #demuxer = new MpegTsDemuxer();
  readonly #rebaser = new TimestampRebaser();
  readonly #sink: IngestSink;
  readonly #parameterSets = new ParameterSets();
  #framer: AnnexBFramer | undefined;
  #video: VideoTrack | undefined;
  #audio: AudioTrack | undefined;
  #framesWithoutAudio = 0;
  #started = false;
  #lastVideo: { dts: number; pts: number } | undefined;
  #frameDuration = SECOND / 30;

  constructor(sink: IngestSink) {
    this.#sink = sink;
  }

  get framesSeen(): number {
    return this.#framer?.unitCount ?? 0;
  }

  push(chunk: Uint8Array, arrival: number): void {
    for (const pes of this.#demuxer.push(chunk)) this.#accept(pes, arrival);
  }

  end(arrival: number): void {
    for (const pes of this.#demuxer.flush()) this.#accept(pes, arrival);
  }

  #accept(pes: TsPes, arrival: number): void {
    if (pes.kind === 'audio') this.#acceptAudio(pes, arrival);
    else this.#acceptVideo(pes, arrival);
  }

  #acceptVideo(pes: TsPes, arrival: number): void {
    const program = this.#demuxer.program;
    if (!program) return;
    this.#framer ??= new AnnexBFramer(program.video.codec);
    // Muxers put one access unit per PES, so the PES end completes the unit without waiting
    // for the next one.
    const units = [...this.#framer.push(pes.data), ...this.#framer.flush()];
    units.forEach((unit, index) => this.#acceptAccessUnit(unit, index === 0 ? pes : undefined, arrival));
  }

  #acceptAccessUnit(unit: AccessUnit, pes: TsPes | undefined, arrival: number): void {
    this.#parameterSets.update(unit.parameterSets);
    if (unit.track) {
      this.#video = unit.track;
      if (unit.track.frameRate) this.#frameDuration = SECOND / unit.track.frameRate;
    }
    const timing = this.#videoTiming(pes, arrival);
    if (!this.#ready(unit.keyframe)) return;
    this.#sink.unit({
      kind: 'video',
      data: unit.data,
      keyframe: unit.keyframe,
      pts: timing.pts,
      dts: timing.dts,
      duration: Math.round(this.#frameDuration),
      parameterSets: this.#parameterSets.bytes,
    });
  }

  /** Container time when the PES has it, otherwise one frame after the previous unit. */
  #videoTiming(pes: TsPes | undefined, arrival: number): { pts: number; dts: number } {
    let timing: { pts: number; dts: number };
    if (pes?.pts90k !== undefined) {
      timing = this.#rebaser.rebase(pes.pts90k, pes.dts90k, arrival);
    } else if (this.#lastVideo) {
      const step = Math.round(this.#frameDuration);
      timing = { pts: this.#lastVideo.pts + step, dts: this.#lastVideo.dts + step };
    } else {
      timing = { pts: arrival, dts: arrival };
    }
    this.#lastVideo = timing;
    return timing;
  }

  #acceptAudio(pes: TsPes, arrival: number): void {
    this.#audio ??= adtsTrack(pes.data);
    if (!this.#audio || pes.pts90k === undefined || !this.#started) return;
    const { pts, dts } = this.#rebaser.rebase(pes.pts90k, pes.dts90k, arrival);
    const frames = countAdtsFrames(pes.data);
    this.#sink.unit({
      kind: 'audio',
      data: pes.data,
      keyframe: true,
      pts,
      dts,
      duration: Math.round((frames * AAC_FRAME_SAMPLES * SECOND) / this.#audio.sampleRate),
    });
  }

  /** Starts the stream at the first keyframe once video, and audio if declared, are known. */
  #ready(keyframe: boolean): boolean {
    if (this.#started) return true;
    if (!this.#video) return false;
    const audioDeclared = this.#demuxer.program?.audio !== undefined;
    const waitingForAudio = audioDeclared && !this.#audio && this.#framesWithoutAudio++ < AUDIO_WAIT_FRAMES;
    if (waitingForAudio || !keyframe) return false;
    this.#started = true;
    this.#sink.tracks(this.#audio ? { video: this.#video, audio: this.#audio } : { video: this.#video });
    return true;
  }
}

function countAdtsFrames(data: Uint8Array): number {
  let frames = 0;
  for (let offset = 0; offset + 7 <= data.byteLength; frames++) {
    const length = ((data[offset + 3]! & 0x03) << 11) | (data[offset + 4]! << 3) | (data[offset + 5]! >> 5);
    if (length < 7) break;
    offset += length;
  }
  return Math.max(1, frames);
}
