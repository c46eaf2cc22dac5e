// Real GStreamer, in process: the native fast-start plugin loads from native/build, attaches to
// an RTSP server and reports its counters; without it pushgate goes on without fast start.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FastStart } from '../../src/gst/fast-start';
import { GstRtspServer } from '../../src/gst/runtime';
import { recordingLogger, type Logged } from './helpers/recording-logger';

const warningsIn = (lines: readonly Logged[]): string[] => lines.filter((l) => l.level === 'warn').map((l) => l.msg ?? '');

void test('without the native plugin, FastStart.attach warns and returns nothing: pushgate runs without fast start', () => {
  const lines: Logged[] = [];
  // The plugin is built here, so a factory name nobody registered stands for a missing plugin.
  const fastStart = FastStart.attach(new GstRtspServer.RTSPServer(), recordingLogger(lines), 'pgfaststart-not-built');
  assert.equal(fastStart, undefined);
  const warnings = warningsIn(lines);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /fast start is off.*pgfaststart-not-built.*build-native\.sh/);
});

void test('the native plugin attaches to an RTSP server, starts with zero counters, and detaches idempotently', () => {
  const lines: Logged[] = [];
  const fastStart = FastStart.attach(new GstRtspServer.RTSPServer(), recordingLogger(lines));
  assert.ok(fastStart, `the plugin did not load (run scripts/build-native.sh): ${warningsIn(lines).join('; ')}`);
  assert.deepEqual(fastStart.counters(), { primedJoins: 0, liveJoins: 0, fallbacks: 0, completedPrimes: 0, activePrimes: 0, logBytes: 0, warmedMedias: 0, warmFailures: 0 });
  fastStart.close();
  fastStart.close();
  assert.deepEqual(warningsIn(lines), []);
});
