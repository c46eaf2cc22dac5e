// The WebSocket push's subprotocols. A browser's WebSocket API cannot set an Authorization
// header, so credentials may ride in the one header it can set, Sec-WebSocket-Protocol (as
// Kubernetes does with its bearer tokens): never in the URL, which ends up in logs and history.
//
//   pushgate.v1                           required: the protocol pushgate answers with
//   pushgate.basic.<base64url(user:pass)> Basic credentials
//   pushgate.bearer.<base64url(token)>    a bearer token
//
// base64url without padding: "=" and most punctuation are not allowed in a protocol token.
import type { Credentials } from '../auth/access-policy';

export const PUSH_WS_PROTOCOL = 'pushgate.v1';
const BASIC = 'pushgate.basic.';
const BEARER = 'pushgate.bearer.';

/** The protocols a client offered (comma-separated header values). */
export function offeredProtocols(header: string | undefined): string[] {
  return (header ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
}

/** Credentials carried in the offered protocols; undefined when there are none. */
export function credentialsFromProtocols(header: string | undefined): Credentials | undefined {
  for (const protocol of offeredProtocols(header)) {
    if (protocol.startsWith(BEARER)) {
      const token = decode(protocol.slice(BEARER.length));
      return token ? { kind: 'bearer', token } : { kind: 'invalid' };
    }
    if (protocol.startsWith(BASIC)) {
      const decoded = decode(protocol.slice(BASIC.length));
      const colon = decoded?.indexOf(':') ?? -1;
      if (!decoded || colon < 0) return { kind: 'invalid' };
      return { kind: 'basic', user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
  }
  return undefined;
}

function decode(value: string): string | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(value)) return undefined;
  return Buffer.from(value, 'base64url').toString('utf8');
}
