// Real GStreamer, in process: MemoryReclaimer trims memory (native pgmemorytrim) when a media
// was unprepared and collects garbage at the next tick, then trims what that freed; it trims
// when RTSP connections have settled lower, not while they move.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryReclaimer } from '../../src/gst/memory-reclaimer';
import { recordingLogger, type Logged } from './helpers/recording-logger';

const messages = (lines: Logged[]): string[] => lines.splice(0).map((l) => l.msg ?? '');

void test('an unprepared media: trimmed at once, collected at the next tick, trimmed again after the collection', () => {
  const lines: Logged[] = [];
  const reclaimer = MemoryReclaimer.create(recordingLogger(lines), () => 0);
  assert.deepEqual(messages(lines), [], 'the plugin did not load (run scripts/build-native.sh)');
  reclaimer.tick(1);
  assert.deepEqual(messages(lines), ['memory trimmed', 'collecting garbage: stopped pipelines are freed with their wrappers']);
  reclaimer.tick(0);
  assert.deepEqual(messages(lines), ['memory trimmed']);
  reclaimer.tick(0);
  assert.deepEqual(messages(lines), []);
  // Within the collection interval: trimmed, but not collected again.
  reclaimer.mediaUnprepared();
  reclaimer.tick(0);
  assert.deepEqual(messages(lines), ['memory trimmed']);
});

void test('connections: trimmed once their number has held for a tick below the peak', () => {
  const lines: Logged[] = [];
  let open = 5;
  const reclaimer = MemoryReclaimer.create(recordingLogger(lines), () => open);
  reclaimer.tick(0);
  reclaimer.tick(0);
  assert.deepEqual(messages(lines), [], 'connections at their peak: nothing to give back');
  open = 2;
  reclaimer.tick(0);
  assert.deepEqual(messages(lines), [], 'still moving');
  reclaimer.tick(0);
  assert.deepEqual(messages(lines), ['memory trimmed']);
  reclaimer.tick(0);
  assert.deepEqual(messages(lines), [], 'the trim reset the peak');
});

void test('without pgmemorytrim, memory is collected but not trimmed, and a warning says so', () => {
  const lines: Logged[] = [];
  MemoryReclaimer.create(recordingLogger(lines), () => 0, 'pgmemorytrim-not-built');
  const warnings = lines.filter((l) => l.level === 'warn').map((l) => l.msg ?? '');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /pgmemorytrim-not-built.*build-native\.sh.*stays resident/);
});
