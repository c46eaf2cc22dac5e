// RTSP reader limits: per stream and in total. The check runs at SETUP on an RTSP client
// thread while gst-rtsp-server holds the media's lock, where JavaScript must not run (node-gtk
// would make that thread wait for Node, which may itself wait for that lock), so it is the
// native pgreaderlimit element (native/pgreaderlimit.c). This class loads it and reads its counters.
import type { Logger } from '../core/logger';
import { makeNativeElement, type NativeElement } from './elements';
import { NATIVE_PLUGIN_DIR, type GstRtspServer } from './runtime';

type Server = InstanceType<typeof GstRtspServer.RTSPServer>;

export interface ReaderLimits {
  readonly perStream: number;
  readonly total: number;
}

export class ReaderLimit {
  readonly #element: NativeElement;
  #closed = false;

  private constructor(element: NativeElement) {
    this.#element = element;
  }

  /** Undefined (with a warning) when the native plugin is missing: readers are then not limited at all. */
  static attach(servers: readonly Server[], limits: ReaderLimits, log: Logger): ReaderLimit | undefined {
    const element = makeNativeElement('pgreaderlimit', 'reader-limit');
    if (!element) {
      log.warn(
        { pluginDir: NATIVE_PLUGIN_DIR },
        'native plugin pgreaderlimit not found (build it with scripts/build-native.sh): RTSP readers are not limited',
      );
      return undefined;
    }
    const limit = new ReaderLimit(element);
    limit.setLimits(limits);
    for (const server of servers) element.setProperty('add-server', server);
    return limit;
  }

  /** Applies to the next SETUP; readers beyond a lowered limit keep reading. */
  setLimits(limits: ReaderLimits): void {
    this.#element.setProperty('max-per-stream', limits.perStream);
    this.#element.setProperty('max-total', limits.total);
  }

  /** Readers (session medias) now, over all streams. */
  get readers(): number {
    return Number(this.#element.getProperty('readers'));
  }

  /** SETUPs refused with 453 so far. */
  get refused(): number {
    return Number(this.#element.getProperty('refused'));
  }

  /** Stops watching new clients. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#element.setProperty('detach', true);
  }
}
