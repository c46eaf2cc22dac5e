// The RTSP readers of every stream: who reads what, how, and how many bytes they were sent;
// their joins and leaves; closing one. A reader's record is made and dropped on RTSP client
// threads (at SETUP, and when its session media goes), where JavaScript must not run, and
// its bytes are read from kernel socket counters and a probe on each stream's UDP sink, so it is
// all in the native pgreaders element (native/pgreaders.c). This class creates it, gives it
// the servers, and calls its action signals from Node's thread: the element hands back JSON,
// never a session or a client.
import type { ReaderInfo, ReaderState, ReaderTransport } from '../core/gateway-events';
import type { Logger } from '../core/logger';
import type { ReaderControl } from '../core/media-engine';
import { makeNativeElement, type NativeElement } from './elements';
import { NATIVE_PLUGIN_DIR, type GstRtspServer } from './runtime';

type Server = InstanceType<typeof GstRtspServer.RTSPServer>;

export type ReaderEvent = { readonly kind: 'join'; readonly reader: ReaderInfo } | { readonly kind: 'leave'; readonly reader: ReaderInfo; readonly bytesSent: number };

/** A reader as the element writes it. */
interface NativeReaderJson {
  readonly event?: 'join' | 'leave';
  readonly id: string;
  readonly stream: string;
  readonly address: string;
  readonly transport: ReaderTransport;
  readonly tls: boolean;
  /** Wall clock, ms. */
  readonly since: number;
  readonly bytesSent: number;
}

export class RtspReaders implements ReaderControl {
  readonly #element: NativeElement;
  readonly #log: Logger;
  #droppedEvents = 0;

  private constructor(element: NativeElement, log: Logger) {
    this.#element = element;
    this.#log = log;
  }

  /** Undefined (with a warning) when the native plugin is missing: readers cannot be listed or kicked, and no join/leave events come. */
  static attach(servers: readonly Server[], log: Logger): RtspReaders | undefined {
    const element = makeNativeElement('pgreaders', 'rtsp-readers');
    if (!element) {
      log.warn(
        { pluginDir: NATIVE_PLUGIN_DIR },
        'native plugin pgreaders not found (build it with scripts/build-native.sh): RTSP readers cannot be listed or kicked, and reader join/leave events are off',
      );
      return undefined;
    }
    for (const server of servers) element.setProperty('add-server', server);
    return new RtspReaders(element, log);
  }

  list(): ReaderState[] {
    return parse<NativeReaderJson[]>(this.#element.emit('list-readers'), []).map((r) => ({ ...readerInfo(r), bytesSent: r.bytesSent }));
  }

  kick(id: string): boolean {
    return Boolean(this.#element.emit('kick-reader', id));
  }

  /** Joins and leaves since the last call, oldest first. */
  takeEvents(): ReaderEvent[] {
    const taken = parse<{ events: NativeReaderJson[]; dropped: number }>(this.#element.emit('take-events'), { events: [], dropped: 0 });
    if (taken.dropped > 0) {
      this.#droppedEvents += taken.dropped;
      this.#log.warn({ dropped: taken.dropped, droppedSoFar: this.#droppedEvents }, 'reader join/leave events were dropped: more came in a second than the native queue holds');
    }
    return taken.events.map((e) =>
      e.event === 'leave' ? { kind: 'leave', reader: readerInfo(e), bytesSent: e.bytesSent } : { kind: 'join', reader: readerInfo(e) },
    );
  }

  /** Reads the TCP readers' byte counters now: before their connections are closed from here. */
  refresh(): void {
    this.#element.emit('refresh-bytes');
  }
}

function readerInfo(r: NativeReaderJson): ReaderInfo {
  return { id: r.id, stream: r.stream, remoteAddress: r.address, transport: r.transport, tls: r.tls, since: new Date(r.since).toISOString() };
}

/** The element's JSON (always well formed: it writes it itself). */
function parse<T>(json: unknown, none: T): T {
  return typeof json === 'string' ? (JSON.parse(json) as T) : none;
}
