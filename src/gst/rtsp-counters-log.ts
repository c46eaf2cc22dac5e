// The RTSP server's native counters (fast start, auth cache, refused readers and connections),
// read once a second on Node's thread and logged when they change: per-request problems are
// counted natively and reported here, never logged per request.
import type { Logger } from '../core/logger';
import type { ConnectionLimit } from './connection-limit';
import type { FastStart } from './fast-start';
import type { ReaderLimit } from './reader-limit';
import { authCacheCounters } from './rtsp-auth-cache';

export interface RtspCounterSources {
  readonly fastStart: FastStart | undefined;
  readonly readerLimit: ReaderLimit | undefined;
  readonly connectionLimit: ConnectionLimit | undefined;
  /** The limits, named in the warnings. */
  readonly limits: { readonly maxReadersPerStream: number; readonly maxReaders: number; readonly maxConnections: number; readonly maxConnectionsPerAddress: number };
}

export class RtspCountersLog {
  readonly #log: Logger;
  readonly #sources: RtspCounterSources;
  #fastStartSeen = '';
  #authCacheSeen = '';
  #refusedSeen = 0;
  #refusedConnectionsSeen = 0;

  constructor(log: Logger, sources: RtspCounterSources) {
    this.#log = log;
    this.#sources = sources;
  }

  /** Call once a second. */
  tick(): void {
    this.#logFastStart();
    this.#logAuthCache();
    this.#logRefusedReaders();
    this.#logRefusedConnections();
  }

  /** Fast start's counters, logged when they change. */
  #logFastStart(): void {
    const counters = this.#sources.fastStart?.counters();
    if (!counters) return;
    const { logBytes, ...joins } = counters;
    const seen = JSON.stringify(joins);
    if (seen === this.#fastStartSeen) return;
    this.#fastStartSeen = seen;
    this.#log.debug({ fastStart: { ...joins, logBytes } }, 'fast start counters');
  }

  /** How many RTSP access checks the native cache answered, logged when it changes. */
  #logAuthCache(): void {
    const counters = authCacheCounters();
    const seen = JSON.stringify(counters);
    if (!counters || seen === this.#authCacheSeen) return;
    this.#authCacheSeen = seen;
    this.#log.debug({ authCache: counters }, 'RTSP auth cache counters');
  }

  /** Readers refused for a limit are counted natively and logged here, once a second at most. */
  #logRefusedReaders(): void {
    const limit = this.#sources.readerLimit;
    const refused = limit?.refused ?? 0;
    if (refused === this.#refusedSeen) return;
    const { maxReadersPerStream, maxReaders } = this.#sources.limits;
    this.#log.warn(
      { refused: refused - this.#refusedSeen, readers: limit?.readers, maxReadersPerStream, maxReaders },
      'RTSP SETUPs refused with 453 Not Enough Bandwidth: reader limit reached',
    );
    this.#refusedSeen = refused;
  }

  /** Connections refused for a limit are counted natively and logged here, once a second at most. */
  #logRefusedConnections(): void {
    const limit = this.#sources.connectionLimit;
    if (!limit) return;
    const refused = limit.refused;
    if (refused === this.#refusedConnectionsSeen) return;
    const { maxConnections, maxConnectionsPerAddress } = this.#sources.limits;
    this.#log.warn(
      { refused: refused - this.#refusedConnectionsSeen, connections: limit.open, maxConnections, maxConnectionsPerAddress },
      'RTSP connections closed at once: connection limit reached',
    );
    this.#refusedConnectionsSeen = refused;
  }
}
