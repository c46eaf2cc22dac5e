// External authorisation: POST {user, password | token, ip, action, stream, protocol} as JSON to
// a configured URL; a 2xx answer allows, anything else (status, timeout, network error) denies.
// Answers are cached for cacheMs under a digest of the question, so no secret is kept in clear.
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ExternalAuthConfig } from './access-config';
import type { Decision } from './access-policy';
import type { AuthRequest, Authorizer } from './authorizer';
import { sha256 } from './secrets';

export interface ExternalQuestion {
  readonly user: string | null;
  readonly password: string | null;
  readonly token: string | null;
  readonly ip: string;
  readonly action: string;
  readonly stream: string;
  readonly protocol: string;
}

const CACHE_LIMIT = 10_000;

export function externalQuestion(request: AuthRequest): ExternalQuestion {
  const c = request.credentials;
  return {
    user: c.kind === 'basic' || c.kind === 'digest' ? c.user : null,
    password: c.kind === 'basic' ? c.password : null,
    token: c.kind === 'bearer' ? c.token : null,
    ip: request.ip,
    action: request.action,
    stream: request.stream,
    protocol: request.protocol,
  };
}

export function questionKey(question: ExternalQuestion): string {
  return sha256(JSON.stringify(question)).toString('hex');
}

/** A cache of allow/deny answers that expire. */
export class AnswerCache {
  readonly #answers = new Map<string, { allowed: boolean; expiresAt: number }>();
  readonly #ttlMs: number;

  constructor(ttlMs: number) {
    this.#ttlMs = ttlMs;
  }

  get(key: string): boolean | undefined {
    const answer = this.#answers.get(key);
    if (!answer) return undefined;
    if (answer.expiresAt <= performance.now()) {
      this.#answers.delete(key);
      return undefined;
    }
    return answer.allowed;
  }

  set(key: string, allowed: boolean): void {
    if (this.#ttlMs <= 0) return;
    if (this.#answers.size >= CACHE_LIMIT) this.#answers.clear();
    this.#answers.set(key, { allowed, expiresAt: performance.now() + this.#ttlMs });
  }
}

export function decisionFrom(allowed: boolean, question: ExternalQuestion): Decision {
  if (allowed) return { result: 'allow', user: question.user ?? 'anonymous' };
  return { result: 'unauthorized', reason: 'the external authoriser refused' };
}

export class ExternalAuthorizer implements Authorizer {
  readonly realm: string;
  readonly policy = undefined;
  readonly config: ExternalAuthConfig;
  readonly cache: AnswerCache;
  readonly answerCacheMs: number;

  constructor(realm: string, config: ExternalAuthConfig) {
    this.realm = realm;
    this.config = config;
    this.cache = new AnswerCache(config.cacheMs);
    this.answerCacheMs = config.cacheMs;
  }

  /**
   * For RTSP, whose access check must answer synchronously (see SyncExternalAsker): the
   * cache, else the authoriser with Node's thread waiting for at most timeoutMs.
   */
  decideSync(request: AuthRequest): Decision {
    const question = externalQuestion(request);
    const key = questionKey(question);
    let allowed = this.cache.get(key);
    if (allowed === undefined) {
      this.#sync ??= new SyncExternalAsker(this.config);
      allowed = this.#sync.ask(question);
      this.cache.set(key, allowed);
    }
    return decisionFrom(allowed, question);
  }

  #sync: SyncExternalAsker | undefined;

  async decide(request: AuthRequest): Promise<Decision> {
    const question = externalQuestion(request);
    const key = questionKey(question);
    let allowed = this.cache.get(key);
    if (allowed === undefined) {
      allowed = await askExternal(this.config, question);
      this.cache.set(key, allowed);
    }
    return decisionFrom(allowed, question);
  }

  close(): void {
    this.#sync?.close();
    this.#sync = undefined;
  }
}

/**
 * The RTSP access check runs as a node-gtk callback that must return its answer: it cannot
 * await. So the HTTP request is made by a worker thread while Node's thread blocks in
 * Atomics.wait for at most timeoutMs (then: refused). Blocking Node's thread stalls HTTP
 * pushes and the GLib loop for that long, once per uncached question; the cache keeps that
 * to one wait per reader and cacheMs. The alternative, answering a cache miss with a
 * "try again" status, fails in practice: RTSP players do not retry a refused DESCRIBE.
 */
export class SyncExternalAsker {
  readonly #worker: Worker;
  readonly #timeoutMs: number;

  constructor(config: ExternalAuthConfig) {
    this.#timeoutMs = config.timeoutMs;
    this.#worker = new Worker(path.join(__dirname, 'external-worker.js'), { workerData: config });
    this.#worker.unref();
  }

  ask(question: ExternalQuestion): boolean {
    const answer = new Int32Array(new SharedArrayBuffer(4));
    this.#worker.postMessage({ question, answer });
    // A little over the worker's own timeout, so its "refused" normally arrives first.
    const waited = Atomics.wait(answer, 0, 0, this.#timeoutMs + 100);
    return waited !== 'timed-out' && Atomics.load(answer, 0) === 1;
  }

  close(): void {
    void this.#worker.terminate();
  }
}

export async function askExternal(config: ExternalAuthConfig, question: ExternalQuestion): Promise<boolean> {
  try {
    const response = await fetch(config.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(question),
      signal: AbortSignal.timeout(config.timeoutMs),
      redirect: 'error',
    });
    await response.arrayBuffer().catch(() => undefined);
    return response.status >= 200 && response.status < 300;
  } catch {
    return false;
  }
}
