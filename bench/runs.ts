// One run of one scenario against one server: start the server and its publishers, put the load
// on, measure, and stop everything it started whatever happens.
import { setTimeout as delay } from 'node:timers/promises';
import { CLIPS, clipFile, rawClipFile, shortClipFile } from './assets';
import { LoadWorker, ReadersLoad } from './load/load-client';
import type { ChurnResult, LoadJob, ReadersResult } from './load/protocol';
import { machineBusyMeter, ProcessSampler } from './proc-stats';
import type { IdleStreamsScenario, PublishChurnScenario, ReaderChurnScenario, ReadersScenario } from './scenarios';
import { HOST, startServer, type RunningServer, type ServerBinaries, type Side, type StreamSpec } from './servers';

export interface RunSettings extends ServerBinaries {
  /** Seconds of steady state measured per run. */
  readonly windowS: number;
  /** Seconds between the last reader playing and the window (every reader has its keyframe). */
  readonly settleS: number;
}

/** What the readers saw, and what it cost the server, in one run. */
export interface ReadersRun extends ReadersResult {
  readonly side: Side;
  readonly round: number;
  readonly serverCpuSeconds: number;
  readonly serverCpuPercent: number;
  /** The same CPU by server thread group (names without their numbers), % of one core. */
  readonly serverCpuByThread: Readonly<Record<string, number>>;
  readonly peakRssMb: number;
  readonly machineBusyPercent: number;
  /** When readers stalled: the end of what the server and its publishers printed. */
  readonly serverOutput: string | undefined;
}

export interface ChurnRun {
  readonly side: Side;
  readonly warmupFailures: readonly string[];
  readonly churn: ChurnResult;
  readonly serverCpuPercent: number;
  readonly rssBeforeMb: number;
  readonly rssAfterMb: number;
  readonly peakRssMb: number;
  /** pushgate only: what GET /v1/streams shows once the churn has settled. */
  readonly leftover: { readonly streams: number; readonly readers: number } | undefined;
}

function streamsOf(scenario: { readonly clip: ReadersScenario['clip']; readonly publisher?: ReadersScenario['publisher'] }, count: number): StreamSpec[] {
  const probe =
    scenario.publisher === undefined || scenario.publisher === 'ffmpeg'
      ? undefined
      : {
          rawClip: rawClipFile(scenario.clip),
          fps: CLIPS[scenario.clip].fps,
          audAfter: scenario.publisher === 'probe-aud-after',
          ffmpegWrites: scenario.publisher === 'probe-ffmpeg-writes',
        };
  return Array.from({ length: count }, (_, i) => ({ name: `cam${i}`, clip: clipFile(scenario.clip), probe }));
}

/** Starts the server, runs `body`, and stops the server whatever happens. */
async function withServer<T>(side: Side, streams: readonly StreamSpec[], settings: RunSettings, body: (server: RunningServer, sampler: ProcessSampler) => Promise<T>): Promise<T> {
  const server = await startServer(side, streams, settings);
  const sampler = new ProcessSampler(server.pid);
  sampler.start();
  try {
    return await body(server, sampler);
  } finally {
    sampler.stop();
    await server.stop();
  }
}

/**
 * The window starts no sooner than this after the server started. A new Node process runs V8's
 * memory reducer once its start-up garbage settles: two major GCs about 8.5 and 9 s after start
 * (`--trace-gc`), tens of ms of CPU once in a gateway's life, which would otherwise fall in the
 * window of every run (its start was about 4.5 s after the server's).
 */
const MIN_SERVER_AGE_MS = 10_000;

export function runReaders(scenario: ReadersScenario, side: Side, round: number, settings: RunSettings): Promise<ReadersRun> {
  const streams = streamsOf(scenario, scenario.publishers);
  const startedAt = performance.now();
  return withServer(side, streams, settings, async (server, sampler) => {
    const readers = scenario.publishers * scenario.readersPerStream;
    const common = { host: HOST, rtspPort: server.rtspPort, paths: streams.map((stream) => stream.name), transport: scenario.transport, connectConcurrency: 50 };
    // Not measured: it only makes the stream one that is already being watched.
    const warmup = scenario.warmupS > 0 ? new ReadersLoad({ ...common, readers: 1, staggerMs: 0, workers: 1 }) : undefined;
    if (warmup) {
      await warmup.connected(30_000);
      await delay(scenario.warmupS * 1000);
    }
    const load = new ReadersLoad({ ...common, readers, staggerMs: scenario.staggerMs, workers: scenario.workers });
    try {
      await load.connected(30_000 + 50 * readers);
      await delay(Math.max(settings.settleS * 1000, MIN_SERVER_AGE_MS - (performance.now() - startedAt)));
      const machineBusy = machineBusyMeter();
      sampler.mark();
      await load.mark();
      await delay(settings.windowS * 1000);
      const result = await load.finish();
      const cost = sampler.stop();
      server.checkAlive();
      return {
        ...result,
        side,
        round,
        serverCpuSeconds: cost.cpuSeconds,
        serverCpuPercent: cost.cpuPercent,
        serverCpuByThread: cost.cpuByThread,
        peakRssMb: cost.peakRssMb,
        machineBusyPercent: machineBusy(),
        serverOutput: result.stalled > 0 ? server.outputTail() : undefined,
      };
    } finally {
      await load.stop();
      await warmup?.stop();
    }
  });
}

export interface IdleRun {
  readonly side: Side;
  readonly streams: number;
  readonly rssMb: number;
  readonly moreStreams: number;
  readonly moreRssMb: number;
  /** (moreRssMb - rssMb) / (moreStreams - streams) */
  readonly perStreamMb: number;
}

/** RSS after the window, with `streams` and with `streams + extra` live streams and no reader. */
export async function runIdle(scenario: IdleStreamsScenario, side: Side, settings: RunSettings): Promise<IdleRun> {
  const rssWith = (count: number): Promise<number> =>
    withServer(side, streamsOf(scenario, count), settings, async (server, sampler) => {
      await delay((settings.settleS + settings.windowS) * 1000);
      server.checkAlive();
      return sampler.rssMb;
    });
  const rssMb = await rssWith(scenario.streams);
  const moreStreams = scenario.streams + scenario.extra;
  const moreRssMb = await rssWith(moreStreams);
  return { side, streams: scenario.streams, rssMb, moreStreams, moreRssMb, perStreamMb: (moreRssMb - rssMb) / scenario.extra };
}

const CHURN_TIMEOUT_MS = 240_000;

export function runChurn(scenario: ReaderChurnScenario | PublishChurnScenario, side: Side, settings: RunSettings): Promise<ChurnRun> {
  const streams = scenario.kind === 'reader-churn' ? streamsOf(scenario, 1) : [];
  return withServer(side, streams, settings, async (server, sampler) => {
    const common = { host: HOST, rtspPort: server.rtspPort, warmupCycles: scenario.warmupCycles, cycles: scenario.cycles, concurrency: scenario.concurrency };
    let job: LoadJob;
    if (scenario.kind === 'reader-churn') {
      job = { kind: 'reader-churn', ...common, path: streams[0]!.name };
    } else {
      if (server.httpPort === undefined) throw new Error(`${side} takes no HTTP pushes`);
      job = { kind: 'publish-churn', ...common, httpPort: server.httpPort, clipFile: shortClipFile(scenario.clip) };
    }
    // After the churn: sessions reaped (1 s timer), and for publishes, the grace period (5 s) over.
    const settleAfterMs = scenario.kind === 'reader-churn' ? 3000 : 8000;
    const worker = new LoadWorker(`load-client-${scenario.name}`, job);
    try {
      const warmed = await worker.receive('warmed', CHURN_TIMEOUT_MS);
      await delay(2000);
      server.checkAlive();
      const rssBeforeMb = sampler.rssMb;
      sampler.mark();
      worker.send({ type: 'continue' });
      const { result: churn } = await worker.receive('churn-result', CHURN_TIMEOUT_MS);
      const { cpuPercent } = sampler.cpuSinceMark();
      server.checkAlive();
      await delay(settleAfterMs);
      const rssAfterMb = sampler.rssMb;
      const leftover = server.httpPort === undefined ? undefined : await pushgateLeftover(server.httpPort);
      return { side, warmupFailures: warmed.failures, churn, serverCpuPercent: cpuPercent, rssBeforeMb, rssAfterMb, peakRssMb: sampler.stop().peakRssMb, leftover };
    } finally {
      await worker.stop();
    }
  });
}

async function pushgateLeftover(httpPort: number): Promise<{ streams: number; readers: number } | undefined> {
  try {
    const response = await fetch(`http://${HOST}:${httpPort}/v1/streams`);
    const body = (await response.json()) as { streams?: { readers?: unknown }[] };
    const streams = body.streams ?? [];
    return { streams: streams.length, readers: streams.reduce((sum, stream) => sum + (typeof stream.readers === 'number' ? stream.readers : 0), 0) };
  } catch {
    return undefined;
  }
}
