// The authoriser of a gateway whose config file can be reloaded: every question goes to the
// authoriser built from the access config in force, which a reload replaces whole (users,
// permissions, external authorisation). The realm stays: clients hold Digest nonces and
// challenges issued under it.
import type { AccessConfig } from './access-config';
import type { AccessPolicy, Decision } from './access-policy';
import type { AuthRequest, Authorizer } from './authorizer';
import { createAuthorizer } from './create-authorizer';

export class ReloadableAuthorizer implements Authorizer {
  readonly realm: string;
  #current: Authorizer;

  constructor(access: AccessConfig) {
    this.realm = access.realm;
    this.#current = createAuthorizer(access);
  }

  get policy(): AccessPolicy | undefined {
    return this.#current.policy;
  }

  get answerCacheMs(): number | undefined {
    return this.#current.answerCacheMs;
  }

  decide(request: AuthRequest): Promise<Decision> {
    return this.#current.decide(request);
  }

  decideSync(request: AuthRequest): Decision {
    return this.#current.decideSync(request);
  }

  /** From now on `access` decides (whoever caches answers must forget them: RtspServer.accessChanged). */
  replace(access: AccessConfig): void {
    const previous = this.#current;
    this.#current = createAuthorizer({ ...access, realm: this.realm });
    previous.close();
  }

  close(): void {
    this.#current.close();
  }
}
