// Who may do what, decided in plain TypeScript for HTTP and RTSP alike: credentials -> user,
// then the user's networks and permissions against the action, stream and source address.
import { ANONYMOUS, type AccessConfig, type Action, type Permission, type UserEntry } from './access-config';
import { NetworkList } from './networks';
import { digestHa1, safeEqual, verifyPassword, verifyToken } from './secrets';

export type Credentials =
  | { readonly kind: 'none' }
  | { readonly kind: 'basic'; readonly user: string; readonly password: string }
  | { readonly kind: 'bearer'; readonly token: string }
  /** A Digest response the protocol layer has checked against `digestHa1(user)`. */
  | { readonly kind: 'digest'; readonly user: string }
  /** Digest credentials that did not check out (unknown user, stale nonce, wrong response). */
  | { readonly kind: 'invalid' };

export interface AccessRequest {
  readonly credentials: Credentials;
  readonly ip: string;
  readonly action: Action;
  /** The stream name; "*" stands for "every stream" (e.g. listing them all). */
  readonly stream: string;
}

export type Decision =
  | { readonly result: 'allow'; readonly user: string }
  /** No or wrong credentials: answer 401 with a challenge. */
  | { readonly result: 'unauthorized'; readonly reason: string }
  /** Known user (or anonymous with credentials not needed) without the permission: 403. */
  | { readonly result: 'forbidden'; readonly user: string; readonly reason: string };

interface CompiledPermission {
  readonly action: Action;
  readonly patterns: readonly RegExp[];
  readonly networks: NetworkList | undefined;
}

interface CompiledUser {
  readonly entry: UserEntry;
  readonly networks: NetworkList | undefined;
  readonly permissions: readonly CompiledPermission[];
}

export class AccessPolicy {
  readonly realm: string;
  readonly #users = new Map<string, CompiledUser>();
  readonly #anonymous: CompiledUser | undefined;

  constructor(config: AccessConfig) {
    this.realm = config.realm;
    for (const entry of config.users) this.#users.set(entry.name, compileUser(entry));
    this.#anonymous = this.#users.get(ANONYMOUS);
    this.#users.delete(ANONYMOUS);
  }

  /** Anyone may read every stream from anywhere: RTSP needs no check at all. */
  get anonymousReadsEverything(): boolean {
    const anonymous = this.#anonymous;
    return (
      anonymous !== undefined &&
      !anonymous.networks &&
      anonymous.permissions.some((p) => p.action === 'read' && !p.networks && p.patterns.some((re) => re.source === '^.*$'))
    );
  }

  /** Whether any configured user can answer a Digest challenge (so RTSP offers Digest). */
  get hasDigestUsers(): boolean {
    return [...this.#users.values()].some((u) => u.entry.digestHa1 !== undefined || u.entry.digestPlainPassword !== undefined);
  }

  /** The Digest HA1 of a user configured for Digest, or undefined. */
  digestHa1(user: string): string | undefined {
    const entry = this.#users.get(user)?.entry;
    if (!entry) return undefined;
    if (entry.digestHa1) return entry.digestHa1.toLowerCase();
    if (entry.digestPlainPassword !== undefined) return digestHa1(user, this.realm, entry.digestPlainPassword);
    return undefined;
  }

  decide(request: AccessRequest): Decision {
    const { credentials } = request;
    if (credentials.kind === 'none') {
      const anonymous = this.#anonymous;
      if (anonymous && permits(anonymous, request)) return { result: 'allow', user: ANONYMOUS };
      return { result: 'unauthorized', reason: 'credentials required' };
    }
    const user = this.#identify(credentials);
    if (!user) return { result: 'unauthorized', reason: 'wrong credentials' };
    const name = user.entry.name;
    if (user.networks && !user.networks.has(request.ip)) return { result: 'forbidden', user: name, reason: `user "${name}" may not connect from ${request.ip}` };
    if (permits(user, request)) return { result: 'allow', user: name };
    return { result: 'forbidden', user: name, reason: `user "${name}" may not ${request.action} "${request.stream}" from ${request.ip}` };
  }

  #identify(credentials: Credentials): CompiledUser | undefined {
    switch (credentials.kind) {
      case 'basic': {
        const user = this.#users.get(credentials.user);
        // Unknown users cost a hash too, so timing does not tell which names exist.
        if (!user?.entry.password) {
          safeEqual(credentials.password, credentials.user);
          return undefined;
        }
        return verifyPassword(user.entry.password, credentials.password) ? user : undefined;
      }
      case 'bearer': {
        let found: CompiledUser | undefined;
        for (const user of this.#users.values()) {
          for (const stored of user.entry.tokens ?? []) if (verifyToken(stored, credentials.token)) found ??= user;
        }
        return found;
      }
      case 'digest':
        return this.#users.get(credentials.user);
      default:
        return undefined;
    }
  }
}

function permits(user: CompiledUser, request: AccessRequest): boolean {
  if (user.networks && !user.networks.has(request.ip)) return false;
  return user.permissions.some(
    (p) => p.action === request.action && p.patterns.some((re) => re.test(request.stream)) && (!p.networks || p.networks.has(request.ip)),
  );
}

function compileUser(entry: UserEntry): CompiledUser {
  return {
    entry,
    networks: entry.networks ? new NetworkList(entry.networks) : undefined,
    permissions: entry.permissions.map(compilePermission),
  };
}

function compilePermission(permission: Permission): CompiledPermission {
  return {
    action: permission.action,
    patterns: permission.streams.map(streamPattern),
    networks: permission.networks ? new NetworkList(permission.networks) : undefined,
  };
}

/** "site1/*" -> /^site1\/.*$/: `*` is any run of characters, everything else is literal. */
export function streamPattern(glob: string): RegExp {
  const source = glob
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`);
}
