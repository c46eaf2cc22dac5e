// The gateway clock: nanoseconds since the process started, read from the monotonic clock.
// GStreamer's system clock is monotonic too, so pipelines whose base time is pinned to
// `epochNs` see running time == gateway time, and timestamps need no translation.

export interface Clock {
  /** Nanoseconds on the gateway clock. */
  now(): number;
}

export const epochNs: bigint = process.hrtime.bigint();

export const gatewayClock: Clock = {
  now: () => Number(process.hrtime.bigint() - epochNs),
};

export const MS = 1_000_000;
export const SECOND = 1_000_000_000;
