// Maps MPEG-TS timestamps (90 kHz, 33-bit, any origin) onto the gateway clock. One offset per
// push keeps audio and video in sync; wraps are unwrapped; a jump in the source (a publisher
// that restarts its clock or splices) re-anchors instead of stalling or bursting readers.
import { SECOND } from '../core/clock';

const WRAP = 2 ** 33;
const TICK_NS = SECOND / 90_000;
/** A step between consecutive timestamps larger than this is a discontinuity, not media. */
const MAX_STEP = 2 * SECOND;
/** Units later than this behind the clock: the source runs slow or stalled; catch up. */
const MAX_LATE = 1 * SECOND;

export interface RebasedTime {
  readonly pts: number;
  readonly dts: number;
}

export class TimestampRebaser {
  #offset: number | undefined;
  #lastRaw: number | undefined;
  #lastOut = -Infinity;

  /** Rebases one unit that arrived at `arrival` (gateway ns). DTS defaults to PTS. */
  rebase(pts90k: number, dts90k: number | undefined, arrival: number): RebasedTime {
    const dtsRaw = this.#unwrap(dts90k ?? pts90k);
    const ptsRaw = dtsRaw + wrapDelta(pts90k - (dts90k ?? pts90k));
    const dtsNs = dtsRaw * TICK_NS;

    const jumped = this.#lastRaw !== undefined && Math.abs(dtsRaw - this.#lastRaw) * TICK_NS > MAX_STEP;
    if (this.#offset === undefined || jumped) {
      this.#offset = Math.max(arrival, this.#lastOut) - dtsNs;
    } else if (this.#offset + dtsNs < arrival - MAX_LATE) {
      this.#offset = arrival - dtsNs;
    }
    this.#lastRaw = dtsRaw;
    const dts = Math.round(this.#offset + dtsNs);
    this.#lastOut = Math.max(this.#lastOut, dts);
    return { dts, pts: Math.round(this.#offset + ptsRaw * TICK_NS) };
  }

  /** Picks the 33-bit wrap of `raw` closest to the previous timestamp. */
  #unwrap(raw: number): number {
    if (this.#lastRaw === undefined) return raw;
    const base = this.#lastRaw - (((this.#lastRaw % WRAP) + WRAP) % WRAP);
    let best = base + raw;
    for (const candidate of [best - WRAP, best + WRAP]) {
      if (Math.abs(candidate - this.#lastRaw) < Math.abs(best - this.#lastRaw)) best = candidate;
    }
    return best;
  }
}

/** A PTS-DTS difference across a 33-bit wrap. */
function wrapDelta(delta: number): number {
  if (delta > WRAP / 2) return delta - WRAP;
  if (delta < -WRAP / 2) return delta + WRAP;
  return delta;
}
