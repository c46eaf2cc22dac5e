// What a reloaded config changes, and what of it a running gateway can take: users,
// permissions, limits, the grace period and webhooks apply at once, to the next request or
// connection; listeners, TLS, threads, timeouts, the log level and the media pipeline's options
// need a restart.
import type { AccessConfig } from '../auth/access-config';
import type { Config } from './config';
import { OPTIONS } from './config';

/** Options a running gateway applies without dropping a stream or reader. */
export const LIVE_OPTIONS: ReadonlySet<keyof Config> = new Set<keyof Config>([
  'graceMs',
  'maxStreams',
  'maxPublishersPerAddress',
  'maxReadersPerStream',
  'maxReaders',
  'maxConnections',
  'maxRtspConnectionsPerAddress',
]);

export interface ReloadPlan {
  /** Changed options applied live. */
  readonly live: readonly (keyof Config)[];
  /** Changed options kept at their running value until a restart. */
  readonly needRestart: readonly (keyof Config)[];
  /** Users, permissions or external authorisation changed. */
  readonly access: boolean;
  /** The realm changed: it needs a restart (clients hold challenges issued under the old one). */
  readonly realmNeedsRestart: boolean;
}

export function planReload(running: { config: Config; access: AccessConfig }, next: { config: Config; access: AccessConfig }): ReloadPlan {
  const changed = OPTIONS.map((o) => o.key).filter((key) => running.config[key] !== next.config[key]);
  return {
    live: changed.filter((key) => LIVE_OPTIONS.has(key)),
    needRestart: changed.filter((key) => !LIVE_OPTIONS.has(key)),
    access: JSON.stringify({ ...running.access, realm: '' }) !== JSON.stringify({ ...next.access, realm: '' }),
    realmNeedsRestart: running.access.realm !== next.access.realm,
  };
}

/**
 * The config a gateway runs with after taking `next`: the live options and access from `next`,
 * the rest (and the realm) as they run.
 */
export function appliedConfig(running: Config, next: Config): Config {
  const applied: Record<string, unknown> = { ...running };
  for (const key of LIVE_OPTIONS) applied[key] = next[key];
  return applied as unknown as Config;
}
