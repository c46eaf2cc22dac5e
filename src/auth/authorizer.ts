// The question every protocol asks, and the two ways it is answered: the configured users
// (AccessPolicy), or an external HTTP authoriser.
import type { AccessConfig } from './access-config';
import { AccessPolicy, type AccessRequest, type Decision } from './access-policy';
import { ExternalAuthorizer } from './external-authorizer';

export type Protocol = 'http' | 'rtsp';

export interface AuthRequest extends AccessRequest {
  readonly protocol: Protocol;
}

export interface Authorizer {
  readonly realm: string;
  /** The configured policy (undefined when an external authoriser decides). */
  readonly policy: AccessPolicy | undefined;
  /** How long an answer may be reused (an external authoriser's cache); undefined: as long as the process runs. */
  readonly answerCacheMs?: number | undefined;
  decide(request: AuthRequest): Promise<Decision>;
  /** The same decision, synchronously (for RTSP's access check). */
  decideSync(request: AuthRequest): Decision;
  close(): void;
}

export function createAuthorizer(access: AccessConfig): Authorizer {
  if (access.externalAuth) return new ExternalAuthorizer(access.realm, access.externalAuth);
  const policy = new AccessPolicy(access);
  return {
    realm: access.realm,
    policy,
    decide: (request) => Promise.resolve(policy.decide(request)),
    decideSync: (request) => policy.decide(request),
    close: () => {},
  };
}
