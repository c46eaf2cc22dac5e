// gst-rtsp-server set up for many readers: several client threads (one slow request must not
// stall the others), a real listen backlog, sessions reaped on a timer, and a way to end the
// sessions of one stream. Every call here runs on Node's thread; sessions themselves are
// handled by rtsp-sessions.ts, out of JavaScript's reach.
import { PushgateError } from '../core/errors';
import type { Logger } from '../core/logger';
import { FastStart } from './fast-start';
import { attachRtspSessions, type RtspSessions } from './rtsp-sessions';
import { GLib, GstRtspServer } from './runtime';

type Server = InstanceType<typeof GstRtspServer.RTSPServer>;
type Media = InstanceType<typeof GstRtspServer.RTSPMedia>;
export type MediaFactory = InstanceType<typeof GstRtspServer.RTSPMediaFactory>;

export interface RtspServerOptions {
  readonly host: string;
  readonly port: number;
  /** Sessions of readers that vanished without TEARDOWN are reaped after this. */
  readonly sessionTimeoutS: number;
  readonly clientThreads: number;
  /** Prime late TCP readers from a packet log (native plugin; off when it is missing). */
  readonly fastStart: boolean;
  readonly logger: Logger;
}

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

export class RtspServer {
  readonly #options: RtspServerOptions;
  readonly #server: Server;
  readonly #sessions: RtspSessions;
  readonly #fastStart: FastStart | undefined;
  #fastStartSeen = '';
  readonly #released = new Map<Media, ReleasedMedia>();
  #sourceId: number | undefined;
  #cleanupTimer: NodeJS.Timeout | undefined;
  #port = 0;

  constructor(options: RtspServerOptions) {
    this.#options = options;
    this.#server = new GstRtspServer.RTSPServer();
    this.#server.address = options.host;
    this.#server.service = String(options.port);
    this.#server.backlog = 1024;
    this.#server.getThreadPool()?.setMaxThreads(options.clientThreads);
    this.#sessions = attachRtspSessions(this.#server, options.sessionTimeoutS, options.logger);
    this.#fastStart = options.fastStart ? FastStart.attach(this.#server, options.logger) : undefined;
  }

  /** Whether late TCP readers are primed (the option is on and the native plugin loaded). */
  get fastStart(): boolean {
    return this.#fastStart !== undefined;
  }

  /**
   * A stream's media is done with: fast start drops its log and its hold on it, and the media is
   * watched until it is unprepared (its pipeline stopped), which is logged, with a warning if
   * something keeps it prepared.
   */
  releaseMedia(media: Media, log: Logger): void {
    this.#fastStart?.releaseMedia(media);
    if (!this.#released.has(media)) this.#released.set(media, { log, since: performance.now(), warned: false });
    this.#watchReleased();
  }

  #watchReleased(): void {
    const now = performance.now();
    for (const [media, watch] of this.#released) {
      const afterMs = Math.round(now - watch.since);
      if (media.getStatus() === GstRtspServer.RTSPMediaStatus.UNPREPARED) {
        this.#released.delete(media);
        watch.log.debug({ afterMs }, 'RTSP media unprepared');
      } else if (!watch.warned && afterMs >= RELEASE_WARN_MS) {
        watch.warned = true;
        watch.log.warn({ afterMs }, 'RTSP media still prepared long after its stream was released: something holds it');
      }
    }
  }

  get port(): number {
    return this.#port;
  }

  /** Starts listening. Throws when the address cannot be bound. */
  start(): void {
    const id = this.#server.attach(null);
    if (!id) {
      throw new PushgateError('MEDIA_ENGINE', `RTSP server could not listen on ${this.#options.host}:${this.#options.port} (address in use?)`);
    }
    this.#sourceId = id;
    this.#port = this.#server.getBoundPort();
    this.#cleanupTimer = setInterval(() => {
      const reaped = this.#server.getSessionPool()?.cleanup() ?? 0;
      if (reaped > 0) this.#options.logger.info({ sessions: reaped }, 'reaped RTSP sessions of vanished readers');
      this.#logFastStart();
      this.#watchReleased();
    }, CLEANUP_INTERVAL_MS);
  }

  mount(path: string, factory: MediaFactory): void {
    this.#server.getMountPoints()?.addFactory(path, factory);
  }

  unmount(path: string): void {
    this.#server.getMountPoints()?.removeFactory(path);
  }

  /** Sessions currently set up on the media whose bin name starts with `binPrefix`. */
  countSessions(binPrefix: string): number {
    return this.#sessions.count(binPrefix);
  }

  /** Closes the connections of that media's readers, which ends their sessions. */
  closeSessions(binPrefix: string): void {
    this.#sessions.close(binPrefix);
  }

  /** Fast start's counters, logged when they change (read from Node's thread, once a second). */
  #logFastStart(): void {
    const counters = this.#fastStart?.counters();
    if (!counters) return;
    const { logBytes, ...joins } = counters;
    const seen = JSON.stringify(joins);
    if (seen === this.#fastStartSeen) return;
    this.#fastStartSeen = seen;
    this.#options.logger.debug({ fastStart: { ...joins, logBytes } }, 'fast start counters');
  }

  /** Stops listening and closes every client. Idempotent. */
  close(): void {
    this.#fastStart?.close();
    clearInterval(this.#cleanupTimer);
    this.#cleanupTimer = undefined;
    this.#released.clear();
    this.#server.clientFilter(() => REMOVE);
    this.#server.getSessionPool()?.filter(() => REMOVE);
    if (this.#sourceId !== undefined) {
      GLib.sourceRemove(this.#sourceId);
      this.#sourceId = undefined;
    }
  }
}
