// Prometheus metrics: pushgate's own (prefix pushgate_) and Node's process metrics, in a
// prom-client registry of their own (not prom-client's global one, so two gateways in one
// process, as in tests, never share or clash). Every pushgate value is read when /metrics is
// scraped (prom-client's collect()) from plain sources: the registry's stream list, event
// totals, the native elements' counters. Nothing is counted per packet in JavaScript, and
// nothing on the media path calls in here.
import { Counter, Gauge, Registry, collectDefaultMetrics, type Histogram } from 'prom-client';
import type { StreamDescription } from '../core/stream';
import type { EventTotals } from './event-counts';

/** How often the event-loop lag is sampled. */
const EVENT_LOOP_SAMPLE_MS = 250;

/** One RTSP reader, as the media engine lists it. */
export interface ReaderSample {
  readonly stream: string;
  readonly transport: string;
  /** Read over RTSPS. */
  readonly tls: boolean;
  readonly bytesSent: number;
}

export interface RtspRequestSample {
  /** Requests answered, by method. */
  readonly requests: Readonly<Record<string, number>>;
  /** Answers, by status code. */
  readonly responses: Readonly<Record<string, number>>;
}

/** Observations already counted into fixed buckets (by the native side). */
export interface BucketedSample {
  /** Upper bounds in seconds, ascending. */
  readonly boundsSeconds: readonly number[];
  /** Per bucket, not cumulative: one more than the bounds, the last beyond them all. */
  readonly counts: readonly number[];
  readonly sumSeconds: number;
}

export interface FastStartSample {
  readonly primedJoins: number;
  readonly liveJoins: number;
  readonly fallbacks: number;
  readonly completedPrimes: number;
  readonly activePrimes: number;
  readonly logBytes: number;
  readonly primeTimes: BucketedSample;
}

export interface WebhookSample {
  readonly delivered: number;
  readonly failed: number;
  readonly dropped: number;
  /** Attempts repeated. */
  readonly retried?: number;
  /** Events waiting or in flight now. */
  readonly queued?: number;
}

/** Where the metrics come from; each is asked once per scrape. Optional ones may be absent or answer undefined. */
export interface MetricsSources {
  readonly streams: () => readonly StreamDescription[];
  readonly events: () => EventTotals;
  readonly rtsp?: () => RtspRequestSample | undefined;
  readonly fastStart?: () => FastStartSample | undefined;
  /** Every reader with its transport and bytes sent; undefined when the engine cannot list them. */
  readonly readers?: () => readonly ReaderSample[] | undefined;
  readonly webhooks?: () => WebhookSample | undefined;
}

export interface MetricsOptions {
  /** Node's own metrics (memory, CPU, event-loop lag, GC): on unless turned off (unit tests). */
  readonly processMetrics?: boolean;
}

const STREAM_STATES = ['live', 'starting', 'grace'] as const;
const INGEST_PATHS = ['native', 'node'] as const;

/** What GET /metrics serves: the text exposition format of every metric, read now. */
export class GatewayMetrics {
  readonly registry: Registry;
  readonly #scrape: { serial: number };

  constructor(sources: MetricsSources, options: MetricsOptions = {}) {
    this.#scrape = { serial: 0 };
    this.registry = buildRegistry(sources, options, this.#scrape);
  }

  /** The exposition format's content type (Prometheus text 0.0.4). */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Reads every source once and renders every metric. */
  render(): Promise<string> {
    this.#scrape.serial++;
    return this.registry.metrics();
  }
}

function buildRegistry(sources: MetricsSources, options: MetricsOptions, scrape: { readonly serial: number }): Registry {
  const registry = new Registry();
  // The event-loop lag is sampled by a timer: prom-client's default of every 10 ms woke
  // GLib's loop (and libuv within it) 100 times a second, tripling an idle gateway's CPU.
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  const registers = [registry];
  // Each source is read once per scrape, however many metrics are made from it, so that they
  // agree with each other (and a stream list is built once).
  const once = <T>(read: () => T): (() => T) => {
    let serial = -1;
    let value: T;
    return () => {
      if (serial !== scrape.serial) {
        serial = scrape.serial;
        value = read();
      }
      return value;
    };
  };
  const streams = once(sources.streams);
  const events = once(sources.events);
  const rtsp = once(() => sources.rtsp?.());
  const fastStart = once(() => sources.fastStart?.());
  const readers = once(() => sources.readers?.());
  const webhooks = once(() => sources.webhooks?.());

  new Gauge({
    name: 'pushgate_streams',
    help: 'Streams by state: live (publishing), starting (publisher connected, tracks not known yet), grace (publisher gone, readers waiting for it)',
    labelNames: ['state'],
    registers,
    collect() {
      const counts = new Map<string, number>(STREAM_STATES.map((s) => [s, 0]));
      for (const stream of streams()) counts.set(stream.state, (counts.get(stream.state) ?? 0) + 1);
      this.reset();
      for (const [state, n] of counts) this.set({ state }, n);
    },
  });

  new Gauge({
    name: 'pushgate_publishers',
    help: 'Publishers pushing now, by who reads their push: native (the C ingest) or node (JavaScript)',
    labelNames: ['ingest'],
    registers,
    collect() {
      const counts = new Map<string, number>(INGEST_PATHS.map((i) => [i, 0]));
      for (const { publisher } of streams()) if (publisher) counts.set(publisher.ingest, (counts.get(publisher.ingest) ?? 0) + 1);
      this.reset();
      for (const [ingest, n] of counts) this.set({ ingest }, n);
    },
  });

  new Gauge({
    name: 'pushgate_readers',
    help: 'RTSP readers now, by stream, transport (tcp, udp, udp-multicast) and protocol (rtsp, rtsps); both "unknown" when the engine cannot list readers',
    labelNames: ['stream', 'transport', 'protocol'],
    registers,
    collect() {
      this.reset();
      const list = readers();
      if (!list) {
        for (const stream of streams()) this.set({ stream: stream.name, transport: 'unknown', protocol: 'unknown' }, stream.readers);
        return;
      }
      const counts = new Map<string, { stream: string; transport: string; protocol: string; n: number }>();
      for (const reader of list) {
        const protocol = reader.tls ? 'rtsps' : 'rtsp';
        const key = `${reader.stream}\n${reader.transport}\n${protocol}`;
        const seen = counts.get(key) ?? { stream: reader.stream, transport: reader.transport, protocol, n: 0 };
        seen.n++;
        counts.set(key, seen);
      }
      for (const { n, ...labels } of counts.values()) this.set(labels, n);
    },
  });

  counter('pushgate_stream_received_bytes_total', 'Bytes of pushes received, per stream (kept across reconnects within the grace period)', ['stream'], function () {
    for (const stream of streams()) this.inc({ stream: stream.name }, stream.bytesIn);
  });

  counter('pushgate_stream_received_frames_total', 'Video frames (access units) received, per stream', ['stream'], function () {
    for (const stream of streams()) this.inc({ stream: stream.name }, stream.framesIn);
  });

  counter('pushgate_stream_sent_bytes_total', 'Bytes sent to the readers of a stream while it exists, those connected now and those gone (absent when the engine cannot list readers)', ['stream'], function () {
    const list = readers();
    if (!list) return;
    const bytes = new Map<string, number>(events().sentToLeftReaders);
    for (const reader of list) bytes.set(reader.stream, (bytes.get(reader.stream) ?? 0) + reader.bytesSent);
    for (const [stream, n] of bytes) this.inc({ stream }, n);
  });

  counter('pushgate_pushes_ended_total', 'Pushes that ended after they were accepted, by error code ("none": ended cleanly)', ['code'], function () {
    for (const [code, n] of events().pushesEnded) this.inc({ code }, n);
  });

  counter('pushgate_auth_refusals_total', 'Requests refused by access control, by protocol (http, rtsp), action (publish, read, api) and result (unauthorized: 401, forbidden: 403)', ['protocol', 'action', 'result'], function () {
    for (const { count, ...labels } of events().authRefusals) this.inc(labels, count);
  });

  counter('pushgate_rtsp_requests_total', 'RTSP requests answered, by method ("other": not readable)', ['method'], function () {
    for (const [method, n] of Object.entries(rtsp()?.requests ?? {})) this.inc({ method }, n);
  });

  counter('pushgate_rtsp_responses_total', 'RTSP answers sent, by status code', ['status'], function () {
    for (const [status, n] of Object.entries(rtsp()?.responses ?? {})) this.inc({ status }, n);
  });

  counter('pushgate_fast_start_joins_total', 'RTSP PLAYs by how they joined: primed (sent the log from a keyframe) or live (waits for the next keyframe)', ['join'], function () {
    const fs = fastStart();
    if (!fs) return;
    this.inc({ join: 'primed' }, fs.primedJoins);
    this.inc({ join: 'live' }, fs.liveJoins);
  });

  counter('pushgate_fast_start_fallbacks_total', 'Primes that went live early (a timeout, a reader behind the log, a failed send)', [], function () {
    const fs = fastStart();
    if (fs) this.inc(fs.fallbacks);
  });

  counter('pushgate_fast_start_completed_primes_total', 'Primed streams (video, audio) handed over to live at exactly the next packet', [], function () {
    const fs = fastStart();
    if (fs) this.inc(fs.completedPrimes);
  });

  new Gauge({
    name: 'pushgate_fast_start_active_primes',
    help: 'Readers being primed now',
    registers,
    collect() {
      const fs = fastStart();
      this.reset();
      if (fs) this.set(fs.activePrimes);
    },
  });

  new Gauge({
    name: 'pushgate_fast_start_log_bytes',
    help: 'Bytes of RTP packets the fast-start logs hold',
    registers,
    collect() {
      const fs = fastStart();
      this.reset();
      if (fs) this.set(fs.logBytes);
    },
  });

  registry.registerMetric(
    bucketedHistogram(
      'pushgate_fast_start_prime_duration_seconds',
      'Time from a primed reader\'s PLAY until its video was live (the log sent from a keyframe and the reader handed over, or gone live early)',
      () => fastStart()?.primeTimes,
    ),
  );

  counter('pushgate_webhook_deliveries_total', 'Webhook deliveries by result: delivered, failed (given up after retries), dropped (queue full)', ['result'], function () {
    const stats = webhooks();
    if (!stats) return;
    this.inc({ result: 'delivered' }, stats.delivered);
    this.inc({ result: 'failed' }, stats.failed);
    this.inc({ result: 'dropped' }, stats.dropped);
  });

  counter('pushgate_webhook_retries_total', 'Webhook delivery attempts that were repeated', [], function () {
    const retried = webhooks()?.retried;
    if (retried !== undefined) this.inc(retried);
  });

  new Gauge({
    name: 'pushgate_webhook_queued',
    help: 'Webhook events waiting or in flight now',
    registers,
    collect() {
      const queued = webhooks()?.queued;
      this.reset();
      if (queued !== undefined) this.set(queued);
    },
  });

  return registry;

  /** A counter whose totals are kept elsewhere: set afresh at each scrape (series that went are dropped). */
  function counter<L extends string>(name: string, help: string, labelNames: L[], fill: (this: Counter<L>) => void): void {
    new Counter<L>({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        fill.call(this);
      },
    });
  }
}

/**
 * A histogram whose observations the native side already counted into fixed buckets.
 * prom-client's Histogram only takes single observations, so this is a minimal metric object of
 * the shape the registry renders (name, help, type, get()); absent while `read` has nothing.
 */
function bucketedHistogram(name: string, help: string, read: () => BucketedSample | undefined): Histogram {
  const metric = {
    name,
    help,
    type: 'histogram' as const,
    aggregator: 'sum' as const,
    reset(): void {},
    get() {
      const sample = read();
      const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
      if (sample) {
        let cumulative = 0;
        sample.boundsSeconds.forEach((bound, i) => {
          cumulative += sample.counts[i] ?? 0;
          values.push({ metricName: `${name}_bucket`, labels: { le: bound }, value: cumulative });
        });
        cumulative += sample.counts[sample.boundsSeconds.length] ?? 0;
        values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: cumulative });
        values.push({ metricName: `${name}_sum`, labels: {}, value: sample.sumSeconds });
        values.push({ metricName: `${name}_count`, labels: {}, value: cumulative });
      }
      return Promise.resolve({ name, help, type: metric.type, aggregator: metric.aggregator, values });
    },
  };
  // The registry needs only this shape; its typings name the concrete classes.
  return metric as unknown as Histogram;
}
