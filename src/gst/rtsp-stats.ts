// RTSP requests by method and answers by status, for /metrics. Counting runs per request on
// RTSP client threads, where JavaScript must not run, so it is the native pgrtspstats element
// (native/pgrtspstats.c); this class attaches it to the servers and reads its totals on
// Node's thread, when asked (a scrape).
import type { Logger } from '../core/logger';
import { makeNativeElement, type NativeElement } from './elements';
import { NATIVE_PLUGIN_DIR, type GstRtspServer } from './runtime';

type Server = InstanceType<typeof GstRtspServer.RTSPServer>;

export interface RtspRequestCounts {
  /** Requests answered, by method ("DESCRIBE", "SETUP", ..., "other"). */
  readonly requests: Readonly<Record<string, number>>;
  /** Answers sent, by status code ("200", "404", ...). */
  readonly responses: Readonly<Record<string, number>>;
}

export class RtspStats {
  readonly #element: NativeElement;
  #closed = false;

  private constructor(element: NativeElement) {
    this.#element = element;
  }

  /** Undefined (with a warning) when the native plugin is missing: RTSP requests are then not counted. */
  static attach(servers: readonly Server[], log: Logger): RtspStats | undefined {
    const element = makeNativeElement('pgrtspstats', 'rtsp-stats');
    if (!element) {
      log.warn({ pluginDir: NATIVE_PLUGIN_DIR }, 'native plugin pgrtspstats not found (build it with scripts/build-native.sh): RTSP requests are not counted in /metrics');
      return undefined;
    }
    for (const server of servers) element.setProperty('add-server', server);
    return new RtspStats(element);
  }

  counts(): RtspRequestCounts {
    return parseCounts(textOf(this.#element.emit('counts')));
  }

  /** Stops counting new clients. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#element.setProperty('detach', true);
  }
}

/** Reads "requests DESCRIBE=2 SETUP=4\nresponses 200=6 404=1" (see pgrtspstats.c). */
export function parseCounts(text: string): RtspRequestCounts {
  const sections: Record<string, Record<string, number>> = { requests: {}, responses: {} };
  for (const line of text.split('\n')) {
    const [section, ...pairs] = line.trim().split(/\s+/);
    const into = section === undefined ? undefined : sections[section];
    if (!into) continue;
    for (const pair of pairs) {
      const at = pair.lastIndexOf('=');
      const value = Number(pair.slice(at + 1));
      if (at > 0 && Number.isFinite(value)) into[pair.slice(0, at)] = value;
    }
  }
  return { requests: sections['requests'] ?? {}, responses: sections['responses'] ?? {} };
}

function textOf(value: unknown): string {
  return typeof value === 'string' ? value : '';
}
