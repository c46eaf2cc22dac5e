import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MS, SECOND } from '../../src/core/clock';
import { FrameClock } from '../../src/ingest/frame-clock';

const PERIOD = SECOND / 30;

/** Arrival times of a 30 fps publisher that, like ffmpeg -re, releases frames on a 10 ms tick. */
function tickedArrivals(frames: number, start = 5 * SECOND): number[] {
  return Array.from({ length: frames }, (_, i) => start + Math.ceil((i * PERIOD) / (10 * MS)) * 10 * MS);
}

void test('timestamps step by one frame period even when arrivals jitter on a 10 ms tick', () => {
  const clock = new FrameClock({ frameRate: 30 });
  const pts = tickedArrivals(300).map((arrival) => clock.stamp(arrival).pts);
  const steps = pts.slice(1).map((p, i) => p - pts[i]!);
  const smooth = steps.filter((step) => Math.abs(step - PERIOD) < 1 * MS).length;
  assert.ok(smooth / steps.length > 0.99, `only ${smooth}/${steps.length} steps within 1 ms of the period`);
});

void test('timestamps stay close to the arrival times of a live publisher', () => {
  const clock = new FrameClock({ frameRate: 30 });
  const arrivals = tickedArrivals(900);
  const worst = Math.max(...arrivals.map((arrival) => Math.abs(clock.stamp(arrival).pts - arrival)));
  assert.ok(worst < 15 * MS, `drifted ${worst / MS} ms from arrival`);
});

void test('an undeclared frame rate is learned from a steady publisher', () => {
  const clock = new FrameClock();
  const period = SECOND / 25;
  for (let i = 0; i < 500; i++) clock.stamp(SECOND + i * period);
  assert.ok(Math.abs(clock.frameRate - 25) < 0.25, `learned ${clock.frameRate} fps`);
});

void test('frames that arrive all at once (an unpaced upload) keep the frame cadence', () => {
  const clock = new FrameClock({ frameRate: 30 });
  const pts = Array.from({ length: 90 }, () => clock.stamp(SECOND).pts);
  assert.equal(pts[0], SECOND);
  assert.ok(Math.abs(pts[89]! - (SECOND + 89 * PERIOD)) < MS);
});

void test('after a stall the clock restarts from the arrival time instead of lagging behind', () => {
  const clock = new FrameClock({ frameRate: 30 });
  for (let i = 0; i < 10; i++) clock.stamp(SECOND + i * PERIOD);
  const resumed = 10 * SECOND;
  assert.equal(clock.stamp(resumed).pts, resumed);
});

void test('timestamps never go backwards', () => {
  const clock = new FrameClock({ frameRate: 30 });
  let last = -1;
  for (const arrival of [SECOND, SECOND - 50 * MS, SECOND + 3 * MS, SECOND + 2 * MS, 2 * SECOND]) {
    const { pts } = clock.stamp(arrival);
    assert.ok(pts > last);
    last = pts;
  }
});

void test('a live publisher whose first frames came in a burst is stamped at its arrival times again within seconds', () => {
  const clock = new FrameClock({ frameRate: 30 });
  // Three frames waited for the connection and come with the first; then one per period.
  const arrivals = [SECOND, SECOND, SECOND, ...tickedArrivals(300, SECOND)];
  const holds = arrivals.map((arrival) => clock.stamp(arrival).pts - arrival);
  assert.ok(holds[10]! > 50 * MS, `the burst was not held at first (${holds[10]! / MS} ms)`);
  const late = holds.slice(150);
  const worst = Math.max(...late.map(Math.abs));
  assert.ok(worst < 10 * MS, `frames still held up to ${worst / MS} ms after 5 s`);
});

void test('an upload a little faster than real time (1.2x) keeps the frame cadence: the pacer holds it', () => {
  const clock = new FrameClock({ frameRate: 30 });
  const pts = Array.from({ length: 300 }, (_, i) => clock.stamp(SECOND + (i * PERIOD) / 1.2).pts);
  const drift = pts[299]! - (pts[0]! + 299 * PERIOD);
  assert.ok(Math.abs(drift) < 20 * MS, `timestamps ran ${drift / MS} ms off the frame cadence`);
});

void test('an upload held a second ahead by the pacer keeps the frame cadence though its reads then come a period apart', () => {
  const clock = new FrameClock({ frameRate: 30 });
  // A second of frames at once, then (reading paused while a second waits) one per period.
  const arrivals = Array.from({ length: 300 }, (_, i) => SECOND + Math.max(0, i - 30) * PERIOD);
  const pts = arrivals.map((arrival) => clock.stamp(arrival).pts);
  const drift = pts[299]! - (pts[0]! + 299 * PERIOD);
  assert.ok(Math.abs(drift) < 5 * MS, `timestamps ran ${drift / MS} ms off the frame cadence`);
});
