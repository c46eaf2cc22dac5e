// The RTSP sessions of readers: their timeout, how many play a media, and closing them.
//
// node-gtk keeps every GObject it hands to JavaScript alive until V8 collects the wrapper. A
// wrapped RTSPSession or RTSPSessionMedia holds a prepare count on its media, so a stream's
// media (its pipeline and fast start's packet log) would stay in memory for as long as V8
// waits. The native pgsessions element (native/pgsessions.c) does this work in C, and JavaScript
// names a media by the prefix of its bin's name. Without the native plugin the same is done
// here, at the cost of that late release.
//
// Worse than late, a wrapped RTSPSessionMedia can outlive its RTSPSession, and gst-rtsp-server
// 1.22 does not survive that: a session media unlinks its transports from the stream only when
// it is finalized, and each transport's keep-alive callback holds its session as a plain pointer
// (rtsp-client.c, do_keepalive). A TCP reader that stopped reading is reaped by the session
// timeout with its last packets still queued; when it reads again they are sent, the keep-alive
// touches the freed session, and the heap is corrupted (other readers' connections closed, or a
// crash). So the fallback reaps sessions itself and stops their medias first, as gst-rtsp-server
// does when a connection closes. With the native plugin JavaScript holds no session media.
//
// With the native plugin a connection whose last session has ended is also closed after the
// session timeout, so a reader dropped for not reading does not keep its connection forever.
// (Not with gst-rtsp-server's own "post-session-timeout": 1.22 can re-arm that timer on a client
// whose connection is gone and then abort the process when the client is finalized.)
//
// What else a reader's connection needs is done by neighbours: connection-limit.ts (how many),
// rtsp-tls.ts (RTSPS), mount-key.ts (one media per mount), media-watch.ts (media unprepared).
import type { Logger } from '../core/logger';
import { makeNativeElement } from './elements';
import { GLib, Gst, GstRtspServer, NATIVE_PLUGIN_DIR } from './runtime';

type Server = InstanceType<typeof GstRtspServer.RTSPServer>;
type Client = InstanceType<typeof GstRtspServer.RTSPClient>;
type Session = InstanceType<typeof GstRtspServer.RTSPSession>;

export interface RtspSessions {
  /** Sessions set up on a media whose bin name starts with `binPrefix`. */
  count(binPrefix: string): number;
  /** Closes the readers of that media, which ends their sessions. */
  close(binPrefix: string): void;
  /**
   * Removes the sessions whose timeout has passed (how many), and closes connections that have
   * had no session for as long (native only). Call on Node's thread, once a second.
   */
  reap(): number;
}

/** Handles the sessions of `servers` (plain RTSP and RTSPS share one session pool). */
export function attachRtspSessions(servers: readonly Server[], sessionTimeoutS: number, log: Logger, factory = 'pgsessions'): RtspSessions {
  const element = makeNativeElement(factory, 'rtsp-sessions');
  if (element) {
    element.setProperty('session-timeout', sessionTimeoutS);
    for (const server of servers) element.setProperty('add-server', server);
    const pool = servers[0]?.getSessionPool() ?? null;
    return {
      count: (binPrefix) => Number(element.emit('count-sessions', binPrefix)),
      close: (binPrefix) => void element.emit('close-sessions', binPrefix),
      reap: () => {
        const reaped = pool?.cleanup() ?? 0;
        element.emit('close-idle-connections');
        return reaped;
      },
    };
  }
  log.warn(
    { pluginDir: NATIVE_PLUGIN_DIR },
    `the native plugin "${factory}" was not found (build it with scripts/build-native.sh): ended streams release their RTSP media late`,
  );
  return new ScriptedSessions(servers, sessionTimeoutS);
}

const { KEEP, REMOVE } = GstRtspServer.RTSPFilterResult;

/** The fallback: the same work through GObject introspection. */
class ScriptedSessions implements RtspSessions {
  readonly #servers: readonly Server[];

  constructor(servers: readonly Server[], sessionTimeoutS: number) {
    this.#servers = servers;
    for (const server of servers) {
      server.connect('client-connected', (client: Client) => {
        // Runs on the client's thread at SETUP, with the media locked: property writes only.
        client.connect('new-session', (session: Session) => {
          session.setTimeout(sessionTimeoutS);
          // gst-rtsp-server adds 5 s by default: the configured timeout is the limit.
          session.extraTimeout = 0;
        });
      });
    }
  }

  /** The servers share one session pool. */
  get #pool() {
    return this.#servers[0]?.getSessionPool() ?? null;
  }

  count(binPrefix: string): number {
    let count = 0;
    this.#pool?.filter((_pool, session) => {
      if (sessionUses(session, binPrefix)) count++;
      return KEEP;
    });
    return count;
  }

  close(binPrefix: string): void {
    for (const server of this.#servers) {
      server.clientFilter((_server, client) => {
        let playing = false;
        client.sessionFilter((_client, session) => {
          playing ||= sessionUses(session, binPrefix);
          return KEEP;
        });
        return playing ? REMOVE : KEEP;
      });
    }
    // Sessions whose control connection is already gone (UDP readers that vanished).
    this.#pool?.filter((_pool, session) => {
      if (!sessionUses(session, binPrefix)) return KEEP;
      stopMedias(session);
      return REMOVE;
    });
  }

  /** The pool's cleanup(), but each expired session's medias are stopped before it goes. */
  reap(): number {
    const now = GLib.getMonotonicTime();
    let reaped = 0;
    this.#pool?.filter((_pool, session) => {
      if (!session.isExpiredUsec(now)) return KEEP;
      stopMedias(session);
      reaped++;
      return REMOVE;
    });
    return reaped;
  }
}

/**
 * Stops a session's medias and releases them from it, which unlinks their transports from the
 * streams now rather than when the (possibly JavaScript-held) session medias are finalized.
 */
function stopMedias(session: Session): void {
  session.filter((_session, sessionMedia) => {
    sessionMedia.setState(Gst.State.NULL);
    return REMOVE;
  });
}

function sessionUses(session: Session, binPrefix: string): boolean {
  // KEEP, never REF: a list of refs handed to JavaScript would hold the sessions even longer.
  let uses = false;
  session.filter((_session, sessionMedia) => {
    uses ||= sessionMedia.getMedia()?.getElement()?.name.startsWith(binPrefix) ?? false;
    return KEEP;
  });
  return uses;
}
