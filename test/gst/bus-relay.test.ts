// Real GStreamer, in process: the native pgbusrelay element hands a pipeline's bus messages to
// Node's thread, where pushgate logs them with the stream they belong to.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { logBusMessage } from '../../src/gst/bus-log';
import { BusRelay, parseRelayed } from '../../src/gst/bus-relay';
import { addAndLink, makeElement } from '../../src/gst/elements';
import { GLib, Gst } from '../../src/gst/runtime';
import { recordingLogger, type Logged } from './helpers/recording-logger';

void test('the native pgbusrelay plugin is built and found', () => {
  assert.ok(BusRelay.create('bus-found'), 'pgbusrelay is missing: scripts/build-native.sh builds it into native/build');
});

/** A pipeline whose bin holds a relay and a filesrc of a missing file: PAUSED fails with an error. */
function failingPipeline(name: string, source: string): { pipeline: InstanceType<typeof Gst.Pipeline>; relay: BusRelay } {
  const pipeline = new Gst.Pipeline({ name });
  const bin = new Gst.Bin({ name: `bin-${name}` });
  const relay = BusRelay.create(`bus-${name}`);
  assert.ok(relay);
  bin.add(relay.element);
  addAndLink(bin, [makeElement('filesrc', source, { location: `/nonexistent/pushgate/${name}` }), makeElement('fakesink', `sink-${name}`)]);
  pipeline.add(bin);
  return { pipeline, relay };
}

void test('an error inside a bin reaches Node with its element, text and debug; the pipeline state changes at debug level', () => {
  const { pipeline, relay } = failingPipeline('relay-test', 'src-missing-file');
  try {
    assert.equal(pipeline.setState(Gst.State.PAUSED), Gst.StateChangeReturn.FAILURE);
    const lines: Logged[] = [];
    const messages = relay.drain(recordingLogger(lines));
    const error = lines.find((l) => l.level === 'error');
    assert.ok(error, `no error logged from ${JSON.stringify(messages)}`);
    assert.equal(error.fields.element, 'src-missing-file');
    assert.match(String(error.msg), /GStreamer error: .*(not found|open)/i);
    assert.match(String(error.fields.debug), /nonexistent/);
    const states = lines.filter((l) => l.level === 'debug');
    assert.ok(states.some((l) => l.fields.element === 'relay-test' && l.fields.from === 'NULL' && l.fields.to === 'READY'), JSON.stringify(states));
    // Reading drains: nothing is handed over twice.
    assert.deepEqual(relay.drain(recordingLogger([])), []);
  } finally {
    pipeline.setState(Gst.State.NULL);
  }
});

const mainContext = GLib.MainContext.default();

void test('a watched relay logs what its pipeline posts on its own, once per message, and a closed one no longer does', async () => {
  const { pipeline, relay } = failingPipeline('watch-test', 'src-watch-missing');
  const lines: Logged[] = [];
  const log = recordingLogger(lines);
  relay.watch(log);
  try {
    assert.equal(pipeline.setState(Gst.State.PAUSED), Gst.StateChangeReturn.FAILURE);
    // Nothing drains here: the element signals Node's thread, from the main loop (which the
    // gateway runs; here the test turns it).
    assert.equal(lines.length, 0, 'logged before the main loop ran');
    for (let i = 0; i < 100 && !lines.some((l) => l.level === 'error'); i++) {
      while (mainContext.iteration(false));
      await delay(20);
    }
    const errors = lines.filter((l) => l.level === 'error');
    assert.ok(errors.length > 0 && errors.every((l) => l.fields.element === 'src-watch-missing'), JSON.stringify(lines));
    assert.equal(new Set(lines.map((l) => JSON.stringify(l))).size, lines.length, 'each message logged once');
    relay.close(log);
    const logged = lines.length;
    pipeline.setState(Gst.State.NULL);
    assert.equal(pipeline.setState(Gst.State.PAUSED), Gst.StateChangeReturn.FAILURE);
    await delay(100);
    while (mainContext.iteration(false));
    assert.equal(lines.length, logged, `logged after close: ${JSON.stringify(lines.slice(logged))}`);
  } finally {
    relay.close(log);
    pipeline.setState(Gst.State.NULL);
  }
});

void test('relayed lines are parsed field by field, and unknown kinds are ignored', () => {
  assert.deepEqual(parseRelayed('warning\tparse-video-x\tlate buffer\tsome debug\nbogus\tx\ty\tz\neos\tpipeline0\t\t\n'), [
    { kind: 'warning', source: 'parse-video-x', text: 'late buffer', debug: 'some debug' },
    { kind: 'eos', source: 'pipeline0', text: undefined, debug: undefined },
  ]);
});

void test('the processing-deadline warning of gst-rtsp-server\'s own sinks is logged at debug level; other warnings at warn', () => {
  const lines: Logged[] = [];
  const log = recordingLogger(lines);
  logBusMessage(log, {
    kind: 'warning',
    source: 'appsink0',
    text: 'Pipeline construction is invalid, please add queues.',
    debug: '../libs/gst/base/gstbasesink.c(1249): gst_base_sink_query_latency (): /GstPipeline:media-pipeline/GstAppSink:appsink0: Not enough buffering available for  the processing deadline of 0:00:00.020000000, add enough queues to buffer  0:00:00.020000000 additional data. Shortening processing latency to 0:00:00.000000000.',
  });
  logBusMessage(log, { kind: 'warning', source: 'parse-video-1', text: 'Broken bit stream', debug: 'gsth264parse.c: invalid slice header' });
  assert.deepEqual(lines.map((l) => [l.level, l.fields.element]), [['debug', 'appsink0'], ['warn', 'parse-video-1']]);
});
