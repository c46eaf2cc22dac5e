// Which RTSPAuth (if any) the RTSP server gets for an Authorizer.
import type { Authorizer } from '../auth/authorizer';
import type { Logger } from '../core/logger';
import { createRtspAuth, type RtspAuth } from './rtsp-auth';
import { MAX_CACHED_ALLOW_MS } from './rtsp-auth-cache';

/**
 * undefined when anyone may read every stream from anywhere (then no JavaScript runs per RTSP
 * request at all); otherwise an RTSPAuth asking the authorizer (the configured policy, or the
 * external authoriser, which gets Basic credentials only: Digest never reveals the password).
 */
export function rtspAuthFor(authorizer: Authorizer, logger: Logger): RtspAuth | undefined {
  if (authorizer.policy?.anonymousReadsEverything) return undefined;
  return createRtspAuth({
    realm: authorizer.realm,
    policy: authorizer.policy,
    logger,
    // The configured policy does not change while pushgate runs; an external authoriser's
    // answers are not reused for longer than it asked.
    reuseAllowMs: authorizer.answerCacheMs ?? MAX_CACHED_ALLOW_MS,
    decide: (r) => authorizer.decideSync({ ...r, action: 'read', protocol: 'rtsp' }),
  });
}
