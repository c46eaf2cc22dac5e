// What the operator configures about who may do what: plain data, validated by the config
// loader (src/config/config-file.ts) and enforced by AccessPolicy.

export const ACTIONS = ['publish', 'read', 'api'] as const;
export type Action = (typeof ACTIONS)[number];

export interface Permission {
  readonly action: Action;
  /** Stream-name patterns; `*` matches any run of characters, `/` included ("site1/*", "*"). */
  readonly streams: readonly string[];
  /** Narrows the user's networks for this permission only (CIDR). */
  readonly networks?: readonly string[] | undefined;
}

export interface UserEntry {
  /** "anonymous" is the entry for requests without credentials. */
  readonly name: string;
  /** A password hash: `sha256:<hex>` or bcrypt (`$2a$`/`$2b$`/`$2y$`). */
  readonly password?: string | undefined;
  /** Bearer tokens, hashed: `sha256:<hex>` (tokens are random, a fast hash is enough). */
  readonly tokens?: readonly string[] | undefined;
  /** RTSP Digest: md5(`name:realm:password`) as 32 hex digits... */
  readonly digestHa1?: string | undefined;
  /** ...or the password in plain text, given only for Digest. */
  readonly digestPlainPassword?: string | undefined;
  /** Source networks (CIDR) the user may connect from; absent = anywhere. */
  readonly networks?: readonly string[] | undefined;
  readonly permissions: readonly Permission[];
}

export interface ExternalAuthConfig {
  readonly url: string;
  readonly timeoutMs: number;
  readonly cacheMs: number;
}

export interface AccessConfig {
  /** The realm of Basic/Digest challenges (Digest HA1s are computed with it). */
  readonly realm: string;
  readonly users: readonly UserEntry[];
  readonly externalAuth?: ExternalAuthConfig | undefined;
}

export const ANONYMOUS = 'anonymous';
export const DEFAULT_REALM = 'pushgate';

export const LOOPBACK_NETWORKS = ['127.0.0.0/8', '::1/128'] as const;
export const PRIVATE_NETWORKS = [...LOOPBACK_NETWORKS, '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'] as const;

/**
 * Without users in the config: anyone may read, publishing only from loopback and private
 * networks, the API only from loopback.
 */
export const DEFAULT_ACCESS: AccessConfig = {
  realm: DEFAULT_REALM,
  users: [
    {
      name: ANONYMOUS,
      permissions: [
        { action: 'read', streams: ['*'] },
        { action: 'publish', streams: ['*'], networks: PRIVATE_NETWORKS },
        { action: 'api', streams: ['*'], networks: LOOPBACK_NETWORKS },
      ],
    },
  ],
};
