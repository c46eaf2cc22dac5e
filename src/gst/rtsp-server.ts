// gst-rtsp-server set up for many readers: several client threads (one slow request must not
// stall the others), a real listen backlog, sessions reaped on a timer, and a way to end the
// sessions of one stream. Every call here runs on Node's thread; the only JavaScript that ever
// runs on an RTSP client thread is the tiny session-timeout handler, which holds no lock.
import type { Authorizer } from '../auth/authorizer';
import { PushgateError } from '../core/errors';
import type { Logger } from '../core/logger';
import { FastStart } from './fast-start';
import { rtspAuthFor } from './rtsp-access';
import { GLib, GstRtspServer } from './runtime';

type Server = InstanceType<typeof GstRtspServer.RTSPServer>;
type Client = InstanceType<typeof GstRtspServer.RTSPClient>;
type Session = InstanceType<typeof GstRtspServer.RTSPSession>;
type Media = InstanceType<typeof GstRtspServer.RTSPMedia>;
export type MediaFactory = InstanceType<typeof GstRtspServer.RTSPMediaFactory>;
export type MediaPredicate = (media: Media | null) => boolean;

export interface RtspServerOptions {
  readonly host: string;
  readonly port: number;
  /** Sessions of readers that vanished without TEARDOWN are reaped after this. */
  readonly sessionTimeoutS: number;
  readonly clientThreads: number;
  /** Prime late TCP readers from a packet log (native plugin; off when it is missing). */
  readonly fastStart: boolean;
  /** Decides who may read which stream (no RTSP auth at all when anyone may read anything). */
  readonly authorizer?: Authorizer | undefined;
  readonly logger: Logger;
}

const { KEEP, REMOVE } = GstRtspServer.RTSPFilterResult;
const CLEANUP_INTERVAL_MS = 1000;

export class RtspServer {
  readonly #options: RtspServerOptions;
  readonly #server: Server;
  readonly #fastStart: FastStart | undefined;
  #fastStartSeen = '';
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
    const auth = options.authorizer ? rtspAuthFor(options.authorizer, options.logger) : undefined;
    if (auth) this.#server.setAuth(auth);
    const sessionTimeout = options.sessionTimeoutS;
    this.#server.connect('client-connected', (client: Client) => {
      // Runs on the client's thread at SETUP: keep it to one property write.
      // gst-rtsp-server adds 5 s of "extra-timeout" on top by default: the configured timeout is the limit.
      client.connect('new-session', (session: Session) => {
        session.setTimeout(sessionTimeout);
        session.extraTimeout = 0;
      });
    });
    this.#fastStart = options.fastStart ? FastStart.attach(this.#server, options.logger) : undefined;
  }

  /** Whether late TCP readers are primed (the option is on and the native plugin loaded). */
  get fastStart(): boolean {
    return this.#fastStart !== undefined;
  }

  /** A stream's media is done with: fast start drops its log and its hold on it. */
  releaseMedia(media: Media): void {
    this.#fastStart?.releaseMedia(media);
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
    }, CLEANUP_INTERVAL_MS);
  }

  mount(path: string, factory: MediaFactory): void {
    this.#server.getMountPoints()?.addFactory(path, factory);
  }

  unmount(path: string): void {
    this.#server.getMountPoints()?.removeFactory(path);
  }

  /** Sessions currently set up on a media that `owns` accepts. */
  countSessions(owns: MediaPredicate): number {
    let count = 0;
    this.#server.getSessionPool()?.filter((_pool, session) => {
      if (sessionUses(session, owns)) count++;
      return KEEP;
    });
    return count;
  }

  /** Closes the connections of the readers of the medias `owns` accepts, which ends their sessions. */
  closeSessions(owns: MediaPredicate): void {
    this.#server.clientFilter((_server, client) => {
      let playing = false;
      client.sessionFilter((_client, session) => {
        playing ||= sessionUses(session, owns);
        return KEEP;
      });
      return playing ? REMOVE : KEEP;
    });
    // Sessions whose control connection is already gone (UDP readers that vanished).
    this.#server.getSessionPool()?.filter((_pool, session) => (sessionUses(session, owns) ? REMOVE : KEEP));
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
    this.#server.clientFilter(() => REMOVE);
    this.#server.getSessionPool()?.filter(() => REMOVE);
    if (this.#sourceId !== undefined) {
      GLib.sourceRemove(this.#sourceId);
      this.#sourceId = undefined;
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
