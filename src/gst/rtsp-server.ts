// gst-rtsp-server set up for many readers: several client threads (one slow request must not
// stall the others), a real listen backlog, sessions reaped on a timer, and a way to end the
// sessions of one stream. Every call here runs on Node's thread; sessions themselves are
// handled by rtsp-sessions.ts, out of JavaScript's reach.
//
// Plain RTSP and RTSPS are two GstRTSPServers (TLS is per server in gst-rtsp-server) that share
// one set of mount points, one session pool and one thread pool: a stream's factory, and so
// its one shared media and pipeline, serves the readers of both, and counting, reaping and
// closing sessions covers both. One fast-start element hooks both servers, so each media has
// one packet log whichever port its readers come from.
//
// Its once-a-second timer drives the rest: reaping sessions, following released media until
// they are unprepared, the counters' log (rtsp-counters-log.ts) and giving memory back
// (memory-reclaimer.ts).
import type { Authorizer } from '../auth/authorizer';
import { PushgateError } from '../core/errors';
import type { GatewayEvents } from '../core/gateway-events';
import type { Logger } from '../core/logger';
import type { FastStartMode } from '../core/media-engine';
import { ConnectionLimit } from './connection-limit';
import { FastStart, type FastStartCounters, type PrimeTimes } from './fast-start';
import { MediaWatch } from './media-watch';
import { MemoryReclaimer } from './memory-reclaimer';
import { MountKey } from './mount-key';
import { ReaderLimit } from './reader-limit';
import { rtspAuthFor, type InternalReader } from './rtsp-access';
import type { RtspAuth } from './rtsp-auth';
import { forgetAllowedChecks } from './rtsp-auth-cache';
import { RtspCountersLog } from './rtsp-counters-log';
import { RtspReaders, type ReaderEvent } from './rtsp-readers';
import { attachRtspSessions, type RtspSessions } from './rtsp-sessions';
import { RtspStats, type RtspRequestCounts } from './rtsp-stats';
import { allowAnonymous, createOpenRtspAuth, enableTls, loadTlsCertificate, TlsConnections } from './rtsp-tls';
import { GLib, GstRtspServer } from './runtime';

type Server = InstanceType<typeof GstRtspServer.RTSPServer>;
type Media = InstanceType<typeof GstRtspServer.RTSPMedia>;
export type MediaFactory = InstanceType<typeof GstRtspServer.RTSPMediaFactory>;

export interface RtspTlsOptions {
  readonly port: number;
  /** PEM: the leaf certificate first, then any intermediates. */
  readonly certPath: string;
  readonly keyPath: string;
}

export interface RtspServerOptions {
  readonly host: string;
  /** Plain RTSP port; undefined: no plain RTSP listener. */
  readonly port: number | undefined;
  /** RTSPS listener; undefined: none. */
  readonly tls?: RtspTlsOptions | undefined;
  /** Sessions of readers that vanished without TEARDOWN are reaped after this. */
  readonly sessionTimeoutS: number;
  readonly clientThreads: number;
  /** Prime TCP readers from a packet log (native plugin; off when it is missing), and from when. */
  readonly fastStart: FastStartMode;
  /** Readers of one stream; a SETUP beyond it answers 453 Not Enough Bandwidth. */
  readonly maxReadersPerStream: number;
  /** Readers of all streams; a SETUP beyond it answers 453. */
  readonly maxReaders: number;
  /** Decides who may read which stream (no RTSP auth at all when anyone may read anything). */
  readonly authorizer?: Authorizer | undefined;
  /** Told of RTSP requests refused by the authorizer (authRefused). */
  readonly events?: GatewayEvents | undefined;
  /** The authorizer's access can change while running (see accessChanged). */
  readonly reloadableAccess?: boolean;
  /** RTSP connections at once over both listeners; more are closed as they are accepted. */
  readonly maxConnections: number;
  /** RTSP connections at once from one client address. */
  readonly maxConnectionsPerAddress: number;
  /** pushgate's own reader credential (the WebRTC relays), accepted from loopback for reading. */
  readonly internalReader?: InternalReader | undefined;
  /** Readers that joined and left, once a second on Node's thread (needs the native plugin). */
  readonly onReaderEvents?: ((events: readonly ReaderEvent[]) => void) | undefined;
  readonly logger: Logger;
}

/** The limits a reload can change while readers play. */
export type RtspLimits = Pick<RtspServerOptions, 'maxReadersPerStream' | 'maxReaders' | 'maxConnections' | 'maxConnectionsPerAddress'>;

const { REMOVE } = GstRtspServer.RTSPFilterResult;
const CLEANUP_INTERVAL_MS = 1000;
/** A released media still prepared after this is held by something it should not be: say so. */
const RELEASE_WARN_MS = 10_000;

/** A media whose stream is done with, watched until gst-rtsp-server unprepares it. */
interface ReleasedMedia {
  readonly log: Logger;
  readonly since: number;
  warned: boolean;
}

/** The native counters /metrics reads, as plain data; undefined where the element is missing. */
export interface RtspMetricsCounters {
  readonly requests: RtspRequestCounts | undefined;
  readonly fastStart: (FastStartCounters & { readonly primeTimes: PrimeTimes }) | undefined;
}

/** One listening GstRTSPServer (plain or TLS). */
interface Listener {
  readonly name: 'rtsp' | 'rtsps';
  readonly server: Server;
  readonly requestedPort: number;
  sourceId: number | undefined;
  port: number;
}

export class RtspServer {
  readonly #options: RtspServerOptions;
  readonly #mounts = new GstRtspServer.RTSPMountPoints();
  readonly #sessionPool = new GstRtspServer.RTSPSessionPool();
  readonly #listeners: Listener[] = [];
  readonly #auths: RtspAuth[] = [];
  #limits: RtspLimits;
  readonly #connectionLimit: ConnectionLimit | undefined;
  readonly #tls: TlsConnections | undefined;
  readonly #sessions: RtspSessions;
  readonly #mountKey: MountKey;
  readonly #mediaWatch: MediaWatch;
  readonly #fastStart: FastStart | undefined;
  readonly #readerLimit: ReaderLimit | undefined;
  /** Every reader, to list and kick; undefined without the native plugin. */
  readonly readers: RtspReaders | undefined;
  readonly #stats: RtspStats | undefined;
  readonly #counters: RtspCountersLog;
  readonly #memory: MemoryReclaimer;
  readonly #released = new Map<Media, ReleasedMedia>();
  #cleanupTimer: NodeJS.Timeout | undefined;

  constructor(options: RtspServerOptions) {
    this.#options = options;
    if (options.port === undefined && !options.tls) throw new PushgateError('MEDIA_ENGINE', 'RTSP: neither a plain nor a TLS port to listen on');
    const threads = new GstRtspServer.RTSPThreadPool();
    threads.setMaxThreads(options.clientThreads);
    // Each server its own auth (TLS is a property of the auth); none at all on plain RTSP when
    // anyone may read anything, so no JavaScript runs per request there.
    const authFor = () => (options.authorizer ? rtspAuthFor(options.authorizer, options.logger, options.reloadableAccess ?? false, options.events, options.internalReader) : undefined);
    if (options.port !== undefined) {
      const listener = this.#listener('rtsp', options.port, threads);
      const auth = authFor();
      if (auth) {
        listener.server.setAuth(auth);
        this.#auths.push(auth);
      }
      this.#listeners.push(listener);
    }
    if (options.tls) {
      const listener = this.#listener('rtsps', options.tls.port, threads);
      const auth = authFor() ?? createOpenRtspAuth();
      enableTls(auth, loadTlsCertificate(options.tls.certPath, options.tls.keyPath));
      listener.server.setAuth(auth);
      this.#auths.push(auth);
      this.#listeners.push(listener);
    }
    const servers = this.#listeners.map((l) => l.server);
    // First: a connection refused for a limit is shut down before the other elements see it.
    this.#connectionLimit = ConnectionLimit.attach(servers, { total: options.maxConnections, perAddress: options.maxConnectionsPerAddress }, options.logger);
    this.#tls = options.tls ? TlsConnections.attach(servers, options.logger) : undefined;
    this.#sessions = attachRtspSessions(servers, options.sessionTimeoutS, options.logger);
    this.#mountKey = MountKey.create(options.logger);
    this.#mediaWatch = MediaWatch.create(options.logger);
    const [first, ...others] = servers;
    this.#fastStart = options.fastStart !== 'off' && first ? FastStart.attach(first, options.logger) : undefined;
    for (const server of others) this.#fastStart?.addServer(server);
    // No max-sessions on the pool: the session of a TCP reader that closed its connection stays
    // there (without media) until the session timeout, and would count against new readers.
    // Readers are counted by their session medias in the native limit instead.
    this.#readerLimit = ReaderLimit.attach(servers, { perStream: options.maxReadersPerStream, total: options.maxReaders }, options.logger);
    this.readers = RtspReaders.attach(servers, options.logger);
    this.#stats = RtspStats.attach(servers, options.logger);
    const { maxReadersPerStream, maxReaders, maxConnections, maxConnectionsPerAddress } = options;
    this.#limits = { maxReadersPerStream, maxReaders, maxConnections, maxConnectionsPerAddress };
    const limits = (): RtspLimits => this.#limits;
    this.#counters = new RtspCountersLog(options.logger, {
      fastStart: this.#fastStart,
      readerLimit: this.#readerLimit,
      connectionLimit: this.#connectionLimit,
      get limits() {
        return limits();
      },
    });
    this.#memory = MemoryReclaimer.create(options.logger, () => this.#connectionLimit?.open ?? 0);
  }

  #listener(name: Listener['name'], port: number, threads: InstanceType<typeof GstRtspServer.RTSPThreadPool>): Listener {
    const server = new GstRtspServer.RTSPServer();
    server.address = this.#options.host;
    server.service = String(port);
    server.backlog = 1024;
    server.setMountPoints(this.#mounts);
    server.setSessionPool(this.#sessionPool);
    server.setThreadPool(threads);
    return { name, server, requestedPort: port, sourceId: undefined, port: 0 };
  }

  /** How TCP readers are primed: off when the option is, or the native plugin is missing. */
  get fastStart(): FastStartMode {
    return this.#fastStart ? this.#options.fastStart : 'off';
  }

  /**
   * A stream's media is done with: fast start drops its log and its hold on it, and the media is
   * watched until it is unprepared (its pipeline stopped), which is logged, with a warning if
   * something keeps it prepared.
   */
  releaseMedia(media: Media, log: Logger): void {
    this.#fastStart?.releaseMedia(media);
    if (!this.#released.has(media)) this.#released.set(media, { log, since: performance.now(), warned: false });
    if (this.#watchReleased() > 0) this.#memory.mediaUnprepared();
  }

  /** Call from media-configure, so that a release can be followed to the end (releaseMedia). */
  watchMedia(media: Media): void {
    this.#mediaWatch.watch(media);
  }

  /** Released medias seen unprepared by this call. */
  #watchReleased(): number {
    const now = performance.now();
    let unprepared = 0;
    for (const [media, watch] of this.#released) {
      const afterMs = Math.round(now - watch.since);
      const done = this.#mediaWatch.isUnprepared(media);
      if (done !== false) {
        this.#released.delete(media);
        if (done) {
          unprepared++;
          watch.log.debug({ afterMs }, 'RTSP media unprepared');
        }
      } else if (!watch.warned && afterMs >= RELEASE_WARN_MS) {
        watch.warned = true;
        watch.log.warn({ afterMs }, 'RTSP media still prepared long after its stream was released: something holds it');
      }
    }
    return unprepared;
  }

  /** The plain RTSP port, once started; undefined when plain RTSP is off. */
  get port(): number | undefined {
    return this.#listeners.find((l) => l.name === 'rtsp')?.port;
  }

  /** The RTSPS port, once started; undefined when TLS is off. */
  get tlsPort(): number | undefined {
    return this.#listeners.find((l) => l.name === 'rtsps')?.port;
  }

  /** Starts listening. Throws (listening on nothing) when an address cannot be bound. */
  start(): void {
    for (const listener of this.#listeners) {
      const id = listener.server.attach(null);
      if (!id) {
        this.close();
        const what = listener.name === 'rtsps' ? 'RTSPS' : 'RTSP';
        throw new PushgateError('MEDIA_ENGINE', `${what} server could not listen on ${this.#options.host}:${listener.requestedPort} (address in use?)`);
      }
      listener.sourceId = id;
      listener.port = listener.server.getBoundPort();
    }
    this.#cleanupTimer = setInterval(() => {
      const reaped = this.#sessions.reap();
      if (reaped > 0) this.#options.logger.info({ sessions: reaped }, 'reaped RTSP sessions of vanished readers');
      this.#counters.tick();
      this.#memory.tick(this.#watchReleased());
      this.#drainReaderEvents();
    }, CLEANUP_INTERVAL_MS);
  }

  #drainReaderEvents(): void {
    const events = this.readers?.takeEvents();
    if (events?.length) this.#options.onReaderEvents?.(events);
  }

  mount(path: string, factory: MediaFactory): void {
    this.#adopt(factory);
    this.#mounts.addFactory(path, factory);
  }

  /** Readies a factory for its medias (idempotent): before its first media is built. */
  #adopt(factory: MediaFactory): void {
    // Only the open auth (RTSPS without users) looks at factory permissions; pushgate's users
    // auth decides by itself, and a server without auth checks nothing.
    allowAnonymous(factory);
    // The key a warmed media is cached under must be the one DESCRIBEs look up.
    this.#mountKey.apply(factory);
  }

  /**
   * Builds and prepares the shared media of a stream that just went live, so that its first
   * reader is primed like any later one (with --fast-start always only; false otherwise).
   * Call it before mounting the factory: see StreamMedia.#mount.
   */
  warmMedia(path: string, factory: MediaFactory): boolean {
    if (this.#options.fastStart !== 'always' || !this.#fastStart) return false;
    this.#adopt(factory);
    return this.#fastStart.warm(factory, path);
  }

  unmount(path: string): void {
    this.#mounts.removeFactory(path);
  }

  /** Sessions set up on the media whose bin name starts with `binPrefix`, over every listener. */
  countSessions(binPrefix: string): number {
    return this.#sessions.count(binPrefix);
  }

  /** Closes the connections of that media's readers, which ends their sessions. */
  closeSessions(binPrefix: string): void {
    // Their last byte counts are read while their connections are still open.
    this.readers?.refresh();
    this.#sessions.close(binPrefix);
  }

  /** New limits for the next SETUPs and connections (a reloaded config). */
  setLimits(limits: RtspLimits): void {
    this.#limits = limits;
    this.#readerLimit?.setLimits({ perStream: limits.maxReadersPerStream, total: limits.maxReaders });
    this.#connectionLimit?.setLimits({ total: limits.maxConnections, perAddress: limits.maxConnectionsPerAddress });
  }

  /** The authorizer's access changed: no allow remembered before is reused. */
  accessChanged(): void {
    for (const auth of this.#auths) forgetAllowedChecks(auth);
  }

  /** Read on Node's thread when /metrics is scraped. */
  metricsCounters(): RtspMetricsCounters {
    const fastStart = this.#fastStart;
    return {
      requests: this.#stats?.counts(),
      fastStart: fastStart && { ...fastStart.counters(), primeTimes: fastStart.primeTimes() },
    };
  }

  /** Stops listening and closes every client. Idempotent. */
  close(): void {
    const running = this.#cleanupTimer !== undefined;
    clearInterval(this.#cleanupTimer);
    this.#cleanupTimer = undefined;
    // The readers still here leave now (once), with what they were sent: their native leaves
    // would come after the last drain.
    if (running) {
      this.#drainReaderEvents();
      const remaining = this.readers?.list() ?? [];
      if (remaining.length) this.#options.onReaderEvents?.(remaining.map(({ bytesSent, ...reader }) => ({ kind: 'leave', reader, bytesSent })));
    }
    this.#fastStart?.close();
    this.#readerLimit?.close();
    this.#stats?.close();
    this.#tls?.close();
    this.#released.clear();
    for (const listener of this.#listeners) listener.server.clientFilter(() => REMOVE);
    this.#sessionPool.filter(() => REMOVE);
    for (const listener of this.#listeners) {
      if (listener.sourceId !== undefined) {
        GLib.sourceRemove(listener.sourceId);
        listener.sourceId = undefined;
      }
    }
  }
}
