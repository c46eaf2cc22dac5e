// Webhooks: every gateway event a hook asks for is POSTed to it as JSON, signed when the hook
// has a secret. Nothing here may hold up media or the request that caused an event: the event
// listener only queues (bounded per hook, the newest dropped when full), and one async sender
// per hook delivers its queue in order, one request at a time, each attempt with a deadline,
// retrying network errors, timeouts, 5xx and 429 with exponential backoff and jitter.
//
// Ownership: Webhooks owns one HookSender per hook; a HookSender owns its queue, its one
// request in flight (an AbortController), its backoff wait and its drop-log timer, and
// releases all of them in close().
import { createHmac, randomUUID } from 'node:crypto';
import type { GatewayEventMap, GatewayEventName, GatewayEvents } from '../core/gateway-events';
import type { Logger } from '../core/logger';
import type { WebhookConfig, WebhooksConfig } from '../config/webhooks-config';
import { WEBHOOK_EVENTS } from '../config/webhooks-config';

/** Counters of one hook (or of all together). */
export interface WebhookCounters {
  /** Events the receiver answered with a 2xx. */
  readonly delivered: number;
  /** Events given up on: a 3xx or a 4xx other than 429, every attempt failed, or cut off by shutdown. */
  readonly failed: number;
  /** Attempts that were repeated (one event retried twice counts 2). */
  readonly retried: number;
  /** Events never sent: the queue was full, or the hook was removed or shut down before their turn. */
  readonly dropped: number;
  /** Events waiting or in flight now. */
  readonly queued: number;
}

export interface WebhookStats {
  /** The hooks configured now, by URL. */
  readonly hooks: readonly (WebhookCounters & { readonly url: string })[];
  /** All hooks together, removed ones included, so that every counter but `queued` only grows. */
  readonly total: WebhookCounters;
}

export interface WebhooksOptions {
  readonly events: GatewayEvents;
  readonly config: WebhooksConfig;
  readonly logger: Logger;
  /** The first retry's wait before jitter; doubled for each further one. */
  readonly retryBaseMs?: number;
  /** The longest wait between attempts. */
  readonly retryMaxMs?: number;
  /** How long close() lets queued and in-flight deliveries go on before aborting them. */
  readonly closeGraceMs?: number;
}

const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 30_000;
const CLOSE_GRACE_MS = 1000;
/** Drops and failures are logged at most this often per hook, with a count. */
const LOG_INTERVAL_MS = 1000;

interface Delivery {
  readonly id: string;
  readonly event: GatewayEventName;
  readonly body: string;
  attempts: number;
}

type Outcome = { readonly ok: true; readonly status: number } | { readonly ok: false; readonly retryable: boolean; readonly why: string };

export class Webhooks {
  readonly #log: Logger;
  readonly #retry: { readonly baseMs: number; readonly maxMs: number };
  readonly #closeGraceMs: number;
  readonly #senders = new Map<string, HookSender>();
  /** Counters of removed hooks, kept so that the totals never go down. */
  readonly #retired = { delivered: 0, failed: 0, retried: 0, dropped: 0 };
  readonly #unsubscribe: (() => void)[];
  #closing: Promise<void> | undefined;

  constructor(options: WebhooksOptions) {
    this.#log = options.logger;
    this.#retry = { baseMs: options.retryBaseMs ?? RETRY_BASE_MS, maxMs: options.retryMaxMs ?? RETRY_MAX_MS };
    this.#closeGraceMs = options.closeGraceMs ?? CLOSE_GRACE_MS;
    this.update(options.config);
    this.#unsubscribe = WEBHOOK_EVENTS.map((name) => options.events.on(name, (payload) => this.#publish(name, payload)));
  }

  /**
   * Applies a new configuration at once (hot reload). Hooks are matched by URL: a kept hook
   * keeps its queue, its request in flight and its counters, and uses the new events, secret,
   * timeout and bounds from its next attempt on; a removed hook's request in flight is aborted
   * and its queued events are dropped; a new hook starts empty.
   */
  update(config: WebhooksConfig): void {
    if (this.#closing) throw new Error('webhooks are closed');
    const urls = new Set(config.hooks.map((hook) => hook.url));
    for (const [url, sender] of this.#senders) {
      if (urls.has(url)) continue;
      this.#senders.delete(url);
      sender.close();
      const counters = sender.counters();
      this.#retired.delivered += counters.delivered;
      this.#retired.failed += counters.failed;
      this.#retired.retried += counters.retried;
      this.#retired.dropped += counters.dropped;
    }
    for (const hook of config.hooks) {
      const settings: HookSettings = { hook, queueSize: config.queueSize, maxAttempts: config.maxAttempts, retry: this.#retry };
      const sender = this.#senders.get(hook.url);
      if (sender) sender.configure(settings);
      else this.#senders.set(hook.url, new HookSender(settings, this.#log.child({ webhook: safeUrl(hook.url) })));
    }
  }

  stats(): WebhookStats {
    const hooks = [...this.#senders.values()].map((sender) => ({ url: sender.url, ...sender.counters() }));
    const total = { ...this.#retired, queued: 0 };
    for (const hook of hooks) {
      total.delivered += hook.delivered;
      total.failed += hook.failed;
      total.retried += hook.retried;
      total.dropped += hook.dropped;
      total.queued += hook.queued;
    }
    return { hooks, total };
  }

  /**
   * Stops listening, then lets every hook send what it has queued (no more retries) for the
   * close grace, then aborts what is still in flight and drops the rest. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const unsubscribe of this.#unsubscribe) unsubscribe();
      await Promise.all([...this.#senders.values()].map((sender) => sender.drain(this.#closeGraceMs)));
    })();
    return this.#closing;
  }

  #publish<K extends GatewayEventName>(name: K, payload: GatewayEventMap[K]): void {
    if (this.#closing) return;
    let delivery: Delivery | undefined;
    for (const sender of this.#senders.values()) {
      if (!sender.wants(name)) continue;
      // One id and one body per event, shared by every hook: receivers can tell duplicates.
      delivery ??= makeDelivery(name, payload);
      sender.enqueue({ ...delivery, attempts: 0 });
    }
  }
}

function makeDelivery<K extends GatewayEventName>(name: K, payload: GatewayEventMap[K]): Delivery {
  const id = randomUUID();
  return { id, event: name, body: JSON.stringify({ event: name, time: new Date().toISOString(), id, ...payload }), attempts: 0 };
}

interface HookSettings {
  readonly hook: WebhookConfig;
  readonly queueSize: number;
  readonly maxAttempts: number;
  readonly retry: { readonly baseMs: number; readonly maxMs: number };
}

type HookState = 'open' | 'draining' | 'closed';

/** One hook: its queue, delivered in order by one async loop. */
class HookSender {
  readonly url: string;
  readonly #log: Logger;
  #settings: HookSettings;
  #events: ReadonlySet<GatewayEventName>;
  /** The head is the one being sent (or waiting to be retried) while the loop runs. */
  readonly #queue: Delivery[] = [];
  #counts = { delivered: 0, failed: 0, retried: 0, dropped: 0 };
  /** 'draining': send what is queued, without retries; 'closed': send nothing more. */
  #state: HookState = 'open';
  /** Set and cleared by the loop itself, in the same turn as it checks the queue. */
  #running = false;
  /** The last loop started; resolved once it ended. */
  #loop: Promise<void> = Promise.resolve();
  #inFlight: AbortController | undefined;
  #backoff: AbortController | undefined;
  readonly #dropLog: ThrottledWarning;
  readonly #failureLog: ThrottledWarning;

  constructor(settings: HookSettings, log: Logger) {
    this.url = settings.hook.url;
    this.#log = log;
    this.#settings = settings;
    this.#events = new Set(settings.hook.events);
    this.#dropLog = new ThrottledWarning(log, 'webhook queue full: events dropped', 'dropped');
    this.#failureLog = new ThrottledWarning(log, 'webhook delivery failed', 'failed');
  }

  configure(settings: HookSettings): void {
    this.#settings = settings;
    this.#events = new Set(settings.hook.events);
  }

  wants(event: GatewayEventName): boolean {
    return this.#state === 'open' && this.#events.has(event);
  }

  counters(): WebhookCounters {
    return { ...this.#counts, queued: this.#queue.length };
  }

  enqueue(delivery: Delivery): void {
    if (this.#queue.length >= this.#settings.queueSize) {
      this.#counts.dropped++;
      this.#dropLog.note({ queueSize: this.#settings.queueSize, droppedTotal: this.#counts.dropped });
      return;
    }
    this.#queue.push(delivery);
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  /** Sends what is queued for at most `graceMs`, then closes. */
  async drain(graceMs: number): Promise<void> {
    if (this.#state !== 'open') return;
    this.#state = 'draining';
    this.#backoff?.abort();
    if (this.#running) {
      // No new loop can start while draining (nothing is enqueued): this one is the last.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.#loop, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
      clearTimeout(timer);
    }
    this.close();
    await this.#loop;
  }

  /** Aborts the request in flight and drops what waits. Idempotent. */
  close(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#backoff?.abort();
    this.#inFlight?.abort();
    // While the loop runs, its head was attempted (it is in flight or waiting to be retried):
    // it fails; the rest were never sent. Counted now, so that a removed hook's counters are final.
    const attempted = this.#running && this.#queue.length > 0 ? 1 : 0;
    this.#counts.failed += attempted;
    this.#counts.dropped += this.#queue.splice(0).length - attempted;
    this.#dropLog.close();
    this.#failureLog.close();
  }

  async #run(): Promise<void> {
    // The first fetch starts in a microtask: the emitter's caller is not kept waiting.
    await Promise.resolve();
    try {
      await this.#sendQueue();
    } finally {
      this.#running = false;
    }
  }

  async #sendQueue(): Promise<void> {
    for (let delivery = this.#queue[0]; delivery && this.#state !== 'closed'; delivery = this.#queue[0]) {
      delivery.attempts++;
      const outcome = await this.#attempt(delivery);
      // Cut off by close(), which counted it (a cast: TypeScript cannot see close() run during the await).
      if ((this.#state as HookState) === 'closed') return;
      if (outcome.ok) {
        this.#counts.delivered++;
        this.#queue.shift();
        continue;
      }
      const { maxAttempts, retry } = this.#settings;
      if (outcome.retryable && delivery.attempts < maxAttempts && this.#state === 'open') {
        this.#counts.retried++;
        const waitMs = backoffMs(delivery.attempts, retry.baseMs, retry.maxMs);
        this.#log.debug({ event: delivery.event, delivery: delivery.id, attempt: delivery.attempts, why: outcome.why, retryInMs: waitMs }, 'webhook attempt failed: retrying');
        await this.#wait(waitMs);
        continue;
      }
      this.#counts.failed++;
      this.#queue.shift();
      this.#failureLog.note({ event: delivery.event, delivery: delivery.id, attempts: delivery.attempts, why: outcome.why });
    }
  }

  /** One POST; never throws. */
  async #attempt(delivery: Delivery): Promise<Outcome> {
    const { hook } = this.#settings;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'pushgate',
      'x-pushgate-event': delivery.event,
      'x-pushgate-delivery': delivery.id,
    };
    if (hook.secret !== undefined) headers['x-pushgate-signature'] = `sha256=${createHmac('sha256', hook.secret).update(delivery.body).digest('hex')}`;
    const controller = new AbortController();
    this.#inFlight = controller;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, hook.timeoutMs);
    try {
      const response = await fetch(this.url, { method: 'POST', headers, body: delivery.body, redirect: 'manual', signal: controller.signal });
      // The answer's body is not wanted: release the connection without reading it.
      await response.body?.cancel().catch(() => undefined);
      const { status } = response;
      if (status >= 200 && status < 300) return { ok: true, status };
      return { ok: false, retryable: status >= 500 || status === 429, why: `answered ${status}` };
    } catch (err) {
      const why = timedOut ? `no answer within ${hook.timeoutMs} ms` : controller.signal.aborted ? 'aborted by shutdown or removal' : describeNetworkError(err as Error);
      return { ok: false, retryable: true, why };
    } finally {
      clearTimeout(timer);
      this.#inFlight = undefined;
    }
  }

  /** Resolves after `ms`, or at once when draining or closing cuts it short. */
  async #wait(ms: number): Promise<void> {
    const controller = new AbortController();
    this.#backoff = controller;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      controller.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    clearTimeout(timer);
    this.#backoff = undefined;
  }
}

/**
 * A warning that can come in floods (a dead receiver, a full queue under a burst of refusals):
 * the first is logged at once, later ones at most once per interval as one line with their
 * count and the fields of the latest. Owns its timer.
 */
class ThrottledWarning {
  readonly #log: Logger;
  readonly #msg: string;
  readonly #countKey: string;
  #unlogged = 0;
  #latest: Record<string, unknown> = {};
  #timer: NodeJS.Timeout | undefined;

  constructor(log: Logger, msg: string, countKey: string) {
    this.#log = log;
    this.#msg = msg;
    this.#countKey = countKey;
  }

  note(fields: Record<string, unknown>): void {
    this.#unlogged++;
    this.#latest = fields;
    if (this.#timer) return;
    this.#flush();
    this.#timer = setTimeout(() => this.#tick(), LOG_INTERVAL_MS).unref();
  }

  /** Logs what is pending and stops the timer. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#flush();
  }

  #tick(): void {
    this.#timer = undefined;
    if (this.#unlogged === 0) return;
    this.#flush();
    this.#timer = setTimeout(() => this.#tick(), LOG_INTERVAL_MS).unref();
  }

  #flush(): void {
    if (this.#unlogged === 0) return;
    this.#log.warn({ ...this.#latest, [this.#countKey]: this.#unlogged }, this.#msg);
    this.#unlogged = 0;
  }
}

/** Full jitter over the upper half: attempt 1 waits 0.5–1 × base, each next one twice as long, capped. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
  return Math.round(ceiling * (0.5 + random() / 2));
}

/** The URL without credentials or query, which may carry secrets: what logs name a hook by. */
function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

function describeNetworkError(err: Error): string {
  // undici reports "fetch failed" and puts the reason (ECONNREFUSED, ...) in cause.
  const cause = err.cause as { code?: unknown; message?: unknown } | undefined;
  const detail = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : undefined;
  return detail ? `${err.message}: ${detail}` : err.message;
}
