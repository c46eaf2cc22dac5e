// Webhooks against real HTTP receivers on loopback (node:http in this process): what is sent,
// how it is signed, retried, ordered, filtered, dropped, reconfigured and shut down.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { DEFAULT_WEBHOOK_TIMEOUT_MS, WEBHOOK_EVENTS, type WebhookConfig, type WebhooksConfig } from '../../src/config/webhooks-config';
import { GatewayEvents, type GatewayEventMap } from '../../src/core/gateway-events';
import type { Logger } from '../../src/core/logger';
import { silentLogger } from '../../src/core/logger';
import { Webhooks, backoffMs } from '../../src/observability/webhooks';

interface Received {
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  readonly json: Record<string, unknown>;
  /** What it was answered; undefined until then, and for ever if it hung. */
  status?: number;
}

type Answer = (received: Received, index: number) => number | 'hang' | Promise<number>;

/** An HTTP receiver on a free loopback port; `answer` picks each request's status (or never answers). */
class Receiver {
  readonly received: Received[] = [];
  readonly #server: http.Server;
  #waiters: (() => void)[] = [];

  private constructor(answer: Answer) {
    this.#server = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        const received: Received = { headers: req.headers, body, json: JSON.parse(body) as Record<string, unknown> };
        const index = this.received.push(received) - 1;
        for (const wake of this.#waiters.splice(0)) wake();
        const status = answer(received, index);
        if (status === 'hang') return;
        void Promise.resolve(status).then((code) => {
          received.status = code;
          res.writeHead(code).end('answer body');
        });
      });
    });
  }

  static async start(answer: Answer = () => 204): Promise<Receiver> {
    const receiver = new Receiver(answer);
    await new Promise<void>((resolve) => receiver.#server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/hook`;
  }

  events(): string[] {
    return this.received.map((r) => String(r.json.event));
  }

  async waitFor(count: number, timeoutMs = 5000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (this.received.length < count) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`the receiver got ${this.received.length} requests, not ${count}, within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

/** A logger that keeps what is logged at warn. */
function recordingLogger(): Logger & { readonly warnings: { obj: Record<string, unknown>; msg: string }[] } {
  const warnings: { obj: Record<string, unknown>; msg: string }[] = [];
  const logger = {
    ...silentLogger,
    warnings,
    warn: (obj: object | string, msg?: string) => {
      if (typeof obj === 'string') warnings.push({ obj: {}, msg: obj });
      else warnings.push({ obj: obj as Record<string, unknown>, msg: msg ?? '' });
    },
    child: () => logger,
  };
  return logger;
}

function hook(url: string, extra: Partial<WebhookConfig> = {}): WebhookConfig {
  return { url, events: WEBHOOK_EVENTS, secret: undefined, timeoutMs: DEFAULT_WEBHOOK_TIMEOUT_MS, ...extra };
}

function setup(hooks: WebhookConfig[], bounds: Partial<Omit<WebhooksConfig, 'hooks'>> = {}, logger: Logger = silentLogger) {
  const events = new GatewayEvents(silentLogger);
  const webhooks = new Webhooks({ events, config: { hooks, queueSize: 100, maxAttempts: 5, ...bounds }, logger, retryBaseMs: 10, retryMaxMs: 50, closeGraceMs: 300 });
  return { events, webhooks };
}

const publish = (stream: string): GatewayEventMap['publish'] => ({ stream, remoteAddress: '10.0.0.1', format: 'h264', resumed: false });
const unpublish: GatewayEventMap['unpublish'] = { stream: 'cam', remoteAddress: '10.0.0.1', reason: 'publisher ended', code: null, bytesIn: 1000, durationMs: 20 };
const refused: GatewayEventMap['authRefused'] = { protocol: 'http', action: 'publish', stream: 'cam', remoteAddress: '10.0.0.2', result: 'unauthorized', reason: 'wrong password' };

void test('an event is POSTed as JSON with its name, time, id and payload, and the signature verifies with the secret', async () => {
  const receiver = await Receiver.start();
  const secret = 'a-secret-of-24-characters';
  const { events, webhooks } = setup([hook(receiver.url, { secret })]);
  try {
    events.emit('publish', publish('site1/cam'));
    await receiver.waitFor(1);
    const [{ headers, body, json }] = receiver.received as [Received];
    assert.equal(headers['content-type'], 'application/json');
    assert.equal(headers['x-pushgate-event'], 'publish');
    assert.equal(headers['x-pushgate-delivery'], json.id);
    assert.match(String(json.id), /^[0-9a-f-]{36}$/);
    assert.equal(new Date(String(json.time)).toISOString(), json.time);
    assert.deepEqual({ ...json, time: undefined, id: undefined }, { event: 'publish', time: undefined, id: undefined, ...publish('site1/cam') });
    // What a receiver does: HMAC-SHA256 of the raw body, compared in constant time.
    const expected = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
    assert.equal(headers['x-pushgate-signature'], expected);
    assert.notEqual(headers['x-pushgate-signature'], `sha256=${createHmac('sha256', 'another secret').update(body).digest('hex')}`);
    await waitUntil(() => webhooks.stats().total.delivered === 1);
    assert.deepEqual(webhooks.stats().total, { delivered: 1, failed: 0, retried: 0, dropped: 0, queued: 0 });
  } finally {
    await webhooks.close();
    await receiver.close();
  }
});

void test('without a secret no signature header is sent', async () => {
  const receiver = await Receiver.start();
  const { events, webhooks } = setup([hook(receiver.url)]);
  try {
    events.emit('unpublish', unpublish);
    await receiver.waitFor(1);
    assert.equal(receiver.received[0]?.headers['x-pushgate-signature'], undefined);
  } finally {
    await webhooks.close();
    await receiver.close();
  }
});

void test('500s are retried with the same id until a 2xx, and the event counts as delivered once', async () => {
  const receiver = await Receiver.start((_, index) => (index < 2 ? 500 : 200));
  const { events, webhooks } = setup([hook(receiver.url)]);
  try {
    events.emit('publish', publish('cam'));
    await receiver.waitFor(3);
    await waitUntil(() => webhooks.stats().total.delivered === 1);
    assert.equal(new Set(receiver.received.map((r) => r.json.id)).size, 1, 'every attempt carries the same delivery id');
    assert.deepEqual(webhooks.stats().total, { delivered: 1, failed: 0, retried: 2, dropped: 0, queued: 0 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(receiver.received.length, 3, 'nothing is sent after the success');
  } finally {
    await webhooks.close();
    await receiver.close();
  }
});

void test('429 is retried, other 4xx and 3xx are not; after maxAttempts the event fails', async () => {
  const statuses: Record<string, number> = { a: 400, b: 302, c: 429, d: 503 };
  const receiver = await Receiver.start((r) => statuses[String(r.json.stream)] ?? 200);
  const logger = recordingLogger();
  const { events, webhooks } = setup([hook(receiver.url)], { maxAttempts: 3 }, logger);
  try {
    for (const stream of ['a', 'b', 'c', 'd']) events.emit('publish', publish(stream));
    await waitUntil(() => webhooks.stats().total.failed === 4);
    const attempts = (stream: string): number => receiver.received.filter((r) => r.json.stream === stream).length;
    assert.deepEqual([attempts('a'), attempts('b'), attempts('c'), attempts('d')], [1, 1, 3, 3]);
    assert.deepEqual(webhooks.stats().total, { delivered: 0, failed: 4, retried: 4, dropped: 0, queued: 0 });
    // Logged at once for the first, then once a second with a count and the latest.
    const failures = (): Record<string, unknown>[] => logger.warnings.filter((w) => w.msg === 'webhook delivery failed').map((w) => w.obj);
    assert.deepEqual(failures().map((f) => [f.why, f.failed]), [['answered 400', 1]]);
    await waitUntil(() => failures().length === 2, 2000);
    assert.deepEqual(failures().map((f) => [f.why, f.failed]), [['answered 400', 1], ['answered 503', 3]]);
  } finally {
    await webhooks.close();
    await receiver.close();
  }
});

void test('a receiver that is down is retried as a network error', async () => {
  const receiver = await Receiver.start();
  const url = receiver.url;
  await receiver.close();
  const logger = recordingLogger();
  const { events, webhooks } = setup([hook(url)], { maxAttempts: 2 }, logger);
  try {
    events.emit('publish', publish('cam'));
    await waitUntil(() => webhooks.stats().total.failed === 1);
    assert.equal(webhooks.stats().total.retried, 1);
    assert.match(String(logger.warnings.find((w) => w.msg === 'webhook delivery failed')?.obj.why), /ECONNREFUSED/);
  } finally {
    await webhooks.close();
  }
});

void test('a receiver that never answers delays neither emit() nor the other hooks, and times out', async () => {
  const hanging = await Receiver.start(() => 'hang');
  const good = await Receiver.start();
  const { events, webhooks } = setup([hook(hanging.url, { timeoutMs: 400 }), hook(good.url)], { maxAttempts: 2 });
  try {
    const startedAt = performance.now();
    for (let i = 0; i < 50; i++) events.emit('publish', publish(`cam${i}`));
    const emitMs = performance.now() - startedAt;
    assert.ok(emitMs < 50, `50 emits took ${emitMs.toFixed(1)} ms`);
    await good.waitFor(50, 2000);
    assert.ok(performance.now() - startedAt < 400, 'the good hook got every event before the hanging one timed out once');
    assert.equal(hanging.received.length, 1, 'one request at a time per hook');
    await hanging.waitFor(2, 2000);
    assert.equal(hanging.received[1]?.json.id, hanging.received[0]?.json.id, 'the timed-out event is retried');
    assert.equal(webhooks.stats().hooks.find((h) => h.url === hanging.url)?.retried, 1);
  } finally {
    await webhooks.close();
    await Promise.all([hanging.close(), good.close()]);
  }
});

void test('a full queue drops new events, counts them, and logs it at most once a second with a count', async () => {
  const hanging = await Receiver.start(() => 'hang');
  const logger = recordingLogger();
  const { events, webhooks } = setup([hook(hanging.url, { timeoutMs: 10_000 })], { queueSize: 3 }, logger);
  try {
    for (let i = 0; i < 10; i++) events.emit('publish', publish(`cam${i}`));
    assert.deepEqual(webhooks.stats().total, { delivered: 0, failed: 0, retried: 0, dropped: 7, queued: 3 });
    const dropLogs = (): Record<string, unknown>[] => logger.warnings.filter((w) => w.msg === 'webhook queue full: events dropped').map((w) => w.obj);
    assert.equal(dropLogs().length, 1);
    assert.equal(dropLogs()[0]?.dropped, 1);
    await waitUntil(() => dropLogs().length === 2, 2000);
    assert.equal(dropLogs()[1]?.dropped, 6, 'the drops since the first line, in one line');
    await hanging.waitFor(1);
    assert.equal(hanging.received[0]?.json.stream, 'cam0', 'the oldest events are kept');
  } finally {
    await webhooks.close();
    await hanging.close();
  }
  assert.deepEqual(webhooks.stats().total, { delivered: 0, failed: 1, retried: 0, dropped: 9, queued: 0 }, 'close aborts the one in flight and drops the two waiting');
});

void test('events reach each hook in the order emitted, retries included', async () => {
  // Every third event's first attempt fails.
  const seen = new Set<unknown>();
  const receiver = await Receiver.start((r, index) => {
    const first = !seen.has(r.json.id);
    seen.add(r.json.id);
    return first && index % 3 === 0 ? 500 : 200;
  });
  const { events, webhooks } = setup([hook(receiver.url)]);
  try {
    const names = Array.from({ length: 30 }, (_, i) => `cam${i}`);
    for (const name of names) events.emit('publish', publish(name));
    await waitUntil(() => webhooks.stats().total.delivered === 30);
    assert.ok(webhooks.stats().total.retried > 0);
    assert.deepEqual(receiver.received.filter((r) => r.status === 200).map((r) => r.json.stream), names);
  } finally {
    await webhooks.close();
    await receiver.close();
  }
});

void test('a hook gets only the events it lists; an event for several hooks has one id', async () => {
  const all = await Receiver.start();
  const some = await Receiver.start();
  const { events, webhooks } = setup([hook(all.url), hook(some.url, { events: ['unpublish', 'authRefused'] })]);
  try {
    events.emit('publish', publish('cam'));
    events.emit('authRefused', refused);
    events.emit('unpublish', unpublish);
    await all.waitFor(3);
    await some.waitFor(2);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(all.events(), ['publish', 'authRefused', 'unpublish']);
    assert.deepEqual(some.events(), ['authRefused', 'unpublish']);
    assert.deepEqual(some.received.map((r) => r.json.id), all.received.slice(1).map((r) => r.json.id));
  } finally {
    await webhooks.close();
    await Promise.all([all.close(), some.close()]);
  }
});

void test('update(): a kept hook keeps its queue and takes the new settings, a removed one drops its queue, a new one starts', async () => {
  // The kept hook's first answer waits for `release`, so its second event is still queued.
  let release: (() => void) | undefined;
  const gate = new Promise<number>((resolve) => (release = () => resolve(200)));
  const slow = await Receiver.start((_, index) => (index === 0 ? gate : 200));
  const removed = await Receiver.start(() => 'hang');
  const added = await Receiver.start();
  const { events, webhooks } = setup([hook(slow.url), hook(removed.url)]);
  try {
    const paused = slow.waitFor(1);
    events.emit('publish', publish('one'));
    events.emit('publish', publish('two'));
    await paused;
    webhooks.update({ hooks: [hook(slow.url, { events: ['unpublish'] }), hook(added.url)], queueSize: 100, maxAttempts: 5 });
    const stats = webhooks.stats();
    assert.deepEqual(stats.hooks.map((h) => h.url), [slow.url, added.url]);
    assert.equal(stats.total.dropped, 1, 'the removed hook\'s waiting event');
    assert.equal(stats.total.failed, 1, 'the removed hook\'s request in flight, aborted');
    events.emit('publish', publish('three'));
    events.emit('unpublish', unpublish);
    release?.();
    await slow.waitFor(3);
    await added.waitFor(2);
    assert.deepEqual(slow.received.map((r) => r.json.stream), ['one', 'two', 'cam'], 'queued events kept; "three" filtered out by the new events');
    assert.deepEqual(added.events(), ['publish', 'unpublish']);
    await waitUntil(() => webhooks.stats().total.delivered === 5);
    assert.deepEqual({ ...webhooks.stats().total }, { delivered: 5, failed: 1, retried: 0, dropped: 1, queued: 0 });
  } finally {
    await webhooks.close();
    await Promise.all([slow.close(), removed.close(), added.close()]);
  }
});

void test('close() lets queued events go out, aborts a hanging request after the grace, and stops listening', async () => {
  const good = await Receiver.start();
  const hanging = await Receiver.start(() => 'hang');
  const { events, webhooks } = setup([hook(good.url), hook(hanging.url, { timeoutMs: 10_000 })]);
  try {
    for (let i = 0; i < 5; i++) events.emit('publish', publish(`cam${i}`));
    const startedAt = performance.now();
    await webhooks.close();
    const closeMs = performance.now() - startedAt;
    assert.ok(closeMs >= 250 && closeMs < 800, `close took ${closeMs.toFixed(0)} ms with a 300 ms grace`);
    assert.equal(good.received.length, 5, 'what was queued for the good hook went out');
    const [goodStats, hangingStats] = webhooks.stats().hooks;
    assert.deepEqual({ ...goodStats, url: undefined }, { url: undefined, delivered: 5, failed: 0, retried: 0, dropped: 0, queued: 0 });
    assert.deepEqual({ ...hangingStats, url: undefined }, { url: undefined, delivered: 0, failed: 1, retried: 0, dropped: 4, queued: 0 });
    events.emit('publish', publish('late'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(good.received.length, 5, 'nothing is sent after close');
    assert.equal(webhooks.close(), webhooks.close(), 'idempotent');
  } finally {
    await Promise.all([good.close(), hanging.close()]);
  }
});

void test('backoff doubles per attempt within jitter and is capped', () => {
  assert.equal(backoffMs(1, 500, 30_000, () => 0), 250);
  assert.equal(backoffMs(1, 500, 30_000, () => 1), 500);
  assert.equal(backoffMs(3, 500, 30_000, () => 1), 2000);
  assert.equal(backoffMs(20, 500, 30_000, () => 1), 30_000);
});

async function waitUntil(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
