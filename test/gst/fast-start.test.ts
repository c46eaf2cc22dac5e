// Real GStreamer, in process: the native fast-start plugin loads from native/build, attaches to
// an RTSP server and reports its counters; without it pushgate goes on without fast start.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Logger, LogFn } from '../../src/core/logger';
import { FastStart } from '../../src/gst/fast-start';
import { GstRtspServer } from '../../src/gst/runtime';

function recordingLogger(warnings: string[]): Logger {
  const ignore: LogFn = () => {};
  const warn: LogFn = (objOrMsg: object | string, msg?: string) => {
    warnings.push(typeof objOrMsg === 'string' ? objOrMsg : (msg ?? ''));
  };
  const logger: Logger = { debug: ignore, info: ignore, warn, error: ignore, child: () => logger };
  return logger;
}

void test('without the native plugin, FastStart.attach warns and returns nothing: pushgate runs without fast start', () => {
  const warnings: string[] = [];
  // The plugin is built here, so a factory name nobody registered stands for a missing plugin.
  const fastStart = FastStart.attach(new GstRtspServer.RTSPServer(), recordingLogger(warnings), 'pgfaststart-not-built');
  assert.equal(fastStart, undefined);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /fast start is off.*pgfaststart-not-built.*build-native\.sh/);
});

void test('the native plugin attaches to an RTSP server, starts with zero counters, and detaches idempotently', () => {
  const warnings: string[] = [];
  const fastStart = FastStart.attach(new GstRtspServer.RTSPServer(), recordingLogger(warnings));
  assert.ok(fastStart, `the plugin did not load (run scripts/build-native.sh): ${warnings.join('; ')}`);
  assert.deepEqual(fastStart.counters(), { primedJoins: 0, liveJoins: 0, fallbacks: 0, completedPrimes: 0, activePrimes: 0, logBytes: 0 });
  fastStart.close();
  fastStart.close();
  assert.deepEqual(warnings, []);
});
