// Allowed RTSP access checks, remembered natively for a few seconds (native/pgauthcache.c, element
// "pgauthcache"). gst-rtsp-server checks access several times per request, and each check of
// pushgate's RTSPAuth runs JavaScript, for which node-gtk allocates: 2000 DESCRIBEs with Basic
// credentials grew the process by ~90 MB of V8 heap. The plugin answers the connection and URL
// checks itself (pushgate allows both), and a media factory check from its cache when the same
// address presented the same Authorization header for the same path and was allowed less than
// the TTL ago; refusals and Digest answers always go to JavaScript.
import type { Logger } from '../core/logger';
import { makeNativeElement, type NativeElement } from './elements';
import { NATIVE_PLUGIN_DIR, type GstRtspServer } from './runtime';

type RtspAuth = InstanceType<typeof GstRtspServer.RTSPAuth>;

/** Longest an allow is reused: a policy change by an external authoriser shows within it. */
export const MAX_CACHED_ALLOW_MS = 10_000;

export interface AuthCacheCounters {
  /** Media factory checks answered from the cache. */
  readonly hits: number;
  /** Media factory checks that ran JavaScript. */
  readonly misses: number;
}

/** Created once, on first use; null once its plugin was found missing. */
let element: NativeElement | null | undefined;

/**
 * Has the plugin answer `auth`'s repeated allowed checks for `ttlMs` (0: never). False, with a
 * warning, when the plugin is missing: then every check runs JavaScript, as before.
 */
export function cacheAllowedChecks(auth: RtspAuth, ttlMs: number, log: Logger): boolean {
  element ??= makeNativeElement('pgauthcache', 'rtsp-auth-cache') ?? null;
  if (!element) {
    log.warn({ pluginDir: NATIVE_PLUGIN_DIR }, 'the native plugin "pgauthcache" was not found (build it with scripts/build-native.sh): every RTSP access check runs JavaScript');
    return false;
  }
  return Boolean(element.emit('cache-checks', auth, Math.max(0, Math.min(ttlMs, MAX_CACHED_ALLOW_MS))));
}

/** Forgets every allow remembered for `auth`: the policy it was given under has changed. */
export function forgetAllowedChecks(auth: RtspAuth): void {
  element?.emit('forget-checks', auth);
}

/** undefined until an auth was cached. */
export function authCacheCounters(): AuthCacheCounters | undefined {
  if (!element) return undefined;
  return { hits: Number(element.getProperty('hits')), misses: Number(element.getProperty('misses')) };
}
