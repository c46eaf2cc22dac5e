// gst-rtsp-server set up for many readers: several client threads (one slow request must not
// stall the others), a real listen backlog, sessions reaped on a timer, and a way to end the
// sessions of one stream. Every call here runs on Node's thread; the only JavaScript that ever
// runs on an RTSP client thread is the tiny session-timeout handler, which holds no lock.
//
// Plain RTSP and RTSPS are two GstRTSPServers (TLS is per server in gst-rtsp-server) that share
// one set of mount points, one session pool and one thread pool: a stream's factory, and so
// its one shared media and pipeline, serves the readers of both, and counting, reaping and
// closing sessions covers both.
import { PushgateError } from '../core/errors';
import type { Logger } from '../core/logger';
import { FastStart, type FastStartCounters } from './fast-start';
import { allowAnonymous, createOpenRtspAuth, enableTls, loadTlsCertificate } from './rtsp-tls';
import { GLib, GstRtspServer } from './runtime';

type Server = InstanceType<typeof GstRtspServer.RTSPServer>;
type Client = InstanceType<typeof GstRtspServer.RTSPClient>;
type Session = InstanceType<typeof GstRtspServer.RTSPSession>;
type Media = InstanceType<typeof GstRtspServer.RTSPMedia>;
export type MediaFactory = InstanceType<typeof GstRtspServer.RTSPMediaFactory>;
export type MediaPredicate = (media: Media | null) => boolean;

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
  /** Prime late TCP readers from a packet log (native plugin; off when it is missing). */
  readonly fastStart: boolean;
  readonly logger: Logger;
}

const { KEEP, REMOVE } = GstRtspServer.RTSPFilterResult;
const CLEANUP_INTERVAL_MS = 1000;

/** One listening GstRTSPServer (plain or TLS) with its own fast-start element. */
interface Listener {
  readonly name: 'rtsp' | 'rtsps';
  readonly server: Server;
  readonly requestedPort: number;
  readonly fastStart: FastStart | undefined;
  sourceId: number | undefined;
  port: number;
}

export class RtspServer {
  readonly #options: RtspServerOptions;
  readonly #mounts = new GstRtspServer.RTSPMountPoints();
  readonly #sessions = new GstRtspServer.RTSPSessionPool();
  readonly #listeners: Listener[] = [];
  #fastStartSeen = '';
  #cleanupTimer: NodeJS.Timeout | undefined;

  constructor(options: RtspServerOptions) {
    this.#options = options;
    if (options.port === undefined && !options.tls) throw new PushgateError('MEDIA_ENGINE', 'RTSP: neither a plain nor a TLS port to listen on');
    const threads = new GstRtspServer.RTSPThreadPool();
    threads.setMaxThreads(options.clientThreads);
    if (options.port !== undefined) this.#listeners.push(this.#listener('rtsp', options.port, threads));
    if (options.tls) {
      const listener = this.#listener('rtsps', options.tls.port, threads);
      const auth = createOpenRtspAuth();
      enableTls(auth, loadTlsCertificate(options.tls.certPath, options.tls.keyPath));
      listener.server.setAuth(auth);
      this.#listeners.push(listener);
    }
  }

  #listener(name: Listener['name'], port: number, threads: InstanceType<typeof GstRtspServer.RTSPThreadPool>): Listener {
    const server = new GstRtspServer.RTSPServer();
    server.address = this.#options.host;
    server.service = String(port);
    server.backlog = 1024;
    server.setMountPoints(this.#mounts);
    server.setSessionPool(this.#sessions);
    server.setThreadPool(threads);
    const sessionTimeout = this.#options.sessionTimeoutS;
    server.connect('client-connected', (client: Client) => {
      // Runs on the client's thread at SETUP: keep it to one property write.
      // gst-rtsp-server adds 5 s of "extra-timeout" on top by default: the configured timeout is the limit.
      client.connect('new-session', (session: Session) => {
        session.setTimeout(sessionTimeout);
        session.extraTimeout = 0;
      });
    });
    // Fast start hooks the PLAYs of one server's clients: each server gets its own element.
    // (When the plugin is missing, the first attempt has said so: no second warning.)
    const pluginMissing = this.#listeners.length > 0 && !this.#listeners[0]!.fastStart;
    const fastStart = this.#options.fastStart && !pluginMissing ? FastStart.attach(server, this.#options.logger, undefined, `fast-start-${name}`) : undefined;
    return { name, server, requestedPort: port, fastStart, sourceId: undefined, port: 0 };
  }

  /** Whether late TCP readers are primed (the option is on and the native plugin loaded). */
  get fastStart(): boolean {
    return this.#listeners.some((l) => l.fastStart !== undefined);
  }

  /** A stream's media is done with: fast start (of every listener) drops its log and its hold on it. */
  releaseMedia(media: Media): void {
    for (const listener of this.#listeners) listener.fastStart?.releaseMedia(media);
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
      const reaped = this.#sessions.cleanup();
      if (reaped > 0) this.#options.logger.info({ sessions: reaped }, 'reaped RTSP sessions of vanished readers');
      this.#logFastStart();
    }, CLEANUP_INTERVAL_MS);
  }

  mount(path: string, factory: MediaFactory): void {
    // Only servers with an auth (RTSPS) check factory permissions; readers are anonymous today.
    allowAnonymous(factory);
    this.#mounts.addFactory(path, factory);
  }

  unmount(path: string): void {
    this.#mounts.removeFactory(path);
  }

  /** Sessions currently set up on a media that `owns` accepts, over every listener. */
  countSessions(owns: MediaPredicate): number {
    let count = 0;
    this.#sessions.filter((_pool, session) => {
      if (sessionUses(session, owns)) count++;
      return KEEP;
    });
    return count;
  }

  /** Closes the connections of the readers of the medias `owns` accepts, which ends their sessions. */
  closeSessions(owns: MediaPredicate): void {
    for (const { server } of this.#listeners) {
      server.clientFilter((_server, client) => {
        let playing = false;
        client.sessionFilter((_client, session) => {
          playing ||= sessionUses(session, owns);
          return KEEP;
        });
        return playing ? REMOVE : KEEP;
      });
    }
    // Sessions whose control connection is already gone (UDP readers that vanished).
    this.#sessions.filter((_pool, session) => (sessionUses(session, owns) ? REMOVE : KEEP));
  }

  /** Fast start's counters over every listener, logged when they change (from Node's thread, once a second). */
  #logFastStart(): void {
    const all = this.#listeners.flatMap((l) => l.fastStart?.counters() ?? []);
    if (all.length === 0) return;
    const sum = (key: keyof FastStartCounters): number => all.reduce((total, c) => total + c[key], 0);
    const joins = {
      primedJoins: sum('primedJoins'),
      liveJoins: sum('liveJoins'),
      fallbacks: sum('fallbacks'),
      completedPrimes: sum('completedPrimes'),
      activePrimes: sum('activePrimes'),
    };
    const seen = JSON.stringify(joins);
    if (seen === this.#fastStartSeen) return;
    this.#fastStartSeen = seen;
    this.#options.logger.debug({ fastStart: { ...joins, logBytes: sum('logBytes') } }, 'fast start counters');
  }

  /** Stops listening and closes every client. Idempotent. */
  close(): void {
    clearInterval(this.#cleanupTimer);
    this.#cleanupTimer = undefined;
    for (const listener of this.#listeners) {
      listener.fastStart?.close();
      listener.server.clientFilter(() => REMOVE);
    }
    this.#sessions.filter(() => REMOVE);
    for (const listener of this.#listeners) {
      if (listener.sourceId !== undefined) {
        GLib.sourceRemove(listener.sourceId);
        listener.sourceId = undefined;
      }
    }
  }
}

function sessionUses(session: Session, owns: MediaPredicate): boolean {
  // KEEP, never REF: a list of refs handed to JavaScript would keep the sessions (and their
  // media's prepare counts) alive until V8 collects the wrappers.
  let uses = false;
  session.filter((_session, sessionMedia) => {
    uses ||= owns(sessionMedia.getMedia());
    return KEEP;
  });
  return uses;
}
