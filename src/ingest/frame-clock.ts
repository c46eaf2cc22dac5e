// Timestamps for raw Annex-B, which carries none. Each access unit is one frame later than
// the previous one, so timestamps step by exactly one frame period; a slow phase correction
// keeps them near the arrival times (a live source's clock drifts from ours) without copying
// the publisher's send jitter into them.
import { MS, SECOND } from '../core/clock';

export interface FrameClockOptions {
  /** Frame rate from the bitstream (SPS VUI), if it declares one. */
  readonly frameRate?: number;
  /** Used until a rate is declared or measured. */
  readonly defaultFrameRate?: number;
}

export interface FrameTiming {
  readonly pts: number;
  readonly duration: number;
}

/** How much of the gap between arrival and the expected time is corrected per frame. */
const PHASE_GAIN = 0.05;
/** Frame period adaptation for sources that declare no rate. */
const PERIOD_GAIN = 0.01;
/** Late by more than this: the publisher stalled, so start over from the arrival time. */
const RESYNC_LATE = 500 * MS;
/**
 * A publisher paced by its own clock (its last PACED_WINDOW arrivals a frame period apart on
 * average, within PACED_TOLERANCE) whose frames come early by up to MAX_EARLY_FOLLOW had its
 * first frames arrive in a burst: the phase follows it, or they would be held that long for good.
 */
const PACED_WINDOW = 30;
const PACED_TOLERANCE = 0.02;
const MAX_EARLY_FOLLOW = 500 * MS;
const MIN_PERIOD = SECOND / 240;
const MAX_PERIOD = SECOND;

export class FrameClock {
  #period: number;
  #declared: boolean;
  #next: number | undefined;
  #last: number | undefined;
  /** Ring of the last arrival times. */
  readonly #arrivals: number[] = [];
  #arrivalsSeen = 0;

  constructor(options: FrameClockOptions = {}) {
    this.#declared = options.frameRate !== undefined;
    this.#period = SECOND / (options.frameRate ?? options.defaultFrameRate ?? 30);
  }

  get frameRate(): number {
    return SECOND / this.#period;
  }

  /** The bitstream declared its frame rate (e.g. a new SPS). */
  declareFrameRate(fps: number): void {
    this.#period = clamp(SECOND / fps, MIN_PERIOD, MAX_PERIOD);
    this.#declared = true;
  }

  /** Timing for the next frame, which finished arriving at `arrival` (gateway ns). */
  stamp(arrival: number): FrameTiming {
    const expected = this.#next;
    const paced = this.#recordArrival(arrival);
    let pts: number;
    if (expected === undefined || arrival - expected > RESYNC_LATE) {
      pts = arrival;
    } else {
      const error = arrival - expected;
      // Frames that arrive early (an unpaced publisher) keep the frame cadence: the pacer
      // holds them. Frames near their time, and early ones of a paced publisher, nudge the
      // phase; near ones also the period, if undeclared.
      const near = Math.abs(error) < this.#period;
      const follow = near || (paced && error < 0 && -error < MAX_EARLY_FOLLOW);
      pts = follow ? expected + error * PHASE_GAIN : expected;
      if (near && !this.#declared) {
        this.#period = clamp(this.#period + error * PERIOD_GAIN, MIN_PERIOD, MAX_PERIOD);
      }
    }
    if (this.#last !== undefined && pts <= this.#last) pts = this.#last + 1;
    this.#last = pts;
    this.#next = pts + this.#period;
    return { pts: Math.round(pts), duration: Math.round(this.#period) };
  }

  /** Records an arrival; whether the window's arrivals came a frame period apart on average. */
  #recordArrival(arrival: number): boolean {
    const slot = this.#arrivalsSeen % PACED_WINDOW;
    const oldest = this.#arrivals[slot];
    this.#arrivals[slot] = arrival;
    this.#arrivalsSeen++;
    if (oldest === undefined) return false;
    const interval = (arrival - oldest) / PACED_WINDOW;
    return Math.abs(interval - this.#period) <= PACED_TOLERANCE * this.#period;
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
