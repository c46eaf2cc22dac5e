import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GatewayEvents } from '../../src/core/gateway-events';
import { silentLogger } from '../../src/core/logger';
import type { StreamDescription } from '../../src/core/stream';
import { EventCounts } from '../../src/observability/event-counts';
import { GatewayMetrics, type FastStartSample, type MetricsSources, type ReaderSample, type WebhookSample } from '../../src/observability/metrics';
import { Scrape } from './helpers/prometheus';

function stream(name: string, state: StreamDescription['state'], extra: Partial<StreamDescription> = {}): StreamDescription {
  return {
    name,
    state,
    format: 'h264',
    video: null,
    audio: null,
    bitrateKbps: 0,
    bytesIn: 0,
    framesIn: 0,
    readers: 0,
    publisher: state === 'grace' ? null : { remoteAddress: '127.0.0.1', ingest: 'node' },
    liveSince: null,
    ...extra,
  };
}

/** Sources the test changes between scrapes. */
function fakeSources(): { sources: MetricsSources; set: Mutable; events: GatewayEvents } {
  const events = new GatewayEvents(silentLogger);
  const counts = new EventCounts(events);
  const set: Mutable = { streams: [], readers: undefined, fastStart: undefined, webhooks: undefined };
  return {
    events,
    set,
    sources: {
      streams: () => set.streams,
      events: () => counts.totals(),
      rtsp: () => ({ requests: { DESCRIBE: 2, SETUP: 2, PLAY: 1, other: 1 }, responses: { '200': 5, '404': 1 } }),
      fastStart: () => set.fastStart,
      readers: () => set.readers,
      webhooks: () => set.webhooks,
    },
  };
}

interface Mutable {
  streams: StreamDescription[];
  readers: ReaderSample[] | undefined;
  fastStart: FastStartSample | undefined;
  webhooks: WebhookSample | undefined;
}

async function scrape(metrics: GatewayMetrics): Promise<Scrape> {
  return new Scrape(await metrics.render());
}

test('streams are counted by state and publishers by ingest, every state and ingest present even at 0', async () => {
  const { sources, set } = fakeSources();
  const metrics = new GatewayMetrics(sources, { processMetrics: false });
  let s = await scrape(metrics);
  assert.deepEqual(
    ['live', 'starting', 'grace'].map((state) => s.samples('pushgate_streams', { state }).length),
    [1, 1, 1],
  );
  assert.equal(s.value('pushgate_streams'), 0);
  assert.equal(s.value('pushgate_publishers', { ingest: 'native' }), 0);

  set.streams = [
    stream('a', 'live', { publisher: { remoteAddress: '10.0.0.1', ingest: 'native' } }),
    stream('b', 'live'),
    stream('c', 'starting'),
    stream('d', 'grace'),
  ];
  s = await scrape(metrics);
  assert.equal(s.type('pushgate_streams'), 'GAUGE');
  assert.equal(s.value('pushgate_streams', { state: 'live' }), 2);
  assert.equal(s.value('pushgate_streams', { state: 'starting' }), 1);
  assert.equal(s.value('pushgate_streams', { state: 'grace' }), 1);
  assert.equal(s.value('pushgate_publishers', { ingest: 'native' }), 1);
  assert.equal(s.value('pushgate_publishers', { ingest: 'node' }), 2);
});

test('bytes and frames in are counters per stream that follow the source, and a stream that went has no series', async () => {
  const { sources, set } = fakeSources();
  const metrics = new GatewayMetrics(sources, { processMetrics: false });
  set.streams = [stream('a', 'live', { bytesIn: 1000, framesIn: 30 }), stream('b', 'live', { bytesIn: 5 })];
  let s = await scrape(metrics);
  assert.equal(s.type('pushgate_stream_received_bytes_total'), 'COUNTER');
  assert.equal(s.value('pushgate_stream_received_bytes_total', { stream: 'a' }), 1000);
  assert.equal(s.value('pushgate_stream_received_frames_total', { stream: 'a' }), 30);
  set.streams = [stream('a', 'live', { bytesIn: 4000, framesIn: 90 })];
  s = await scrape(metrics);
  assert.equal(s.value('pushgate_stream_received_bytes_total', { stream: 'a' }), 4000);
  assert.equal(s.value('pushgate_stream_received_frames_total', { stream: 'a' }), 90);
  assert.equal(s.samples('pushgate_stream_received_bytes_total', { stream: 'b' }).length, 0);
});

test('readers come from the reader list by transport and protocol, with bytes sent per stream; without a list, from each stream', async () => {
  const { sources, set, events } = fakeSources();
  const metrics = new GatewayMetrics(sources, { processMetrics: false });
  set.streams = [stream('a', 'live', { readers: 3 }), stream('b', 'live', { readers: 0 })];
  let s = await scrape(metrics);
  assert.equal(s.value('pushgate_readers', { stream: 'a', transport: 'unknown', protocol: 'unknown' }), 3);
  assert.equal(s.value('pushgate_readers', { stream: 'b' }), 0);
  assert.equal(s.samples('pushgate_stream_sent_bytes_total').length, 0);

  set.readers = [
    { stream: 'a', transport: 'tcp', tls: false, bytesSent: 100 },
    { stream: 'a', transport: 'tcp', tls: false, bytesSent: 200 },
    { stream: 'a', transport: 'udp', tls: false, bytesSent: 50 },
    { stream: 'a', transport: 'tcp', tls: true, bytesSent: 7 },
  ];
  s = await scrape(metrics);
  assert.equal(s.value('pushgate_readers', { stream: 'a', transport: 'tcp', protocol: 'rtsp' }), 2);
  assert.equal(s.value('pushgate_readers', { stream: 'a', transport: 'udp', protocol: 'rtsp' }), 1);
  assert.equal(s.value('pushgate_readers', { stream: 'a', transport: 'tcp', protocol: 'rtsps' }), 1);
  assert.equal(s.samples('pushgate_readers', { transport: 'unknown' }).length, 0);
  assert.equal(s.value('pushgate_stream_sent_bytes_total', { stream: 'a' }), 357);

  // A reader that leaves takes its bytes out of the list, not out of the counter.
  set.readers = set.readers.slice(1);
  events.emit('readerLeave', { reader: { id: 'r1', stream: 'a', remoteAddress: '127.0.0.1', transport: 'tcp', tls: false, since: '' }, bytesSent: 120 });
  s = await scrape(metrics);
  assert.equal(s.value('pushgate_stream_sent_bytes_total', { stream: 'a' }), 377);
});

test('pushes ended by code and refusals by protocol, action and result come from the events', async () => {
  const { sources, events } = fakeSources();
  const metrics = new GatewayMetrics(sources, { processMetrics: false });
  const ended = { stream: 'a', remoteAddress: '127.0.0.1', reason: 'x', bytesIn: 0, durationMs: 0 };
  events.emit('unpublish', { ...ended, code: null });
  events.emit('unpublish', { ...ended, code: 'INVALID_MEDIA' });
  events.emit('unpublish', { ...ended, code: 'INVALID_MEDIA' });
  const refusal = { stream: 'a', remoteAddress: '127.0.0.1', reason: 'x' };
  events.emit('authRefused', { ...refusal, protocol: 'http', action: 'api', result: 'unauthorized' });
  events.emit('authRefused', { ...refusal, protocol: 'rtsp', action: 'read', result: 'unauthorized' });
  events.emit('authRefused', { ...refusal, protocol: 'rtsp', action: 'read', result: 'forbidden' });
  events.emit('authRefused', { ...refusal, protocol: 'rtsp', action: 'read', result: 'forbidden' });
  const s = await scrape(metrics);
  assert.equal(s.value('pushgate_pushes_ended_total', { code: 'none' }), 1);
  assert.equal(s.value('pushgate_pushes_ended_total', { code: 'INVALID_MEDIA' }), 2);
  assert.equal(s.value('pushgate_auth_refusals_total', { protocol: 'http', action: 'api', result: 'unauthorized' }), 1);
  assert.equal(s.value('pushgate_auth_refusals_total', { protocol: 'rtsp', result: 'forbidden' }), 2);
  assert.equal(s.value('pushgate_auth_refusals_total', { protocol: 'rtsp' }), 3);
});

test('RTSP requests by method and answers by status', async () => {
  const { sources } = fakeSources();
  const s = await scrape(new GatewayMetrics(sources, { processMetrics: false }));
  assert.equal(s.value('pushgate_rtsp_requests_total', { method: 'DESCRIBE' }), 2);
  assert.equal(s.value('pushgate_rtsp_requests_total', { method: 'other' }), 1);
  assert.equal(s.value('pushgate_rtsp_responses_total', { status: '200' }), 5);
  assert.equal(s.value('pushgate_rtsp_responses_total', { status: '404' }), 1);
});

test('fast start: joins, fallbacks, and the prime times as a cumulative histogram', async () => {
  const { sources, set } = fakeSources();
  const metrics = new GatewayMetrics(sources, { processMetrics: false });
  let s = await scrape(metrics);
  assert.equal(s.histogram('pushgate_fast_start_prime_duration_seconds'), undefined);
  assert.equal(s.samples('pushgate_fast_start_joins_total').length, 0);

  set.fastStart = {
    primedJoins: 6,
    liveJoins: 2,
    fallbacks: 1,
    completedPrimes: 5,
    activePrimes: 0,
    logBytes: 123456,
    primeTimes: { boundsSeconds: [0.001, 0.01], counts: [1, 2, 3], sumSeconds: 0.5 },
  };
  s = await scrape(metrics);
  assert.equal(s.value('pushgate_fast_start_joins_total', { join: 'primed' }), 6);
  assert.equal(s.value('pushgate_fast_start_joins_total', { join: 'live' }), 2);
  assert.equal(s.value('pushgate_fast_start_fallbacks_total'), 1);
  assert.equal(s.value('pushgate_fast_start_completed_primes_total'), 5);
  assert.equal(s.value('pushgate_fast_start_log_bytes'), 123456);
  assert.equal(s.type('pushgate_fast_start_prime_duration_seconds'), 'HISTOGRAM');
  const histogram = s.histogram('pushgate_fast_start_prime_duration_seconds');
  assert.deepEqual(Object.fromEntries(histogram?.buckets ?? []), { '0.001': 1, '0.01': 3, '+Inf': 6 });
  assert.equal(histogram?.count, 6);
  assert.equal(histogram?.sum, 0.5);
});

test('webhook deliveries by result, when the webhooks source answers', async () => {
  const { sources, set } = fakeSources();
  const metrics = new GatewayMetrics(sources, { processMetrics: false });
  assert.equal((await scrape(metrics)).samples('pushgate_webhook_deliveries_total').length, 0);
  set.webhooks = { delivered: 10, failed: 2, dropped: 1, retried: 4, queued: 3 };
  const s = await scrape(metrics);
  assert.equal(s.value('pushgate_webhook_deliveries_total', { result: 'delivered' }), 10);
  assert.equal(s.value('pushgate_webhook_deliveries_total', { result: 'failed' }), 2);
  assert.equal(s.value('pushgate_webhook_deliveries_total', { result: 'dropped' }), 1);
  assert.equal(s.value('pushgate_webhook_retries_total'), 4);
  assert.equal(s.value('pushgate_webhook_queued'), 3);
});

test('each source is read once per scrape, and the process metrics are there', async () => {
  const { sources, set } = fakeSources();
  let reads = 0;
  const metrics = new GatewayMetrics({
    ...sources,
    streams: () => {
      reads++;
      return set.streams;
    },
  });
  const s = await scrape(metrics);
  assert.equal(reads, 1);
  await scrape(metrics);
  assert.equal(reads, 2);
  assert.equal(metrics.contentType, 'text/plain; version=0.0.4; charset=utf-8');
  for (const name of ['process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds', 'process_cpu_seconds_total']) {
    assert.ok(s.has(name), `${name} is exposed`);
  }
  assert.ok(s.value('process_resident_memory_bytes') > 0);
});

test('two gateways in one process keep registries of their own', async () => {
  const a = new GatewayMetrics(fakeSources().sources);
  const b = new GatewayMetrics(fakeSources().sources);
  assert.ok((await a.render()).includes('pushgate_streams'));
  assert.ok((await b.render()).includes('process_resident_memory_bytes'));
});
