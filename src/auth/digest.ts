// RTSP Digest (RFC 2069 style, as gst-rtsp-server and its clients speak it: MD5, no qop):
// server nonces bound to the client's address, and the check of a client's response against
// the user's HA1. Plain TypeScript; the RTSP glue is in src/gst/rtsp-auth.ts.
import { randomBytes } from 'node:crypto';
import { md5Hex, safeEqual } from './secrets';

/** Nonces live this long after their last use (an RTSP session reuses its nonce for keep-alives). */
const NONCE_IDLE_MS = 10 * 60_000;
const NONCE_LIMIT = 10_000;

export class NonceStore {
  readonly #nonces = new Map<string, { ip: string; usedAt: number }>();

  issue(ip: string): string {
    if (this.#nonces.size >= NONCE_LIMIT) this.#prune();
    const nonce = randomBytes(16).toString('hex');
    this.#nonces.set(nonce, { ip, usedAt: performance.now() });
    return nonce;
  }

  /** Whether `nonce` was issued to `ip` and is still fresh; refreshes it. */
  use(nonce: string, ip: string): boolean {
    const entry = this.#nonces.get(nonce);
    if (!entry || entry.ip !== ip || performance.now() - entry.usedAt > NONCE_IDLE_MS) return false;
    entry.usedAt = performance.now();
    return true;
  }

  #prune(): void {
    const now = performance.now();
    for (const [nonce, entry] of this.#nonces) if (now - entry.usedAt > NONCE_IDLE_MS) this.#nonces.delete(nonce);
    // Still full (a flood of challenges): forget the oldest half.
    if (this.#nonces.size >= NONCE_LIMIT) [...this.#nonces.keys()].slice(0, NONCE_LIMIT / 2).forEach((n) => this.#nonces.delete(n));
  }
}

export interface DigestParams {
  readonly username: string;
  readonly realm: string;
  readonly nonce: string;
  readonly uri: string;
  readonly response: string;
  readonly qop: string | undefined;
  readonly algorithm: string | undefined;
}

/** The parameters of an `Authorization: Digest ...` value, or undefined if it is not one. */
export function parseDigest(header: string): DigestParams | undefined {
  const match = /^\s*Digest\s+(.*)$/is.exec(header);
  if (!match) return undefined;
  const params = new Map<string, string>();
  const re = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  for (let m = re.exec(match[1]!); m; m = re.exec(match[1]!)) params.set(m[1]!.toLowerCase(), m[2] ?? m[3] ?? '');
  const [username, realm, nonce, uri, response] = ['username', 'realm', 'nonce', 'uri', 'response'].map((k) => params.get(k));
  if (username === undefined || realm === undefined || nonce === undefined || uri === undefined || response === undefined) return undefined;
  return { username, realm, nonce, uri, response, qop: params.get('qop'), algorithm: params.get('algorithm') };
}

/** response = md5(HA1:nonce:md5(method:uri)), compared in constant time. */
export function digestResponseMatches(params: DigestParams, method: string, ha1: string): boolean {
  if (params.qop !== undefined || (params.algorithm !== undefined && params.algorithm.toUpperCase() !== 'MD5')) return false;
  const expected = md5Hex(`${ha1}:${params.nonce}:${md5Hex(`${method}:${params.uri}`)}`);
  return safeEqual(expected, params.response.toLowerCase());
}
