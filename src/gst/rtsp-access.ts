// Which RTSPAuth (if any) the RTSP server gets for an Authorizer.
import type { Authorizer } from '../auth/authorizer';
import type { GatewayEvents } from '../core/gateway-events';
import type { Logger } from '../core/logger';
import { timingSafeEqual } from 'node:crypto';
import { createRtspAuth, type RtspAuth } from './rtsp-auth';
import { MAX_CACHED_ALLOW_MS } from './rtsp-auth-cache';

/**
 * undefined when anyone may read every stream from anywhere and that cannot change (then no
 * JavaScript runs per RTSP request at all); otherwise an RTSPAuth asking the authorizer (the
 * configured policy, or the external authoriser, which gets Basic credentials only: Digest
 * never reveals the password). With `reloadable` access (a config file that can be reloaded)
 * there is always one: a reload may close what was open.
 */
export function rtspAuthFor(authorizer: Authorizer, logger: Logger, reloadable: boolean, events?: GatewayEvents, internal?: InternalReader): RtspAuth | undefined {
  if (!reloadable && authorizer.policy?.anonymousReadsEverything) return undefined;
  return createRtspAuth({
    realm: authorizer.realm,
    policy: () => authorizer.policy,
    logger,
    events,
    // An allow of the configured policy is reused until a reload (which forgets them all); an
    // external authoriser's answers are not reused for longer than it asked.
    reuseAllowMs: authorizer.answerCacheMs ?? MAX_CACHED_ALLOW_MS,
    decide: (r) => (internal && isInternalReader(internal, r) ? { result: 'allow', user: internal.user } : authorizer.decideSync({ ...r, action: 'read', protocol: 'rtsp' })),
  });
}

/**
 * pushgate's own reader (the WebRTC relays): a random credential made at start, accepted only
 * from loopback or the address the gateway listens on (a relay connects from there), for reading.
 */
export interface InternalReader {
  readonly user: string;
  readonly password: string;
  /** The listen address when it is not a wildcard: the relays' source address. */
  readonly ownAddress?: string | undefined;
}

function isInternalReader(internal: InternalReader, request: Parameters<Parameters<typeof createRtspAuth>[0]['decide']>[0]): boolean {
  const { credentials, ip } = request;
  if (credentials.kind !== 'basic' || credentials.user !== internal.user) return false;
  const loopback = ip === '::1' || ip.startsWith('127.') || ip.startsWith('::ffff:127.') || (internal.ownAddress !== undefined && ip === internal.ownAddress);
  const given = Buffer.from(credentials.password);
  const expected = Buffer.from(internal.password);
  return loopback && given.length === expected.length && timingSafeEqual(given, expected);
}
