// Raw H.264/H.265 Annex-B: frame access units and give each a smooth timestamp.
import type { VideoCodec, VideoTrack } from '../core/media';
import { AnnexBFramer, type AccessUnit } from './annexb-framer';
import { FrameClock } from './frame-clock';
import type { IngestSink, Ingester } from './ingester';
import { ParameterSets } from './parameter-sets';

export class AnnexBIngester implements Ingester {
  readonly #framer: AnnexBFramer;
  readonly #clock = new FrameClock();
  readonly #sink: IngestSink;
  readonly #parameterSets = new ParameterSets();
  #track: VideoTrack | undefined;
  #started = false;

  constructor(codec: VideoCodec, sink: IngestSink) {
    this.#framer = new AnnexBFramer(codec);
    this.#sink = sink;
  }

  get framesSeen(): number {
    return this.#framer.unitCount;
  }

  push(chunk: Uint8Array, arrival: number): void {
    for (const unit of this.#framer.push(chunk)) this.#accept(unit, arrival);
  }

  end(arrival: number): void {
    for (const unit of this.#framer.flush()) this.#accept(unit, arrival);
  }

  #accept(unit: AccessUnit, arrival: number): void {
    this.#parameterSets.update(unit.parameterSets);
    if (unit.track) {
      this.#track = unit.track;
      if (unit.track.frameRate) this.#clock.declareFrameRate(unit.track.frameRate);
    }
    // Readers can only start from a keyframe with known parameters: drop what comes before.
    if (!this.#started) {
      if (!this.#track || !unit.keyframe) return;
      this.#started = true;
      this.#sink.tracks({ video: this.#track });
    }
    const { pts, duration } = this.#clock.stamp(arrival);
    this.#sink.unit({
      kind: 'video',
      data: unit.data,
      keyframe: unit.keyframe,
      pts,
      dts: pts,
      duration,
      parameterSets: this.#parameterSets.bytes,
    });
  }
}
