// The messages between the benchmark and its load-client processes (over Node's IPC channel).
//
// Readers job:  start -> ready (all readers tried) -> mark -> marked -> finish -> readers-result.
// Churn jobs:   start -> warmed (warm-up cycles done) -> continue -> churn-result.

export type Transport = 'tcp' | 'udp';

export interface ReadersJob {
  readonly kind: 'readers';
  readonly host: string;
  readonly rtspPort: number;
  /** Stream paths; reader i plays paths[(firstIndex + i) % paths.length]. */
  readonly paths: readonly string[];
  readonly firstIndex: number;
  readonly count: number;
  readonly transport: Transport;
  /** RTSP handshakes in flight at once while connecting. */
  readonly connectConcurrency: number;
  /** Reader i starts connecting i * staggerMs after the first (0: all at once), so joins land at spread points of the GOP. */
  readonly staggerMs: number;
  /** UDP readers bind RTP/RTCP port pairs from here upwards. */
  readonly udpPortBase: number;
}

export interface ReaderChurnJob {
  readonly kind: 'reader-churn';
  readonly host: string;
  readonly rtspPort: number;
  readonly path: string;
  readonly warmupCycles: number;
  readonly cycles: number;
  readonly concurrency: number;
}

export interface PublishChurnJob {
  readonly kind: 'publish-churn';
  readonly host: string;
  readonly rtspPort: number;
  readonly httpPort: number;
  /** A short raw H.264 clip, pushed whole (pushgate paces it to real time). */
  readonly clipFile: string;
  readonly warmupCycles: number;
  readonly cycles: number;
  readonly concurrency: number;
}

export type LoadJob = ReadersJob | ReaderChurnJob | PublishChurnJob;

/** What the load-client process itself used over the window. */
export interface ClientCost {
  /** CPU % of one core (summed over the load-client processes). */
  readonly cpuPercent: number;
  /** CPU % of one core of the busiest load-client process: over ~90 % it is saturated. */
  readonly busiestProcessCpuPercent: number;
  /** p99 event-loop delay (ms): large values mean the client could not keep up. */
  readonly loopDelayP99Ms: number;
}

export interface ReadersResult {
  readonly readers: number;
  readonly playing: number;
  readonly failures: readonly string[];
  /** Over the window. */
  readonly windowS: number;
  readonly bytes: number;
  readonly packets: number;
  readonly lost: number;
  /** Readers that received nothing during the window. */
  readonly stalled: number;
  /** Per reader that saw one: ms from sending PLAY to the first keyframe packet. */
  readonly firstKeyframeMs: readonly number[];
  readonly noKeyframe: number;
  /** Push-to-reader latencies (ms) of the probe SEIs received in the window (probe publishers only). */
  readonly latencyMs: readonly number[];
  readonly client: ClientCost;
}

export interface ChurnResult {
  readonly cycles: number;
  readonly succeeded: number;
  readonly failures: readonly string[];
  readonly durationS: number;
  readonly client: ClientCost;
}

export type ToWorker = { readonly type: 'start'; readonly job: LoadJob } | { readonly type: 'mark' } | { readonly type: 'finish' } | { readonly type: 'continue' };

export type FromWorker =
  | { readonly type: 'ready'; readonly playing: number; readonly failed: number }
  | { readonly type: 'marked' }
  | { readonly type: 'readers-result'; readonly result: ReadersResult }
  | { readonly type: 'warmed'; readonly succeeded: number; readonly failures: readonly string[] }
  | { readonly type: 'churn-result'; readonly result: ChurnResult }
  | { readonly type: 'error'; readonly message: string };
