// Gives back the memory of stopped pipelines and closed connections. Two things keep it:
//  - node-gtk keeps a GObject (a stopped pipeline with everything in it) alive for as long as
//    its JavaScript wrapper lives, and V8, which sees a small heap, seldom collects: publish
//    churn grew RSS 4 to 9 MB per 100 streams, depending on when V8 collected. So a garbage
//    collection follows an unprepared media (at most one per COLLECT_INTERVAL_MS).
//  - what is freed is spread over glibc's per-thread arenas (a media's pipeline is built and
//    freed on several threads) and stays resident unless given back: RSS would keep the peak of
//    everything that ever ran at once. So memory is trimmed (native pgmemorytrim, malloc_trim)
//    after a media was unprepared, after the collection that follows, and once connections
//    have closed and their number has held for a second (not while readers come and go).
// It has no timer of its own: its owner calls tick() once a second.
import type { Logger } from '../core/logger';
import { makeNativeElement, type NativeElement } from './elements';
import { NATIVE_PLUGIN_DIR, collectGarbage } from './runtime';

/** At most one garbage collection for stopped pipelines this often (one a second cost 5 % of a core in publish churn). */
const COLLECT_INTERVAL_MS = 5000;

export class MemoryReclaimer {
  readonly #log: Logger;
  readonly #trimmer: NativeElement | undefined;
  /** RTSP connections open now. */
  readonly #openConnections: () => number;
  /** The most RTSP connections open at once since memory was last trimmed, and at the last tick. */
  #connectionsPeak = 0;
  #connectionsLast = 0;
  /** A media was unprepared since the last garbage collection. */
  #collectWanted = false;
  #collectedAt = -Infinity;
  /** A collection ran: memory is trimmed at the next tick, once it freed what it could. */
  #trimAfterCollection = false;

  private constructor(log: Logger, trimmer: NativeElement | undefined, openConnections: () => number) {
    this.#log = log;
    this.#trimmer = trimmer;
    this.#openConnections = openConnections;
  }

  /** Without the native plugin (a warning says so) memory is collected but never trimmed. */
  static create(log: Logger, openConnections: () => number, factory = 'pgmemorytrim'): MemoryReclaimer {
    const trimmer = makeNativeElement(factory, 'memory-trim');
    if (!trimmer) {
      log.warn({ pluginDir: NATIVE_PLUGIN_DIR }, `the native plugin "${factory}" was not found (build it with scripts/build-native.sh): memory freed by stopped pipelines stays resident`);
    }
    return new MemoryReclaimer(log, trimmer, openConnections);
  }

  /**
   * Media were unprepared: a stopped pipeline is freed only once V8 collects the wrappers that
   * JavaScript held of it, so collect (at the next tick that may), then trim after that. Trimmed
   * at once too, for what the media freed itself.
   */
  mediaUnprepared(): void {
    this.#collectWanted = true;
    this.#trim();
  }

  /** Call once a second; `unprepared`: media seen unprepared since the last call. */
  tick(unprepared: number): void {
    if (unprepared > 0) this.mediaUnprepared();
    else if (this.#trimAfterCollection || this.#connectionsSettledLower()) this.#trim();
    this.#trimAfterCollection = this.#collectIfDue();
  }

  #trim(): void {
    const startedAt = performance.now();
    this.#trimmer?.emit('trim-memory');
    this.#connectionsPeak = this.#connectionsLast;
    this.#log.debug({ tookMs: Number((performance.now() - startedAt).toFixed(2)) }, 'memory trimmed');
  }

  /** A collection if one is wanted and the last was long enough ago. */
  #collectIfDue(): boolean {
    const now = performance.now();
    if (!this.#collectWanted || now - this.#collectedAt < COLLECT_INTERVAL_MS) return false;
    this.#collectWanted = false;
    this.#collectedAt = now;
    collectGarbage();
    this.#log.debug('collecting garbage: stopped pipelines are freed with their wrappers');
    return true;
  }

  /** Fewer RTSP connections than at the last trim, and no change since the last tick. */
  #connectionsSettledLower(): boolean {
    const open = this.#openConnections();
    const settled = open === this.#connectionsLast;
    this.#connectionsLast = open;
    this.#connectionsPeak = Math.max(this.#connectionsPeak, open);
    return settled && open < this.#connectionsPeak;
  }
}
