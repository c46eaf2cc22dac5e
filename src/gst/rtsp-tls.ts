// RTSPS with gst-rtsp-server. TLS there is a property of a server's GstRTSPAuth: a server whose
// auth has a certificate wraps every connection it accepts in TLS (GIO's TLS backend,
// glib-networking). Giving a server an auth also makes it check permissions on every request,
// and a bare GstRTSPAuth grants nothing (no default token: 401 to everyone), so an RTSPS server
// that should be as open as the plain one needs a default token whose role every mounted
// factory lets in (ANONYMOUS_ROLE, granted by allowAnonymous()).
//
// GstRTSPAuth puts its certificate on a new connection in its default "connect" check, which
// pushgate's RTSPAuth overrides: the native pgrtsptls element (native/pgrtsptls.c) does it
// instead, before the connection's first read, and keeps RTSPS readers' media on the TLS
// connection (interleaved TCP only: media over UDP would leave it unencrypted).
import { PushgateError } from '../core/errors';
import type { Logger } from '../core/logger';
import { makeNativeElement, type NativeElement } from './elements';
import { Gio, GstRtspServer, NATIVE_PLUGIN_DIR } from './runtime';

export type RtspAuth = InstanceType<typeof GstRtspServer.RTSPAuth>;
export type TlsCertificate = InstanceType<typeof Gio.TlsCertificate>;
type MediaFactory = InstanceType<typeof GstRtspServer.RTSPMediaFactory>;
type Server = InstanceType<typeof GstRtspServer.RTSPServer>;

/** The role of readers who present no credentials. */
export const ANONYMOUS_ROLE = 'anonymous';
const ROLE_FIELD = 'media.factory.role';
const FACTORY_ACCESS = 'media.factory.access';
const FACTORY_CONSTRUCT = 'media.factory.construct';

/** Reads the PEM certificate (chain) and key for GIO. Throws a PushgateError saying why not. */
export function loadTlsCertificate(certPath: string, keyPath: string): TlsCertificate {
  try {
    return Gio.TlsCertificate.newFromFiles(certPath, keyPath);
  } catch (err) {
    throw new PushgateError('MEDIA_ENGINE', `RTSPS: GIO cannot load certificate ${certPath} with key ${keyPath}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** TLS on every connection of the servers that use `auth`; no client certificates asked for. */
export function enableTls(auth: RtspAuth, certificate: TlsCertificate): void {
  auth.setTlsCertificate(certificate);
  auth.setTlsAuthenticationMode(Gio.TlsAuthenticationMode.NONE);
}

/** RTSPS connections set up in C (native pgrtsptls) until close(). */
export class TlsConnections {
  readonly #element: NativeElement;
  #closed = false;

  private constructor(element: NativeElement) {
    this.#element = element;
  }

  /**
   * Sets up the connections of `servers` (those whose auth has a certificate). Undefined, with
   * a warning, when the native plugin is missing.
   */
  static attach(servers: readonly Server[], log: Logger, factory = 'pgrtsptls'): TlsConnections | undefined {
    const element = makeNativeElement(factory, 'rtsp-tls');
    if (!element) {
      log.warn({ pluginDir: NATIVE_PLUGIN_DIR }, `the native plugin "${factory}" was not found (build it with scripts/build-native.sh): RTSPS connections get no certificate, and RTSPS readers are not kept to TCP`);
      return undefined;
    }
    for (const server of servers) element.setProperty('add-server', server);
    return new TlsConnections(element);
  }

  /** Stops watching new clients. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#element.setProperty('detach', true);
  }
}

/** An auth that lets anyone read, as a server with no auth at all does. */
export function createOpenRtspAuth(): RtspAuth {
  const auth = new GstRtspServer.RTSPAuth();
  const token = GstRtspServer.RTSPToken.new();
  token.setString(ROLE_FIELD, ANONYMOUS_ROLE);
  auth.setDefaultToken(token);
  return auth;
}

/**
 * Lets ANONYMOUS_ROLE see and build `factory`'s media. Only servers with an auth look at
 * factory permissions: the plain server (no auth) is unaffected.
 */
export function allowAnonymous(factory: MediaFactory): void {
  const permissions = GstRtspServer.RTSPPermissions.new();
  permissions.addPermissionForRole(ANONYMOUS_ROLE, FACTORY_ACCESS, true);
  permissions.addPermissionForRole(ANONYMOUS_ROLE, FACTORY_CONSTRUCT, true);
  factory.setPermissions(permissions);
}
