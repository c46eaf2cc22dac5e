// The benchmark's scenarios. Edit this list to change what `npm run bench` measures; `--only`
// picks some by name.
import type { ClipName } from './assets';
import type { Transport } from './load/protocol';
import type { Side } from './servers';

/** Publishers, each with readers, measured in a steady state. */
export interface ReadersScenario {
  readonly kind: 'readers';
  readonly name: string;
  readonly description: string;
  readonly clip: ClipName;
  readonly publishers: number;
  readonly readersPerStream: number;
  readonly transport: Transport;
  /** Load-client processes the readers are spread over. */
  readonly workers: number;
  /**
   * ffmpeg -re replays the clip; the probe marks each access unit with its send time (latency),
   * 'probe-aud-after' also ends each unit with the next one's access unit delimiter, and
   * 'probe-ffmpeg-writes' writes its HTTP chunks as ffmpeg does.
   */
  readonly publisher: 'ffmpeg' | 'probe' | 'probe-aud-after' | 'probe-ffmpeg-writes';
  /** Readers join one by one this far apart (first-picture scenarios); 0: all at once. */
  readonly staggerMs: number;
  /** One reader plays this long before the measured ones join (a stream already being watched). */
  readonly warmupS: number;
  readonly sides: readonly Side[];
}

/** Cycles run after warm-up cycles, some at once, with RSS compared before and after. */
interface ChurnScenario {
  readonly name: string;
  readonly description: string;
  readonly clip: ClipName;
  readonly warmupCycles: number;
  readonly cycles: number;
  readonly concurrency: number;
}

/** Readers joining and leaving one live stream, for memory growth. */
export interface ReaderChurnScenario extends ChurnScenario {
  readonly kind: 'reader-churn';
  readonly sides: readonly Side[];
}

/** Publishers pushing a short clip to a new name, with a reader each time, for memory growth. */
export interface PublishChurnScenario extends ChurnScenario {
  readonly kind: 'publish-churn';
  /** Publishing over HTTP is pushgate's; the limit has fixed mounts. */
  readonly sides: readonly ['pushgate'];
}

/** Live streams with no readers, for what one idle stream costs. */
export interface IdleStreamsScenario {
  readonly kind: 'idle-streams';
  readonly name: string;
  readonly description: string;
  readonly clip: ClipName;
  /** Measured with this many streams and with `streams + extra`: the difference over `extra` is the cost of one. */
  readonly streams: number;
  readonly extra: number;
  readonly sides: readonly Side[];
}

/** The most readers a side holds without loss: a ladder of reader counts, each held for `holdS`. */
export interface MaxReadersScenario {
  readonly kind: 'max-readers';
  readonly name: string;
  readonly description: string;
  /** Climbed until a step loses packets, stalls a reader or fails to connect one. */
  readonly ladder: readonly number[];
  /** Then the gap between the last step held and the one failed is halved this many times. */
  readonly refinements: number;
  readonly holdS: number;
  readonly step: ReadersScenario;
}

export type Scenario = ReadersScenario | ReaderChurnScenario | PublishChurnScenario | IdleStreamsScenario | MaxReadersScenario;

const BOTH: readonly Side[] = ['pushgate', 'limit'];

function fanout(name: string, clip: ClipName, readers: number, transport: Transport, workers = 1): ReadersScenario {
  return {
    kind: 'readers',
    name,
    description: `1 publisher (${clip}bit/s), ${readers} ${transport.toUpperCase()} reader${readers > 1 ? 's' : ''}`,
    clip,
    publishers: 1,
    readersPerStream: readers,
    transport,
    workers,
    publisher: 'ffmpeg',
    staggerMs: 0,
    warmupS: 0,
    sides: BOTH,
  };
}

function publishers(name: string, count: number): ReadersScenario {
  return {
    kind: 'readers',
    name,
    description: `${count} publishers (1Mbit/s), 1 TCP reader each`,
    clip: '1M',
    publishers: count,
    readersPerStream: 1,
    transport: 'tcp',
    workers: 1,
    publisher: 'ffmpeg',
    staggerMs: 0,
    warmupS: 0,
    sides: BOTH,
  };
}

export const SCENARIOS: readonly Scenario[] = [
  fanout('fanout-1-tcp', '4.5M', 1, 'tcp'),
  fanout('fanout-50-tcp', '4.5M', 50, 'tcp'),
  fanout('fanout-200-tcp', '4.5M', 200, 'tcp', 2),
  fanout('fanout-50-udp', '4.5M', 50, 'udp'),
  fanout('fanout-1000-tcp-1M', '1M', 1000, 'tcp', 2),
  {
    ...fanout('latency-5-tcp', '4.5M', 5, 'tcp'),
    description: '1 probe publisher (4.5Mbit/s, send time in an SEI per frame), 5 TCP readers: push-to-reader latency',
    publisher: 'probe',
  },
  {
    ...fanout('latency-aud-5-tcp', '4.5M', 5, 'tcp'),
    description: 'as latency-5-tcp, but the probe follows each access unit with the next one\'s delimiter (AUD), so its end is known when it is sent',
    publisher: 'probe-aud-after',
  },
  {
    ...fanout('latency-ffmpeg-5-tcp', '4.5M', 5, 'tcp'),
    description: 'as latency-5-tcp, but the probe writes to pushgate as ffmpeg does: User-Agent Lavf, each chunk\'s size line, data and CRLF as three writes with Nagle\'s algorithm on',
    publisher: 'probe-ffmpeg-writes',
  },
  {
    ...fanout('first-picture-gop2s', '4.5M-gop2s', 20, 'tcp'),
    description: '1 publisher (4.5Mbit/s, GOP 2 s) watched for 5 s already, 20 TCP readers joining 97 ms apart: time from PLAY to the first keyframe',
    staggerMs: 97,
    warmupS: 5,
  },
  publishers('publishers-16', 16),
  publishers('publishers-32', 32),
  {
    kind: 'max-readers',
    name: 'max-readers-tcp',
    description: 'the most TCP readers of a 1Mbit/s stream held for 30 s, all at the full rate and without loss (ladder of 500 up to 5000, then three halvings of the last step: to about 63)',
    // Since pgrtpbatch (one write per reader per frame) both sides held 2500, the old top.
    ladder: [500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500, 5000],
    refinements: 3,
    holdS: 30,
    step: fanout('max-readers-step', '1M', 500, 'tcp', 2),
  },
  {
    kind: 'idle-streams',
    name: 'idle-streams',
    description: 'RSS with 1 and with 11 live 1Mbit/s streams that nobody reads',
    clip: '1M',
    streams: 1,
    extra: 10,
    sides: BOTH,
  },
  {
    kind: 'reader-churn',
    name: 'reader-churn-500',
    description: '500 reader connect/disconnect cycles on one 1Mbit/s stream (8 at once)',
    clip: '1M',
    warmupCycles: 50,
    cycles: 500,
    concurrency: 8,
    sides: BOTH,
  },
  {
    kind: 'publish-churn',
    name: 'publish-churn-100',
    description: '100 publish/unpublish cycles of a 2 s clip to new names, a reader each (5 at once)',
    clip: '1M',
    warmupCycles: 10,
    cycles: 100,
    concurrency: 5,
    sides: ['pushgate'],
  },
];
