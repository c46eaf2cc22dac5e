// Which RTSPAuth (if any) the RTSP server gets for an Authorizer.
import type { Authorizer } from '../auth/authorizer';
import type { GatewayEvents } from '../core/gateway-events';
import type { Logger } from '../core/logger';
import { createRtspAuth, type RtspAuth } from './rtsp-auth';
import { MAX_CACHED_ALLOW_MS } from './rtsp-auth-cache';

/**
 * undefined when anyone may read every stream from anywhere and that cannot change (then no
 * JavaScript runs per RTSP request at all); otherwise an RTSPAuth asking the authorizer (the
 * configured policy, or the external authoriser, which gets Basic credentials only: Digest
 * never reveals the password). With `reloadable` access (a config file that can be reloaded)
 * there is always one: a reload may close what was open.
 */
export function rtspAuthFor(authorizer: Authorizer, logger: Logger, reloadable: boolean, events?: GatewayEvents): RtspAuth | undefined {
  if (!reloadable && authorizer.policy?.anonymousReadsEverything) return undefined;
  return createRtspAuth({
    realm: authorizer.realm,
    policy: () => authorizer.policy,
    logger,
    events,
    // An allow of the configured policy is reused until a reload (which forgets them all); an
    // external authoriser's answers are not reused for longer than it asked.
    reuseAllowMs: authorizer.answerCacheMs ?? MAX_CACHED_ALLOW_MS,
    decide: (r) => authorizer.decideSync({ ...r, action: 'read', protocol: 'rtsp' }),
  });
}
