// The Node side of a natively read push, driven with a scripted reader: when the stream goes
// live, when the reader begins feeding its output and stops, and how each way a read ends
// answers the publisher.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../src/core/logger';
import type { MediaEngine, NativeReadState, NativeReader, StreamOutput } from '../../src/core/media-engine';
import { PushgateError } from '../../src/core/errors';
import { StreamRegistry } from '../../src/core/stream-registry';
import { runNativePush, trackFromParameterSets } from '../../src/ingest/native-push';
import { PushFailure } from '../../src/ingest/push-session';
import { FakeClock } from './helpers/fake-clock';
import { encode, findNal, joinNals } from './helpers/media';

class ScriptedReader implements NativeReader {
  state: NativeReadState = 'running';
  error = '';
  started = false;
  parameterSets: Uint8Array = new Uint8Array(0);
  spsSerial = 0;
  bytes = 0;
  frames = 0;
  framesOut = 0;
  begunAt: number | undefined | 'not yet' = 'not yet';
  /** Called at begin() and at the first stop(): what the test wants to know at that moment. */
  onBegin: (() => void) | undefined;
  onStop: (() => void) | undefined;
  frameRates: number[] = [];
  stopped = 0;
  #listener: (() => void) | undefined;
  begin(frameRate: number | undefined): void {
    this.begunAt = frameRate;
    this.onBegin?.();
  }
  setFrameRate(frameRate: number): void {
    this.frameRates.push(frameRate);
  }
  onChange(listener: () => void): void {
    this.#listener = listener;
  }
  stop(): void {
    if (this.stopped === 0) this.onStop?.();
    this.stopped++;
    if (this.state === 'running') this.state = 'stopped';
  }
  change(update: Partial<Pick<ScriptedReader, 'state' | 'error' | 'started' | 'parameterSets' | 'spsSerial' | 'bytes' | 'frames' | 'framesOut'>>): void {
    Object.assign(this, update);
    this.#listener?.();
  }
}

class FakeOutput implements StreamOutput {
  readerCount = 0;
  closed: string | undefined;
  write(): void {}
  setMounted(): void {}
  close(reason: string): void {
    this.closed = reason;
  }
}

function setup(): { registry: StreamRegistry; outputs: FakeOutput[]; opened: string[]; reader: ScriptedReader; push: (signal?: AbortSignal) => Promise<unknown> } {
  const outputs: FakeOutput[] = [];
  const engine: MediaEngine = {
    createOutput: () => {
      const output = new FakeOutput();
      outputs.push(output);
      return output;
    },
    nativeIngest: undefined,
    readers: undefined,
  };
  const opened: string[] = [];
  const clock = new FakeClock();
  const registry = new StreamRegistry({ engine, clock, logger: silentLogger, graceMs: 1000 });
  const reader = new ScriptedReader();
  const push = (signal?: AbortSignal): Promise<unknown> =>
    runNativePush(
      { name: 'cam', codec: 'h264', remoteAddress: '10.0.0.1', body: { fd: 99, head: new Uint8Array(0), contentLength: undefined, unitWriter: false }, ...(signal && { signal }) },
      {
        registry,
        clock,
        logger: silentLogger,
        idleTimeoutMs: 5000,
        nativeIngest: {
          open: (name) => {
            opened.push(name);
            return reader;
          },
        },
      },
    );
  return { registry, outputs, opened, reader, push };
}

const stream = encode({ codec: 'h264', width: 320, height: 240, rate: '25', frames: 5 });
const parameterSets = joinNals([findNal('h264', stream, 7), findNal('h264', stream, 8)]);

void test('the SPS among the parameter sets describes the track; none is INVALID_MEDIA', () => {
  const track = trackFromParameterSets('h264', parameterSets);
  assert.deepEqual([track.width, track.height, track.frameRate], [320, 240, 25]);
  assert.throws(() => trackFromParameterSets('h264', joinNals([findNal('h264', stream, 8)])), (err: unknown) => err instanceof PushgateError && err.code === 'INVALID_MEDIA');
});

void test('the stream goes live at the first keyframe, the reader begins feeding its output then and stops before the push ends, and a good end answers with the summary', async () => {
  const { registry, outputs, opened, reader, push } = setup();
  const seen: string[] = [];
  reader.onBegin = () => seen.push(`begin: ${registry.get('cam')?.state} with ${outputs.length} output`);
  reader.onStop = () => seen.push(`stop: ${registry.get('cam')?.state}`);
  const result = push();
  assert.deepEqual(opened, ['cam'], 'the engine opens the reader for the stream it feeds');
  assert.equal(registry.get('cam')?.state, 'starting');
  assert.equal(registry.get('cam')?.publisher?.ingest, 'native');
  reader.change({ started: true, parameterSets, spsSerial: 1, bytes: 5000, frames: 1, framesOut: 0 });
  assert.equal(registry.get('cam')?.state, 'live');
  assert.equal(reader.begunAt, 25, 'timing begins at the SPS frame rate');
  assert.deepEqual(seen, ['begin: live with 1 output'], 'the reader begins once the stream\'s output exists');
  reader.framesOut = 12;
  reader.bytes = 6000;
  assert.equal(registry.get('cam')?.framesIn, 12, 'the API reads the reader\'s counters when it describes the stream');
  assert.equal(registry.get('cam')?.bytesIn, 6000);
  reader.change({ spsSerial: 2 });
  assert.deepEqual(reader.frameRates, [25], 'a new SPS updates the frame rate');
  reader.change({ state: 'ended', bytes: 9000, frames: 30, framesOut: 30 });
  assert.deepEqual(await result, { stream: 'cam', bytes: 9000, durationMs: 0, frames: 30 });
  assert.deepEqual(seen, ['begin: live with 1 output', 'stop: live'], 'the reader stops feeding before the publication ends');
  assert.equal(outputs[0]?.closed, undefined, 'the output outlives the push');
  assert.equal(registry.get('cam')?.state, 'grace');
  assert.equal(registry.get('cam')?.framesIn, 30);
  assert.ok(reader.stopped >= 1);
});

for (const [state, code, error] of [
  ['invalid', 'INVALID_MEDIA', 'H.264 NAL unit at byte 4 has forbidden_zero_bit set'],
  ['bad-body', 'BAD_REQUEST', 'malformed chunked request body: chunk size expected'],
  ['idle', 'PUBLISHER_IDLE', ''],
  ['aborted', 'PUSH_ABORTED', 'the publisher closed the connection'],
] as const) {
  void test(`a read that ends ${state} fails the push with ${code}`, async () => {
    const { registry, reader, push } = setup();
    const result = push();
    reader.change({ started: true, parameterSets, spsSerial: 1, bytes: 100 });
    reader.change({ state, error });
    await assert.rejects(result, (err: unknown) => err instanceof PushFailure && err.code === code && err.summary.bytes === 100 && (error === '' || err.message.includes(error) || code === 'PUSH_ABORTED'));
    // A dropped publisher may come back; bad input may not.
    assert.equal(registry.get('cam')?.state, code === 'PUSH_ABORTED' ? 'grace' : undefined);
  });
}

void test('a body that ends before any keyframe is INVALID_MEDIA; an unparsable SPS stops the reader', async () => {
  {
    const { registry, reader, push } = setup();
    const result = push();
    reader.change({ state: 'ended', bytes: 777 });
    await assert.rejects(result, (err: unknown) => err instanceof PushFailure && err.code === 'INVALID_MEDIA' && /after 777 bytes without a decodable keyframe/.test(err.message));
    assert.equal(registry.get('cam'), undefined);
  }
  {
    const { reader, push } = setup();
    const result = push();
    reader.change({ started: true, parameterSets: Uint8Array.of(0, 0, 0, 1, 0x67, 0xff), spsSerial: 1 });
    await assert.rejects(result, (err: unknown) => err instanceof PushFailure && err.code === 'INVALID_MEDIA');
    assert.ok(reader.stopped >= 1);
  }
});

void test('an aborted push (shutdown) stops the reader and fails with the signal\'s reason', async () => {
  const { reader, push } = setup();
  const abort = new AbortController();
  const result = push(abort.signal);
  reader.change({ started: true, parameterSets, spsSerial: 1 });
  abort.abort(new PushgateError('SHUTTING_DOWN', 'the gateway is shutting down'));
  await assert.rejects(result, (err: unknown) => err instanceof PushFailure && err.code === 'SHUTTING_DOWN');
  assert.equal(reader.state, 'stopped');
});
