// Fast start: late RTSP/TCP readers get a keyframe at once instead of waiting up to a GOP.
// The work is done by pushgate's native GStreamer plugin (native/pgfaststart/, element
// "pgfaststart"), because it runs per packet and per RTSP signal on GStreamer threads, where
// JavaScript must not run. This class loads the plugin, hands it the RTSP server, tells it
// when a media is done with, and reads its counters from Node's thread.
import type { Logger } from '../core/logger';
import { makeNativeElement, type NativeElement } from './elements';
import { NATIVE_PLUGIN_DIR, type GstRtspServer } from './runtime';

type Server = InstanceType<typeof GstRtspServer.RTSPServer>;
type Media = InstanceType<typeof GstRtspServer.RTSPMedia>;
type Factory = InstanceType<typeof GstRtspServer.RTSPMediaFactory>;

export interface FastStartCounters {
  /** PLAYs primed from the log. */
  readonly primedJoins: number;
  /** PLAYs that joined live: UDP readers, no keyframe logged yet, too many primes at once. */
  readonly liveJoins: number;
  /** Primes that went live early (timeouts, a reader behind the log, a failed send). */
  readonly fallbacks: number;
  /** Primes handed over to live at exactly the next packet. */
  readonly completedPrimes: number;
  readonly activePrimes: number;
  /** Bytes of RTP packets the logs hold references to. */
  readonly logBytes: number;
  /** Medias prepared and held from their stream's go-live, so that even a first reader is primed. */
  readonly warmedMedias: number;
  /** Warm-ups whose media did not prepare (the stream failed or ended first). */
  readonly warmFailures: number;
}

/** How long video primes took, from the reader's PLAY until it was live, in fixed buckets. */
export interface PrimeTimes {
  /** Upper bounds of the buckets, in seconds, ascending. */
  readonly boundsSeconds: readonly number[];
  /** Primes per bucket (not cumulative): one more than the bounds, the last beyond them all. */
  readonly counts: readonly number[];
  readonly sumSeconds: number;
}

export class FastStart {
  readonly #element: NativeElement;
  #closed = false;

  private constructor(element: NativeElement) {
    this.#element = element;
  }

  /**
   * Loads the plugin and attaches it to `server`; undefined (with a warning saying why) when
   * the plugin is missing, so pushgate runs without fast start rather than not at all.
   */
  static attach(server: Server, log: Logger, factory = 'pgfaststart'): FastStart | undefined {
    const element = makeNativeElement(factory, 'fast-start');
    if (!element) {
      log.warn(
        { pluginDir: NATIVE_PLUGIN_DIR },
        `fast start is off: the native plugin "${factory}" was not found (build it with scripts/build-native.sh); late readers wait for the next keyframe`,
      );
      return undefined;
    }
    element.setProperty('server', server);
    return new FastStart(element);
  }

  /**
   * Primes the readers of one more server too. It must share the first one's mount points, so
   * its readers play the same medias: each media keeps one packet log and one hold for all.
   */
  addServer(server: Server): void {
    if (!this.#closed) this.#element.setProperty('add-server', server);
  }

  /**
   * The stream at `path` went live: its shared media is built now (on this thread: the factory
   * builds its pipeline in JavaScript) and prepared and held by the plugin on a thread of its
   * own, so that the first reader's DESCRIBE finds it ready and its PLAY is primed like a late
   * reader's. False if the factory built no shared media.
   */
  warm(factory: Factory, path: string): boolean {
    return !this.#closed && Boolean(this.#element.emit('warm', factory, path));
  }

  /** The media's stream has ended: drop its packet log and let it unprepare. Idempotent. */
  releaseMedia(media: Media): void {
    if (!this.#closed) this.#element.setProperty('release-media', media);
  }

  counters(): FastStartCounters {
    const read = (name: string): number => Number(this.#element.getProperty(name));
    return {
      primedJoins: read('primed-joins'),
      liveJoins: read('live-joins'),
      fallbacks: read('fallbacks'),
      completedPrimes: read('completed-primes'),
      activePrimes: read('active-primes'),
      logBytes: read('log-bytes'),
      warmedMedias: read('warmed-medias'),
      warmFailures: read('warm-failures'),
    };
  }

  primeTimes(): PrimeTimes {
    return parsePrimeTimes(textOf(this.#element.getProperty('prime-times')));
  }

  /** Detaches from the servers and releases every media still held. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#element.setProperty('detach', true);
  }
}

/** Reads pgfaststart's "prime-times": "1000=3 2500=1 ... inf=0 sum_us=4100" (bounds in µs). */
export function parsePrimeTimes(text: string): PrimeTimes {
  const boundsSeconds: number[] = [];
  const counts: number[] = [];
  let sumSeconds = 0;
  for (const pair of text.trim().split(/\s+/)) {
    const [key, value] = pair.split('=');
    const n = Number(value);
    if (key === undefined || !Number.isFinite(n)) continue;
    if (key === 'sum_us') sumSeconds = n / 1e6;
    else if (key === 'inf') counts.push(n);
    else if (Number.isFinite(Number(key))) {
      boundsSeconds.push(Number(key) / 1e6);
      counts.push(n);
    }
  }
  return { boundsSeconds, counts, sumSeconds };
}

function textOf(value: unknown): string {
  return typeof value === 'string' ? value : '';
}
