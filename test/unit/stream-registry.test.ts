import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MS } from '../../src/core/clock';
import { PushgateError } from '../../src/core/errors';
import { silentLogger } from '../../src/core/logger';
import type { MediaEngine, StreamOutput } from '../../src/core/media-engine';
import type { StreamTracks, TimedUnit } from '../../src/core/media';
import { GatewayEvents } from '../../src/core/gateway-events';
import { StreamRegistry } from '../../src/core/stream-registry';
import { FakeClock } from './helpers/fake-clock';

class FakeOutput implements StreamOutput {
  readerCount = 0;
  mounted = true;
  closedWith: string | undefined;
  units: TimedUnit[] = [];
  write(unit: TimedUnit): void {
    this.units.push(unit);
  }
  setMounted(mounted: boolean): void {
    this.mounted = mounted;
  }
  close(reason: string): void {
    this.closedWith ??= reason;
    this.mounted = false;
  }
}

class FakeEngine implements MediaEngine {
  readonly nativeIngest = undefined;
  readonly readers = undefined;
  outputs: FakeOutput[] = [];
  createOutput(): StreamOutput {
    const output = new FakeOutput();
    this.outputs.push(output);
    return output;
  }
}

const HD: StreamTracks = { video: { kind: 'video', codec: 'h264', width: 1280, height: 720, frameRate: 30 } };
const SD: StreamTracks = { video: { kind: 'video', codec: 'h264', width: 640, height: 360, frameRate: 30 } };
const publisher = { remoteAddress: '10.0.0.1', format: 'h264' as const, ingest: 'node' as const };
const frame: TimedUnit = { kind: 'video', data: new Uint8Array(10), keyframe: true, pts: 0, dts: 0, duration: 33 * MS };

function setup(graceMs = 5000): { registry: StreamRegistry; engine: FakeEngine } {
  const engine = new FakeEngine();
  const registry = new StreamRegistry({ engine, clock: new FakeClock(), logger: silentLogger, graceMs });
  return { registry, engine };
}

void test('a stream goes live when its tracks are known and shows in the list', () => {
  const { registry, engine } = setup();
  const publication = registry.publish('cam1', publisher);
  assert.equal(registry.get('cam1')?.state, 'starting');
  assert.equal(engine.outputs.length, 0, 'no RTSP mount before the tracks are known');
  publication.start(HD);
  publication.write(frame);
  const described = registry.get('cam1');
  assert.equal(described?.state, 'live');
  assert.equal(described?.video?.width, 1280);
  assert.equal(described?.framesIn, 1);
  assert.equal(described?.publisher?.remoteAddress, '10.0.0.1');
  assert.deepEqual(engine.outputs[0]?.units, [frame]);
  assert.deepEqual(registry.list().map((s) => s.name), ['cam1']);
});

void test('a second publisher to a live name gets STREAM_BUSY and the first keeps its stream', () => {
  const { registry, engine } = setup();
  const first = registry.publish('cam1', publisher);
  first.start(HD);
  assert.throws(
    () => registry.publish('cam1', publisher),
    (err: unknown) => err instanceof PushgateError && err.code === 'STREAM_BUSY' && err.status === 409,
  );
  first.write(frame);
  assert.equal(engine.outputs[0]?.units.length, 1);
  assert.equal(engine.outputs[0]?.closedWith, undefined);
});

void test('a publisher that comes back within the grace period with the same tracks keeps its readers', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { registry, engine } = setup(5000);
  const first = registry.publish('cam1', publisher);
  first.start(HD);
  first.end({ kind: 'ended' });
  assert.equal(engine.outputs[0]?.mounted, false, 'new readers get 404 while the publisher is away');
  t.mock.timers.tick(4000);
  const second = registry.publish('cam1', publisher);
  second.start(HD);
  assert.equal(engine.outputs.length, 1, 'the same output goes on');
  assert.equal(engine.outputs[0]?.mounted, true);
  t.mock.timers.tick(10_000);
  assert.equal(engine.outputs[0]?.closedWith, undefined, 'the grace timer was cancelled');
});

void test('after the grace period readers are ended and the name is free', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { registry, engine } = setup(5000);
  registry.publish('cam1', publisher).start(HD);
  const [output] = engine.outputs;
  const publication = registry.publish('cam3', publisher);
  publication.start(HD);
  publication.end({ kind: 'ended' });
  t.mock.timers.tick(5000);
  assert.match(engine.outputs[1]?.closedWith ?? '', /no publisher came back within 5000 ms/);
  assert.equal(registry.get('cam3'), undefined);
  assert.equal(output?.closedWith, undefined, 'other streams are untouched');
  registry.publish('cam3', publisher).start(HD);
  assert.equal(engine.outputs.length, 3, 'published anew');
});

void test('a publisher that comes back with different tracks ends the old readers and starts a new output', () => {
  const { registry, engine } = setup();
  const first = registry.publish('cam1', publisher);
  first.start(HD);
  first.end({ kind: 'ended' });
  registry.publish('cam1', publisher).start(SD);
  assert.match(engine.outputs[0]?.closedWith ?? '', /changed codec or resolution/);
  assert.equal(engine.outputs.length, 2);
  assert.equal(registry.get('cam1')?.video?.width, 640);
});

void test('a failed push ends its readers at once, without a grace period', () => {
  const { registry, engine } = setup();
  const publication = registry.publish('cam1', publisher);
  publication.start(HD);
  publication.end({ kind: 'failed', reason: 'garbage' });
  assert.equal(engine.outputs[0]?.closedWith, 'garbage');
  assert.equal(registry.get('cam1'), undefined);
});

void test('a publisher that leaves before going live frees the name at once', () => {
  const { registry } = setup();
  registry.publish('cam1', publisher).end({ kind: 'ended' });
  assert.equal(registry.get('cam1'), undefined);
  registry.publish('cam1', publisher);
});

void test('ending a publication twice only counts once', () => {
  const { registry, engine } = setup();
  const publication = registry.publish('cam1', publisher);
  publication.start(HD);
  publication.end({ kind: 'failed', reason: 'first' });
  publication.end({ kind: 'failed', reason: 'second' });
  assert.equal(engine.outputs[0]?.closedWith, 'first');
});

void test('after closeAll every reader is ended and new publishers are refused', () => {
  const { registry, engine } = setup();
  registry.publish('a', publisher).start(HD);
  registry.publish('b', publisher).start(SD);
  registry.closeAll('shutting down');
  assert.deepEqual(engine.outputs.map((o) => o.closedWith), ['shutting down', 'shutting down']);
  assert.throws(() => registry.publish('c', publisher), (err: unknown) => err instanceof PushgateError && err.code === 'SHUTTING_DOWN');
});

void test('a new name beyond maxStreams gets STREAM_LIMIT, while a publisher coming back in its grace period is let in', () => {
  const engine = new FakeEngine();
  const registry = new StreamRegistry({ engine, clock: new FakeClock(), logger: silentLogger, graceMs: 5000, maxStreams: 2 });
  const one = registry.publish('one', publisher);
  one.start(HD);
  registry.publish('two', publisher);
  assert.throws(() => registry.publish('three', publisher), (err: unknown) => err instanceof PushgateError && err.code === 'STREAM_LIMIT' && err.status === 503);
  one.end({ kind: 'ended' });
  const back = registry.publish('one', publisher);
  back.end({ kind: 'failed', reason: 'test' });
  registry.publish('three', publisher);
  registry.closeAll('test over');
});

void test('publish and unpublish events: one of each per push, with the reason, the error code, bytes and duration', () => {
  const engine = new FakeEngine();
  const clock = new FakeClock();
  const events = new GatewayEvents(silentLogger);
  const seen: unknown[] = [];
  events.on('publish', (event) => seen.push(['publish', event]));
  events.on('unpublish', (event) => seen.push(['unpublish', event]));
  events.on('publish', () => {
    throw new Error('a broken listener');
  });
  const registry = new StreamRegistry({ engine, clock, logger: silentLogger, graceMs: 5000, events });
  const first = registry.publish('cam', publisher);
  first.start(HD);
  first.countBytes(1000);
  clock.advance(2000 * MS);
  first.end({ kind: 'ended', code: 'PUSH_ABORTED' });
  first.end({ kind: 'ended' });
  const second = registry.publish('cam', publisher);
  second.countBytes(10);
  second.end({ kind: 'failed', reason: 'bad bytes', code: 'INVALID_MEDIA' });
  assert.deepEqual(seen, [
    ['publish', { stream: 'cam', remoteAddress: '10.0.0.1', format: 'h264', resumed: false }],
    ['unpublish', { stream: 'cam', remoteAddress: '10.0.0.1', reason: 'publisher dropped', code: 'PUSH_ABORTED', bytesIn: 1000, durationMs: 2000 }],
    ['publish', { stream: 'cam', remoteAddress: '10.0.0.1', format: 'h264', resumed: true }],
    ['unpublish', { stream: 'cam', remoteAddress: '10.0.0.1', reason: 'bad bytes', code: 'INVALID_MEDIA', bytesIn: 10, durationMs: 0 }],
  ]);
});

void test('a kicked publisher: its push is told with PUBLISHER_KICKED, readers get end of stream at once (no grace period), and the name is free', () => {
  const engine = new FakeEngine();
  const events = new GatewayEvents(silentLogger);
  const unpublished: { code: string | null; reason: string }[] = [];
  events.on('unpublish', (event) => unpublished.push({ code: event.code, reason: event.reason }));
  const registry = new StreamRegistry({ engine, clock: new FakeClock(), logger: silentLogger, graceMs: 60_000, events });
  const publication = registry.publish('site1/cam', publisher);
  publication.start(HD);
  assert.equal(publication.kicked.aborted, false);

  const kicked = registry.kickPublisher('site1/cam', 'operator says so');
  assert.equal(kicked.remoteAddress, '10.0.0.1');
  assert.equal(publication.kicked.aborted, true, 'the push is told');
  const reason: unknown = publication.kicked.reason;
  assert.ok(reason instanceof PushgateError && reason.code === 'PUBLISHER_KICKED' && reason.status === 409);
  assert.match(engine.outputs[0]?.closedWith ?? '', /kicked/, 'readers get end of stream now');
  assert.equal(registry.get('site1/cam'), undefined, 'no grace period: the stream is gone');
  assert.deepEqual(unpublished, [{ code: 'PUBLISHER_KICKED', reason: 'publisher kicked: operator says so' }]);

  // The push then ends as it notices: nothing more happens, and the name can be pushed again.
  publication.end({ kind: 'failed', reason: 'the push was ended by an operator', code: 'PUBLISHER_KICKED' });
  publication.write(frame);
  assert.equal(engine.outputs[0]?.units.length, 0);
  assert.equal(unpublished.length, 1);
  registry.publish('site1/cam', publisher).start(HD);
  assert.equal(engine.outputs.length, 2);
});

void test('kicking a name nobody pushes (unknown, or waiting in its grace period) is PUBLISHER_NOT_FOUND', () => {
  const { registry } = setup();
  assert.throws(() => registry.kickPublisher('nobody', 'x'), (err: unknown) => err instanceof PushgateError && err.code === 'PUBLISHER_NOT_FOUND' && err.status === 404);
  const publication = registry.publish('cam', publisher);
  publication.start(HD);
  publication.end({ kind: 'ended' });
  assert.equal(registry.get('cam')?.state, 'grace');
  assert.throws(() => registry.kickPublisher('cam', 'x'), (err: unknown) => err instanceof PushgateError && err.code === 'PUBLISHER_NOT_FOUND');
  registry.closeAll('test over');
});
