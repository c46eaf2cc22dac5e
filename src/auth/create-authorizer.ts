// Which authoriser answers: an external HTTP one when configured, else the configured users.
import type { AccessConfig } from './access-config';
import { AccessPolicy } from './access-policy';
import type { Authorizer } from './authorizer';
import { ExternalAuthorizer } from './external-authorizer';

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
