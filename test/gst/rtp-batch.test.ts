// Real GStreamer, in process: the native pgrtpbatch element, which sits after the video payloader,
// lets each access unit's RTP packets out in one push (one sample for gst-rtsp-server's send
// thread per frame), unchanged and in order, and holds nothing once its unit is complete.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { capsFromString, makeElement } from '../../src/gst/elements';
import { Gst, GstApp, hasElementFactory } from '../../src/gst/runtime';

type AppSink = InstanceType<typeof GstApp.AppSink>;
type AppSrc = InstanceType<typeof GstApp.AppSrc>;
type Buffer = InstanceType<typeof Gst.Buffer>;

const MS = 1_000_000;
let pipeline: InstanceType<typeof Gst.Pipeline>;
let appsrc: AppSrc;
let sink: AppSink;
let nextSeq = 100;

before(() => {
  assert.ok(hasElementFactory('pgrtpbatch'), 'pgrtpbatch is missing: scripts/build-native.sh builds it into native/build');
  pipeline = new Gst.Pipeline({ name: 'rtp-batch-test' });
  appsrc = makeElement('appsrc', 'src', {
    caps: capsFromString('application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96'),
    format: Gst.Format.TIME,
  }) as unknown as AppSrc;
  const batcher = makeElement('pgrtpbatch', 'batch');
  sink = makeElement('appsink', 'sink', { sync: false, emitSignals: false, bufferList: true }) as unknown as AppSink;
  for (const element of [appsrc, batcher, sink]) pipeline.add(element);
  assert.ok(appsrc.link(batcher) && batcher.link(sink));
  assert.notEqual(pipeline.setState(Gst.State.PLAYING), Gst.StateChangeReturn.FAILURE);
});

after(() => pipeline.setState(Gst.State.NULL));

/** An RTP packet of payload type 96: header, then a payload naming it. */
function packet(rtptime: number, marker: boolean): number[] {
  const seq = nextSeq++;
  const header = [0x80, (marker ? 0x80 : 0) | 96, seq >> 8, seq & 0xff, (rtptime >>> 24) & 0xff, (rtptime >> 16) & 0xff, (rtptime >> 8) & 0xff, rtptime & 0xff, 0, 0, 0x12, 0x34];
  return [...header, ...Array.from({ length: 20 }, (_, i) => (seq + i) & 0xff)];
}

function gstBuffer(bytes: readonly number[]): Buffer {
  return Gst.Buffer.newWrapped(Uint8Array.from(bytes) as unknown as number[]);
}

function push(bytes: readonly number[]): void {
  assert.equal(appsrc.pushBuffer(gstBuffer(bytes)), Gst.FlowReturn.OK);
}

function bytesOf(buffer: Buffer): number[] {
  return [...buffer.extractDup(0, Number(buffer.getSize()))];
}

/** The next push that left the batcher, as its packets, or undefined if none within `timeoutMs`. */
function nextPush(timeoutMs = 1000): { list: boolean; packets: number[][] } | undefined {
  const sample = sink.tryPullSample(timeoutMs * MS);
  if (!sample) return undefined;
  const list = sample.getBufferList();
  if (list) return { list: true, packets: Array.from({ length: list.length() }, (_, i) => bytesOf(list.get(i)!)) };
  const buffer = sample.getBuffer();
  assert.ok(buffer, 'a sample with neither a buffer nor a list');
  return { list: false, packets: [bytesOf(buffer)] };
}

void test("an access unit's packets leave together, unchanged and in order, as soon as its marker packet comes", () => {
  const unit = [packet(1000, false), packet(1000, false), packet(1000, true)];
  push(unit[0]!);
  push(unit[1]!);
  assert.equal(nextPush(100), undefined, 'packets left before their unit was complete');
  push(unit[2]!);
  assert.deepEqual(nextPush(), { list: true, packets: unit });
});

void test('a unit of one packet leaves as a plain buffer', () => {
  const only = packet(2000, true);
  push(only);
  assert.deepEqual(nextPush(), { list: false, packets: [only] });
});

void test("the payloader's lists are batched the same way", () => {
  const unit = [packet(3000, false), packet(3000, false), packet(3000, false), packet(3000, true)];
  const list = Gst.BufferList.newSized(2);
  list.insert(-1, gstBuffer(unit[0]!));
  list.insert(-1, gstBuffer(unit[1]!));
  assert.equal(appsrc.pushBufferList(list), Gst.FlowReturn.OK);
  push(unit[2]!);
  assert.equal(nextPush(100), undefined, 'packets left before their unit was complete');
  push(unit[3]!);
  assert.deepEqual(nextPush(), { list: true, packets: unit });
});

void test('a unit whose marker packet was lost leaves when a packet of the next unit comes', () => {
  const orphans = [packet(4000, false), packet(4000, false)];
  const next = packet(5000, true);
  push(orphans[0]!);
  push(orphans[1]!);
  push(next);
  assert.deepEqual(nextPush(), { list: true, packets: orphans });
  assert.deepEqual(nextPush(), { list: false, packets: [next] });
});

void test('end of stream lets held packets out before it', () => {
  const held = packet(6000, false);
  push(held);
  assert.equal(appsrc.endOfStream(), Gst.FlowReturn.OK);
  assert.deepEqual(nextPush(), { list: false, packets: [held] });
  assert.equal(nextPush(1000), undefined);
  assert.ok(sink.isEos(), 'end of stream did not follow the held packets');
});

void test('pgvideopay, what pushgate names pay0: sink and src pads, and the payloader for its codec inside, named "pay" as gst-rtsp-server looks for it', () => {
  for (const [codec, factory] of [['h264', 'rtph264pay'], ['h265', 'rtph265pay']] as const) {
    const payloader = makeElement('pgvideopay', `pay-${codec}`, { codec });
    assert.ok(payloader.getStaticPad('sink') && payloader.getStaticPad('src'), `pgvideopay (${codec}) lacks its pads`);
    const inner = (payloader as unknown as InstanceType<typeof Gst.Bin>).getByName('pay');
    assert.equal(inner?.getFactory()?.getName(), factory);
  }
});
