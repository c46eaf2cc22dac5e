// A load-client process: runs one job (many readers, or connect/disconnect cycles) against a
// server and reports to the benchmark over IPC. It is its own process so its event loop, and
// the CPU it burns, are never the server's or the benchmark's.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import type { ClientCost, FromWorker, PublishChurnJob, ReaderChurnJob, ReadersJob, ToWorker } from './protocol';
import { bindUdpPair, RtspReader } from './rtsp-reader';

const FIRST_PACKET_TIMEOUT_MS = 5000;
const LIVE_TIMEOUT_MS = 5000;
const MAX_FAILURE_KINDS = 10;

// ---- messages ----

const inbox: ToWorker[] = [];
let wakeInbox: (() => void) | undefined;

process.on('message', (message: ToWorker) => {
  inbox.push(message);
  wakeInbox?.();
});
// The benchmark went away: nothing left to report to.
process.on('disconnect', () => process.exit(0));

async function receive<T extends ToWorker['type']>(type: T): Promise<Extract<ToWorker, { type: T }>> {
  for (;;) {
    const index = inbox.findIndex((message) => message.type === type);
    if (index >= 0) return inbox.splice(index, 1)[0] as Extract<ToWorker, { type: T }>;
    await new Promise<void>((resolve) => (wakeInbox = resolve));
  }
}

/** Resolves once the message is handed to the IPC channel. */
function send(message: FromWorker): Promise<void> {
  return new Promise((resolve) => {
    if (process.send) process.send(message, undefined, {}, () => resolve());
    else resolve();
  });
}

// ---- helpers ----

/** Counts failures by message so a thousand identical errors read as one line. */
class Failures {
  readonly #counts = new Map<string, number>();
  total = 0;

  add(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.total++;
    if (this.#counts.has(message) || this.#counts.size < MAX_FAILURE_KINDS) this.#counts.set(message, (this.#counts.get(message) ?? 0) + 1);
  }

  list(): string[] {
    return [...this.#counts].map(([message, count]) => `${count}x ${message}`);
  }
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` at once. */
async function forEachLimited(count: number, concurrency: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
}

class CostMeter {
  readonly #cpu = process.cpuUsage();
  readonly #startedAt = performance.now();
  readonly #loopDelay: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });

  constructor() {
    this.#loopDelay.enable();
  }

  get elapsedS(): number {
    return (performance.now() - this.#startedAt) / 1000;
  }

  stop(): ClientCost {
    this.#loopDelay.disable();
    const cpu = process.cpuUsage(this.#cpu);
    const elapsedUs = (performance.now() - this.#startedAt) * 1000;
    const cpuPercent = elapsedUs > 0 ? (100 * (cpu.user + cpu.system)) / elapsedUs : 0;
    return {
      cpuPercent,
      busiestProcessCpuPercent: cpuPercent,
      loopDelayP99Ms: this.#loopDelay.percentile(99) / 1e6,
    };
  }
}

// ---- jobs ----

async function runReaders(job: ReadersJob): Promise<void> {
  const readers: RtspReader[] = [];
  const failures = new Failures();
  let nextUdpPort = job.udpPortBase;
  const nextPort = (): number => {
    const port = nextUdpPort;
    nextUdpPort += 2;
    return port;
  };
  const startedAt = performance.now();
  await forEachLimited(job.count, job.connectConcurrency, async (i) => {
    const path = job.paths[(job.firstIndex + i) % job.paths.length]!;
    if (job.staggerMs > 0) await delay(Math.max(0, startedAt + (job.firstIndex + i) * job.staggerMs - performance.now()));
    const reader = new RtspReader(job.host, job.rtspPort, path);
    readers.push(reader);
    try {
      await reader.play(job.transport, () => bindUdpPair(job.host, nextPort));
    } catch (error) {
      failures.add(error);
      reader.close();
    }
  });
  await send({ type: 'ready', playing: readers.length - failures.total, failed: failures.total });

  await receive('mark');
  const packetsAtMark = readers.map((reader) => reader.counter.packets);
  const sum = (field: 'bytes' | 'packets' | 'lost'): number => readers.reduce((total, reader) => total + reader.counter[field], 0);
  const atMark = { bytes: sum('bytes'), packets: sum('packets'), lost: sum('lost') };
  for (const reader of readers) reader.counter.latenciesMs.length = 0;
  const cost = new CostMeter();
  await send({ type: 'marked' });

  await receive('finish');
  const windowS = cost.elapsedS;
  const client = cost.stop();
  const playing = readers.filter((reader) => reader.counter.playSentAt !== undefined && !reader.closed);
  const firstKeyframeMs = readers.flatMap((reader) => (reader.counter.firstKeyframeMs === undefined ? [] : [reader.counter.firstKeyframeMs]));
  readers.forEach((reader, i) => {
    if (reader.counter.playSentAt !== undefined && reader.counter.packets === packetsAtMark[i]) {
      failures.add(new Error(`stalled: ${reader.path} got ${reader.counter.packets} packets in all, none in the window${reader.closed ? ', connection closed' : ''}`));
    }
  });
  const result = {
    readers: job.count,
    playing: playing.length,
    failures: failures.list(),
    windowS,
    bytes: sum('bytes') - atMark.bytes,
    packets: sum('packets') - atMark.packets,
    lost: sum('lost') - atMark.lost,
    stalled: readers.filter((reader, i) => reader.counter.packets === packetsAtMark[i]).length,
    firstKeyframeMs,
    noKeyframe: readers.length - firstKeyframeMs.length,
    latencyMs: readers.flatMap((reader) => reader.counter.latenciesMs),
    client,
  };
  for (const reader of readers) reader.close();
  await send({ type: 'readers-result', result });
}

/** Runs warm-up cycles, reports, waits for the go-ahead, runs the measured cycles, reports. */
async function runChurn(warmupCycles: number, cycles: number, concurrency: number, cycle: (index: number) => Promise<void>): Promise<void> {
  const warmFailures = new Failures();
  await forEachLimited(warmupCycles, concurrency, (i) => cycle(i).catch((error: unknown) => warmFailures.add(error)));
  await send({ type: 'warmed', succeeded: warmupCycles - warmFailures.total, failures: warmFailures.list() });

  await receive('continue');
  const failures = new Failures();
  const cost = new CostMeter();
  await forEachLimited(cycles, concurrency, (i) => cycle(warmupCycles + i).catch((error: unknown) => failures.add(error)));
  const durationS = cost.elapsedS;
  await send({ type: 'churn-result', result: { cycles, succeeded: cycles - failures.total, failures: failures.list(), durationS, client: cost.stop() } });
}

/** A reader joins, gets media, and leaves: by TEARDOWN every other time, by hanging up otherwise. */
function readerChurnCycle(job: ReaderChurnJob): (index: number) => Promise<void> {
  return async (index) => {
    const reader = new RtspReader(job.host, job.rtspPort, job.path);
    try {
      await reader.play('tcp');
      await reader.waitForFirstPacket(FIRST_PACKET_TIMEOUT_MS);
      if (index % 2 === 0) await reader.teardown();
    } finally {
      reader.close();
    }
  };
}

/** A publisher pushes a short clip to a new name; a reader joins while it is live and leaves. */
function publishChurnCycle(job: PublishChurnJob): (index: number) => Promise<void> {
  const clip = readFileSync(job.clipFile);
  return async (index) => {
    const name = `churn-${process.pid}-${index}`;
    const push = pushOnce(job.host, job.httpPort, name, clip);
    push.catch(() => undefined); // awaited below; avoid an unhandled rejection meanwhile
    const reader = await playWhenLive(job.host, job.rtspPort, name);
    try {
      await reader.waitForFirstPacket(FIRST_PACKET_TIMEOUT_MS);
      await reader.teardown();
    } finally {
      reader.close();
    }
    const status = await push;
    if (status !== 200) throw new Error(`push answered ${status}`);
  };
}

/** DESCRIBE answers 404 until the publisher's stream is live: retry until it plays. */
async function playWhenLive(host: string, port: number, path: string): Promise<RtspReader> {
  const deadline = performance.now() + LIVE_TIMEOUT_MS;
  for (;;) {
    const reader = new RtspReader(host, port, path);
    try {
      await reader.play('tcp');
      return reader;
    } catch (error) {
      reader.close();
      if (performance.now() > deadline) throw error;
      await delay(50);
    }
  }
}

function pushOnce(host: string, port: number, name: string, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host, port, method: 'POST', path: `/push/${name}`, headers: { 'content-type': 'video/h264', 'content-length': body.length } },
      (response) => {
        response.resume();
        response.once('end', () => resolve(response.statusCode ?? 0));
      },
    );
    request.once('error', reject);
    request.end(body);
  });
}

// ---- main ----

async function main(): Promise<void> {
  const { job } = await receive('start');
  if (job.kind === 'readers') await runReaders(job);
  else if (job.kind === 'reader-churn') await runChurn(job.warmupCycles, job.cycles, job.concurrency, readerChurnCycle(job));
  else await runChurn(job.warmupCycles, job.cycles, job.concurrency, publishChurnCycle(job));
}

main()
  .catch((error: unknown) => send({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) }))
  .finally(() => process.exit(0));
