// RTSP connections at once, over every listener and per client address. A connection beyond a
// limit must be shut down as it is accepted, before gst-rtsp-server reads from it, so that a
// flood of idle connections cannot use up the process's file descriptors: the native
// pgconnectionlimit element (native/pgconnectionlimit.c) does it. This class loads it and reads
// its counters.
import type { Logger } from '../core/logger';
import { makeNativeElement, type NativeElement } from './elements';
import { NATIVE_PLUGIN_DIR, type GstRtspServer } from './runtime';

type Server = InstanceType<typeof GstRtspServer.RTSPServer>;

/** RTSP connections at once, over every server and per client address. */
export interface ConnectionLimits {
  readonly total: number;
  readonly perAddress: number;
}

export class ConnectionLimit {
  readonly #element: NativeElement;

  private constructor(element: NativeElement) {
    this.#element = element;
  }

  /**
   * Attach it before pushgate's other native elements, so that a refused connection is shut
   * down before they see it. Undefined (with a warning) when the native plugin is missing:
   * RTSP connections are then not limited.
   */
  static attach(servers: readonly Server[], limits: ConnectionLimits, log: Logger, factory = 'pgconnectionlimit'): ConnectionLimit | undefined {
    const element = makeNativeElement(factory, 'rtsp-connection-limit');
    if (!element) {
      log.warn({ pluginDir: NATIVE_PLUGIN_DIR }, `the native plugin "${factory}" was not found (build it with scripts/build-native.sh): RTSP connections are not limited`);
      return undefined;
    }
    // Before the servers: no connection is ever counted against another limit.
    const limit = new ConnectionLimit(element);
    limit.setLimits(limits);
    for (const server of servers) element.setProperty('add-server', server);
    return limit;
  }

  /** Applies to the next connection; open connections beyond a lowered limit stay. */
  setLimits(limits: ConnectionLimits): void {
    this.#element.setProperty('max-connections', limits.total);
    this.#element.setProperty('max-connections-per-address', limits.perAddress);
  }

  /** RTSP connections open now. */
  get open(): number {
    return Number(this.#element.getProperty('connections'));
  }

  /** Connections refused for a limit so far. */
  get refused(): number {
    return Number(this.#element.getProperty('refused-connections'));
  }
}
