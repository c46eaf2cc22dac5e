// RTSP reader limits: per stream and in total. The check runs at SETUP on an RTSP client
// thread while gst-rtsp-server holds the media's lock, where JavaScript must not run (node-gtk
// would make that thread wait for Node, which may itself wait for that lock), so it is the
// native pgreaderlimit element (native/readerlimit). This class loads it and reads its counters.
import type { Logger } from '../core/logger';
import { Gst, NATIVE_PLUGIN_DIR, type GstRtspServer } from './runtime';

type Server = InstanceType<typeof GstRtspServer.RTSPServer>;

/** node-gtk's own property accessors (plain values), as in fast-start.ts. */
interface Properties {
  setProperty(name: string, value: unknown): void;
  getProperty(name: string): unknown;
}

export interface ReaderLimits {
  readonly perStream: number;
  readonly total: number;
}

export class ReaderLimit {
  readonly #element: Properties;
  #closed = false;

  private constructor(element: Properties) {
    this.#element = element;
  }

  /** Undefined (with a warning) when the native plugin is missing: readers are then capped only in total, by the session pool. */
  static attach(servers: readonly Server[], limits: ReaderLimits, log: Logger): ReaderLimit | undefined {
    const element = Gst.ElementFactory.make('pgreaderlimit', 'reader-limit');
    if (!element) {
      log.warn(
        { pluginDir: NATIVE_PLUGIN_DIR },
        'native plugin pgreaderlimit not found (build it with scripts/build-native.sh): readers are not limited per stream, only in total',
      );
      return undefined;
    }
    const plugin = element as unknown as Properties;
    plugin.setProperty('max-per-stream', limits.perStream);
    plugin.setProperty('max-total', limits.total);
    for (const server of servers) plugin.setProperty('server', server);
    return new ReaderLimit(plugin);
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
