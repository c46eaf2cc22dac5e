// Which RTSPAuth (if any) the RTSP server gets for an Authorizer.
import type { Authorizer } from '../auth/authorizer';
import type { Logger } from '../core/logger';
import { createRtspAuth, type RtspAuth } from './rtsp-auth';

/**
 * undefined when anyone may read every stream from anywhere (then no JavaScript runs per RTSP
 * request at all); otherwise an RTSPAuth asking the configured policy.
 */
export function rtspAuthFor(authorizer: Authorizer, logger: Logger): RtspAuth | undefined {
  const policy = authorizer.policy;
  if (policy) {
    if (policy.anonymousReadsEverything) return undefined;
    return createRtspAuth({ realm: authorizer.realm, policy, logger, decide: (r) => policy.decide({ ...r, action: 'read' }) });
  }
  return undefined;
}
