// The native ingest (native/ingest, "pgingest") on a real TCP connection in this process: the
// access units it pushes into an appsrc are the ones ffmpeg's parser finds, timed one frame
// apart, whatever the chunking; from a publisher that writes one unit per chunk, each unit as
// soon as its chunk ends; bad bodies end with the state and message that say why.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { VideoCodec } from '../../src/core/media';
import { capsFromString, makeElement } from '../../src/gst/elements';
import { NativeIngest } from '../../src/gst/native-ingest';
import { Gst, GstApp } from '../../src/gst/runtime';
import type { NativeReadState, RawPushBody } from '../../src/core/media-engine';
import { accessUnitsIn } from '../e2e/helpers/media';
import { waitFor } from '../e2e/helpers/processes';
import { encode, probePackets } from '../unit/helpers/media';

type AppSink = InstanceType<typeof GstApp.AppSink>;

const sockets: net.Socket[] = [];
const servers: net.Server[] = [];
after(() => {
  for (const socket of sockets) socket.destroy();
  for (const server of servers) server.close();
});

/** A loopback connection whose accepting end Node never reads: its fd is the reader's. */
async function connection(): Promise<{ client: net.Socket; fd: number }> {
  const server = net.createServer({ pauseOnConnect: true });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const socket = await accepted;
  sockets.push(socket, client);
  const fd = (socket as unknown as { _handle: { fd: number } })._handle.fd;
  return { client, fd };
}

/** appsrc ! appsink, playing, the sink collecting whatever arrives. */
function sinkPipeline(codec: VideoCodec): { appsrc: InstanceType<typeof Gst.Element>; sink: AppSink; stop: () => void } {
  const pipeline = new Gst.Pipeline({ name: `ingest-test-${codec}-${Math.random().toString(36).slice(2)}` });
  const appsrc = makeElement('appsrc', 'src', {
    caps: capsFromString(`video/x-${codec},stream-format=byte-stream,alignment=au`),
    format: Gst.Format.TIME,
    isLive: true,
  });
  const sink = makeElement('appsink', 'sink', { sync: false, emitSignals: false }) as unknown as AppSink;
  pipeline.add(appsrc);
  pipeline.add(sink);
  assert.ok(appsrc.link(sink));
  pipeline.setState(Gst.State.PLAYING);
  return { appsrc, sink, stop: () => pipeline.setState(Gst.State.NULL) };
}

interface Received {
  readonly size: number;
  readonly pts: number;
  readonly delta: boolean;
}

function drain(sink: AppSink, into: Received[]): void {
  for (let sample = sink.tryPullSample(0); sample; sample = sink.tryPullSample(0)) {
    const buffer = sample.getBuffer();
    if (!buffer) continue;
    into.push({ size: Number(buffer.getSize()), pts: Number(buffer.pts), delta: (Number(buffer.getFlags()) & Gst.BufferFlags.DELTA_UNIT) !== 0 });
  }
}

async function untilDone(ingest: NativeIngest, sink: AppSink | undefined, received: Received[], timeoutMs = 15_000): Promise<NativeReadState> {
  const deadline = Date.now() + timeoutMs;
  let begun = false;
  while (Date.now() < deadline) {
    // Node's part, as runNativePush does it: let the stream begin once it has started.
    if (!begun && ingest.started) {
      ingest.begin(25);
      begun = true;
    }
    if (sink) drain(sink, received);
    if (ingest.state !== 'running') {
      await delay(50);
      if (sink) drain(sink, received);
      return ingest.state;
    }
    await delay(10);
  }
  throw new Error(`the ingest still runs after ${timeoutMs} ms (${ingest.frames} frames)`);
}

/** One chunk of chunked transfer coding. */
function chunk(data: Uint8Array, extension = ''): Buffer {
  return Buffer.concat([Buffer.from(`${data.length.toString(16)}${extension}\r\n`), data, Buffer.from('\r\n')]);
}

/** `data` in chunked transfer coding, cut at pseudo-random sizes, with an extension and a trailer. */
function chunked(data: Uint8Array, seed = 7): Buffer {
  const parts: Buffer[] = [];
  let state = seed;
  for (let at = 0; at < data.length; ) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const size = Math.min(data.length - at, 1 + (state % 9000));
    const extension = state % 5 === 0 ? ';name=value' : '';
    parts.push(chunk(data.subarray(at, at + size), extension));
    at += size;
  }
  parts.push(Buffer.from('0\r\nX-Trailer: yes\r\n\r\n'));
  return Buffer.concat(parts);
}

/** Writes `bytes` in pieces so that reads see every kind of split. */
async function send(client: net.Socket, bytes: Buffer, pieces = 13): Promise<void> {
  const step = Math.ceil(bytes.length / pieces);
  for (let at = 0; at < bytes.length; at += step) {
    client.write(bytes.subarray(at, at + step));
    await delay(5);
  }
}

void test('a chunked H.264 body is cut into the access units ffmpeg finds, one frame period apart, keyframes marked by position', async () => {
  const stream = encode({ codec: 'h264', frames: 40, gop: 10, rate: '25' });
  const packets = probePackets('h264', stream);
  const { client, fd } = await connection();
  const { appsrc, sink, stop } = sinkPipeline('h264');
  const body = chunked(stream);
  // The first bytes arrive with the head, as Node's parser hands them over.
  const rawBody: RawPushBody = { fd, head: body.subarray(0, 100), contentLength: undefined, unitWriter: false };
  const ingest = NativeIngest.open('h264', rawBody, 10_000);
  ingest.setTarget(appsrc, true);
  const received: Received[] = [];
  try {
    void send(client, body.subarray(100));
    assert.equal(await untilDone(ingest, sink, received), 'ended');
    assert.deepEqual(received.map((r) => r.size), packets.map((p) => p.size), 'the same access units as ffprobe');
    assert.equal(ingest.frames, packets.length);
    assert.equal(ingest.framesOut, packets.length);
    assert.equal(ingest.bytes, stream.length, 'body bytes, chunk framing excluded');
    const steps = received.slice(1).map((r, i) => r.pts - (received[i] as Received).pts);
    // One frame period each; the frame clock nudges a unit near its time by at most 5 % of a period.
    assert.ok(steps.every((step) => Math.abs(step - 40_000_000) <= 2_000_000), `timestamps step by 40 ms: ${steps.join(', ')}`);
    assert.ok(steps.slice(2).every((step) => step === 40_000_000), 'exactly, once the body arrives faster than real time');
  } finally {
    ingest.stop();
    stop();
  }
});

void test('a Content-Length H.265 body: a fresh appsrc gets the parameter sets before the first keyframe, then every unit', async () => {
  const stream = encode({ codec: 'h265', frames: 20, gop: 10, rate: '25' });
  const packets = probePackets('h265', stream);
  const { client, fd } = await connection();
  const { appsrc, sink, stop } = sinkPipeline('h265');
  const ingest = NativeIngest.open('h265', { fd, head: new Uint8Array(0), contentLength: stream.length, unitWriter: false }, 10_000);
  ingest.setTarget(appsrc, false);
  const received: Received[] = [];
  try {
    void send(client, stream);
    assert.equal(await untilDone(ingest, sink, received), 'ended');
    assert.equal(received.length, packets.length);
    const parameterSets = ingest.parameterSets.length;
    assert.ok(parameterSets > 20, 'VPS, SPS and PPS kept');
    // (ffmpeg's HEVC parser gives the zero_byte of a 4-byte start code to the previous packet,
    // so sizes differ by one at such boundaries: compare the totals.)
    const total = received.reduce((sum, r) => sum + r.size, 0);
    assert.equal(total, stream.length + parameterSets, 'every byte once, and the parameter sets once more, before the first unit');
  } finally {
    ingest.stop();
    stop();
  }
});

void test('units before the first keyframe are dropped; a body sent at once is released in real time', async () => {
  const stream = encode({ codec: 'h264', frames: 50, gop: 25, rate: '25' });
  const packets = probePackets('h264', stream);
  // Start mid-GOP: cut at the 5th access unit.
  const skip = packets.slice(0, 5).reduce((sum, p) => sum + p.size, 0);
  const { client, fd } = await connection();
  const { appsrc, sink, stop } = sinkPipeline('h264');
  const ingest = NativeIngest.open('h264', { fd, head: new Uint8Array(0), contentLength: stream.length - skip, unitWriter: false }, 10_000);
  ingest.setTarget(appsrc, true);
  const received: Received[] = [];
  const startedAt = Date.now();
  try {
    client.write(stream.subarray(skip));
    assert.equal(await untilDone(ingest, sink, received), 'ended');
    const elapsed = Date.now() - startedAt;
    assert.equal(received.length, 25, 'the 20 units before the next keyframe are dropped (no SPS yet, no keyframe)');
    assert.ok(elapsed >= 800, `25 units at 25 fps take about a second, not ${elapsed} ms`);
  } finally {
    ingest.stop();
    stop();
  }
});

void test('bad bodies end the read with the reason: malformed chunks, no start code, forbidden bit', async () => {
  const cases: { bytes: Buffer; state: NativeReadState; message: RegExp }[] = [
    { bytes: Buffer.from('zz\r\nhello\r\n'), state: 'bad-body', message: /chunk size/ },
    { bytes: Buffer.from('5\r\nhelloXX'), state: 'bad-body', message: /CRLF expected after chunk data/ },
    { bytes: Buffer.concat([Buffer.from('10000\r\n'), Buffer.alloc(0x10000, 0x55), Buffer.from('\r\n10000\r\n'), Buffer.alloc(0x10000, 0x55)]), state: 'invalid', message: /no H\.264 start code in the first 65536 bytes/ },
    { bytes: Buffer.from('5\r\n\x00\x00\x01\xe5\x00\r\n', 'latin1'), state: 'invalid', message: /forbidden_zero_bit/ },
  ];
  for (const { bytes, state, message } of cases) {
    const { client, fd } = await connection();
    const ingest = NativeIngest.open('h264', { fd, head: new Uint8Array(0), contentLength: undefined, unitWriter: false }, 10_000);
    try {
      client.write(bytes);
      // The forbidden bit is only judged once the NAL's end is known: end the body.
      if (state === 'invalid' && bytes.length < 100) client.write('0\r\n\r\n');
      assert.equal(await untilDone(ingest, undefined, []), state, `for ${JSON.stringify(bytes.subarray(0, 12).toString('latin1'))}`);
      assert.match(ingest.error, message);
    } finally {
      ingest.stop();
    }
  }
});

void test('a publisher that closes mid-body is aborted; one that goes silent is idle; stop() ends a read at once', async () => {
  const stream = encode({ codec: 'h264', frames: 20, gop: 10, rate: '25' });
  {
    const { client, fd } = await connection();
    const ingest = NativeIngest.open('h264', { fd, head: new Uint8Array(0), contentLength: stream.length, unitWriter: false }, 10_000);
    client.end(stream.subarray(0, 5000));
    assert.equal(await untilDone(ingest, undefined, []), 'aborted');
    ingest.stop();
  }
  {
    const { client, fd } = await connection();
    const ingest = NativeIngest.open('h264', { fd, head: new Uint8Array(0), contentLength: stream.length, unitWriter: false }, 300);
    const startedAt = Date.now();
    client.write(stream.subarray(0, 5000));
    assert.equal(await untilDone(ingest, undefined, []), 'idle');
    const elapsed = Date.now() - startedAt;
    assert.ok(elapsed >= 280 && elapsed < 2000, `idle after about 300 ms, not ${elapsed}`);
    ingest.stop();
  }
  {
    const { fd } = await connection();
    const ingest = NativeIngest.open('h264', { fd, head: new Uint8Array(0), contentLength: undefined, unitWriter: false }, 10_000);
    const startedAt = Date.now();
    ingest.stop();
    assert.equal(ingest.state, 'stopped');
    assert.ok(Date.now() - startedAt < 500);
  }
});

/** `unit` as HTTP chunks the way a buffered writer sends it: pieces of `split` bytes, then the rest. */
function unitAsChunks(unit: Uint8Array, split: number): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < unit.length; at += split) parts.push(chunk(unit.subarray(at, at + split)));
  return Buffer.concat(parts);
}

for (const unitWriter of [true, false]) {
  void test(`one unit per chunk (${unitWriter ? 'a known unit writer' : 'any publisher'}, big units split at 4 kB): after 60 units, each leaves at its chunk's end, whole, without the next one's bytes`, async () => {
    const stream = encode({ codec: 'h264', frames: 90, gop: 30, rate: '25' });
    const units = accessUnitsIn(stream, 'h264');
    assert.ok(units.some((unit) => unit.length > 4096), 'some units are split');
    const { client, fd } = await connection();
    const { appsrc, sink, stop } = sinkPipeline('h264');
    const ingest = NativeIngest.open('h264', { fd, head: new Uint8Array(0), contentLength: undefined, unitWriter }, 10_000);
    ingest.setTarget(appsrc, true);
    const received: Received[] = [];
    try {
      let begun = false;
      for (let k = 0; k < units.length; k++) {
        client.write(unitAsChunks(units[k]!, 4096));
        await delay(1);
        // Node's part, as runNativePush does it: the stream begins once the ingest has started.
        if (!begun && ingest.started) {
          ingest.begin(25);
          begun = true;
        }
        if (k >= 70) {
          // Nothing more is written until the unit is out.
          await waitFor(() => (drain(sink, received), received.length === k + 1), 1000, `unit ${k} to leave at its chunk's end`, 2);
        }
        await delay(40);
        drain(sink, received);
      }
      client.end('0\r\n\r\n');
      assert.equal(await untilDone(ingest, sink, received), 'ended');
      assert.deepEqual(received.map((r) => r.size), units.map((u) => u.length), 'every unit whole');
    } finally {
      ingest.stop();
      stop();
    }
  });
}
