// What happens in the gateway that operators hook into (webhooks, metrics): publishers coming
// and going, readers joining and leaving, refused requests. The modules where these happen emit
// them here; listeners run synchronously on Node's thread and must not block (queue instead).
// A listener that throws is logged and does not affect the emitter or the other listeners.
import { silentLogger, type Logger } from './logger';

export type Protocol = 'http' | 'rtsp';
export type ReaderTransport = 'tcp' | 'udp' | 'udp-multicast';

/** One RTSP reader: a session's media of one stream. */
export interface ReaderInfo {
  /** Unique in the process's life; what the control API names. */
  readonly id: string;
  readonly stream: string;
  readonly remoteAddress: string;
  readonly transport: ReaderTransport;
  /** Read over RTSPS. */
  readonly tls: boolean;
  /** When its SETUP succeeded (ISO 8601). */
  readonly since: string;
}

/** A reader now, with what it has been sent since its SETUP (see ReaderControl). */
export interface ReaderState extends ReaderInfo {
  readonly bytesSent: number;
}

export interface GatewayEventMap {
  /** A publisher's push was accepted for `stream` (`resumed`: readers waited for it in the grace period). */
  readonly publish: { readonly stream: string; readonly remoteAddress: string; readonly format: string; readonly resumed: boolean };
  /** A publisher's push ended: `code` is the error code when it ended with one. */
  readonly unpublish: {
    readonly stream: string;
    readonly remoteAddress: string;
    readonly reason: string;
    readonly code: string | null;
    readonly bytesIn: number;
    readonly durationMs: number;
  };
  readonly readerJoin: { readonly reader: ReaderInfo };
  readonly readerLeave: { readonly reader: ReaderInfo; readonly bytesSent: number };
  /** A publish, read or API request refused: 401 (`unauthorized`) or 403 (`forbidden`). */
  readonly authRefused: {
    readonly protocol: Protocol;
    readonly action: 'publish' | 'read' | 'api';
    readonly stream: string;
    readonly remoteAddress: string;
    readonly result: 'unauthorized' | 'forbidden';
    readonly reason: string;
  };
}

export type GatewayEventName = keyof GatewayEventMap;
type Listener<K extends GatewayEventName> = (event: GatewayEventMap[K]) => void;

export class GatewayEvents {
  readonly #listeners = new Map<GatewayEventName, Set<Listener<never>>>();
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Returns the function that removes the listener. */
  on<K extends GatewayEventName>(name: K, listener: Listener<K>): () => void {
    let set = this.#listeners.get(name);
    if (!set) this.#listeners.set(name, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  emit<K extends GatewayEventName>(name: K, event: GatewayEventMap[K]): void {
    for (const listener of this.#listeners.get(name) ?? []) {
      try {
        (listener as Listener<K>)(event);
      } catch (err) {
        this.#log.error({ err, event: name }, 'an event listener failed');
      }
    }
  }
}

/** For modules and tests that emit but have nobody listening. */
export const noEvents = new GatewayEvents(silentLogger);
