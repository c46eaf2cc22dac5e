// The benchmark's side of the load client: forks worker processes, drives them through their job
// and merges what they report.
import path from 'node:path';
import { BenchProcess, stopAll } from '../processes';
import type { FromWorker, LoadJob, ReadersJob, ReadersResult, ToWorker } from './protocol';

const WORKER_SCRIPT = path.join(__dirname, 'worker.js');

type Message<T extends FromWorker['type']> = Extract<FromWorker, { type: T }>;

export class LoadWorker {
  readonly #process: BenchProcess;
  readonly #inbox: FromWorker[] = [];
  #wake: (() => void) | undefined;

  constructor(name: string, job: LoadJob) {
    this.#process = new BenchProcess(name, process.execPath, [WORKER_SCRIPT], { stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
    this.#process.child.on('message', (message: FromWorker) => {
      this.#inbox.push(message);
      this.#wake?.();
    });
    void this.#process.exited.then(() => this.#wake?.());
    this.send({ type: 'start', job });
  }

  get pid(): number {
    return this.#process.pid;
  }

  send(message: ToWorker): void {
    if (this.#process.running) this.#process.child.send(message);
  }

  /** The next message of `type`; throws if the worker reports an error, exits, or is too slow. */
  async receive<T extends FromWorker['type']>(type: T, timeoutMs: number): Promise<Message<T>> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const error = this.#inbox.find((message) => message.type === 'error');
      if (error) throw new Error(`${this.#process.name} failed: ${error.message}`);
      const index = this.#inbox.findIndex((message) => message.type === type);
      if (index >= 0) return this.#inbox.splice(index, 1)[0] as Message<T>;
      if (!this.#process.running) throw new Error(`${this.#process.name} exited before '${type}'${this.#process.outputTail()}`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`${this.#process.name}: no '${type}' within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  stop(): Promise<void> {
    return this.#process.stop(2000);
  }
}

export interface ReadersLoadOptions extends Omit<ReadersJob, 'kind' | 'count' | 'firstIndex' | 'udpPortBase'> {
  readonly readers: number;
  readonly workers: number;
}

/** N readers spread over several worker processes, driven as one. */
export class ReadersLoad {
  readonly #workers: LoadWorker[];

  constructor(options: ReadersLoadOptions) {
    const { readers, workers: workerCount, ...common } = options;
    const workers = Math.max(1, Math.min(workerCount, readers));
    this.#workers = [];
    let firstIndex = 0;
    for (let w = 0; w < workers; w++) {
      const count = Math.floor(readers / workers) + (w < readers % workers ? 1 : 0);
      const job: ReadersJob = { kind: 'readers', ...common, count, firstIndex, udpPortBase: 20_000 + w * 4000 };
      this.#workers.push(new LoadWorker(`load-client-${w}`, job));
      firstIndex += count;
    }
  }

  get pids(): number[] {
    return this.#workers.map((worker) => worker.pid);
  }

  /** Waits until every reader has played or failed; returns how many play. */
  async connected(timeoutMs: number): Promise<{ playing: number; failed: number }> {
    const ready = await Promise.all(this.#workers.map((worker) => worker.receive('ready', timeoutMs)));
    return { playing: ready.reduce((n, r) => n + r.playing, 0), failed: ready.reduce((n, r) => n + r.failed, 0) };
  }

  /** Starts the measurement window in every worker. */
  async mark(): Promise<void> {
    for (const worker of this.#workers) worker.send({ type: 'mark' });
    await Promise.all(this.#workers.map((worker) => worker.receive('marked', 10_000)));
  }

  /** Ends the window; the workers report and exit. */
  async finish(): Promise<ReadersResult> {
    for (const worker of this.#workers) worker.send({ type: 'finish' });
    const results = await Promise.all(this.#workers.map((worker) => worker.receive('readers-result', 30_000)));
    return mergeReaders(results.map((message) => message.result));
  }

  stop(): Promise<void> {
    return stopAll(this.#workers);
  }
}

function mergeReaders(results: readonly ReadersResult[]): ReadersResult {
  const total = (field: 'readers' | 'playing' | 'bytes' | 'packets' | 'lost' | 'stalled' | 'noKeyframe'): number =>
    results.reduce((sum, result) => sum + result[field], 0);
  return {
    readers: total('readers'),
    playing: total('playing'),
    failures: results.flatMap((result) => result.failures),
    windowS: Math.max(...results.map((result) => result.windowS)),
    bytes: total('bytes'),
    packets: total('packets'),
    lost: total('lost'),
    stalled: total('stalled'),
    firstKeyframeMs: results.flatMap((result) => result.firstKeyframeMs),
    noKeyframe: total('noKeyframe'),
    latencyMs: results.flatMap((result) => result.latencyMs),
    client: {
      cpuPercent: results.reduce((sum, result) => sum + result.client.cpuPercent, 0),
      busiestProcessCpuPercent: Math.max(...results.map((result) => result.client.cpuPercent)),
      loopDelayP99Ms: Math.max(...results.map((result) => result.client.loopDelayP99Ms)),
    },
  };
}
