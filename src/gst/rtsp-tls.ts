// RTSPS with gst-rtsp-server. TLS there is a property of a server's GstRTSPAuth: a server whose
// auth has a certificate wraps every connection it accepts in TLS (GIO's TLS backend,
// glib-networking). Giving a server an auth also makes it check permissions on every request,
// and a bare GstRTSPAuth grants nothing (no default token: 401 to everyone), so an RTSPS server
// that should be as open as the plain one needs a default token whose role every mounted
// factory lets in (ANONYMOUS_ROLE, granted by allowAnonymous()).
import { PushgateError } from '../core/errors';
import { Gio, GstRtspServer } from './runtime';

export type RtspAuth = InstanceType<typeof GstRtspServer.RTSPAuth>;
export type TlsCertificate = InstanceType<typeof Gio.TlsCertificate>;
type MediaFactory = InstanceType<typeof GstRtspServer.RTSPMediaFactory>;

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
