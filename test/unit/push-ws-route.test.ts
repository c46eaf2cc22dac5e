// The WebSocket push route in process: the real HTTP server (Fastify, the access hook, the ws
// upgrade), a fake media engine instead of GStreamer, Matroska made by ffmpeg, a real ws client.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import WebSocket from 'ws';
import { createAuthorizer } from '../../src/auth/create-authorizer';
import { hashSha256 } from '../../src/auth/secrets';
import { AddressQuota } from '../../src/core/address-quota';
import { gatewayClock } from '../../src/core/clock';
import { GatewayEvents } from '../../src/core/gateway-events';
import { silentLogger } from '../../src/core/logger';
import type { MediaEngine, StreamOutput } from '../../src/core/media-engine';
import type { StreamTracks, TimedUnit } from '../../src/core/media';
import { StreamRegistry } from '../../src/core/stream-registry';
import { createHttpServer } from '../../src/http/http-server';
import type { PushWsMessage } from '../../src/http/push-ws-route';
import { fixedChunks } from './helpers/ts-media';

class FakeOutput implements StreamOutput {
  readonly readerCount = 0;
  readonly units: TimedUnit[] = [];
  closedWith: string | undefined;
  constructor(readonly tracks: StreamTracks) {}
  write(unit: TimedUnit): void {
    this.units.push(unit);
  }
  setMounted(): void {}
  close(reason: string): void {
    this.closedWith ??= reason;
  }
}

class FakeEngine implements MediaEngine {
  readonly nativeIngest = undefined;
  readonly readers = undefined;
  readonly outputs: FakeOutput[] = [];
  createOutput(_name: string, tracks: StreamTracks): StreamOutput {
    const output = new FakeOutput(tracks);
    this.outputs.push(output);
    return output;
  }
}

const mkv = execFileSync(
  'ffmpeg',
  [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', '1', '-g', '25', '-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-preset', 'veryfast', '-bf', '0', '-c:a', 'libopus', '-ac', '1',
    '-live', '1', '-cluster_time_limit', '200', '-f', 'matroska', '-',
  ],
  { maxBuffer: 16 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] },
);

const engine = new FakeEngine();
const registry = new StreamRegistry({ engine, clock: gatewayClock, logger: silentLogger, graceMs: 2000 });
const app = createHttpServer({
  registry,
  events: new GatewayEvents(silentLogger),
  clock: gatewayClock,
  logger: pino({ level: 'silent' }),
  idleTimeoutMs: 5000,
  gstreamerVersion: 'test',
  readiness: () => 'ready',
  authorizer: createAuthorizer({
    realm: 'pushgate',
    users: [{ name: 'cam', password: hashSha256('secret'), permissions: [{ action: 'publish', streams: ['browser/*'] }] }],
  }),
  rtspPorts: () => ({ rtsp: 8554, rtsps: undefined }),
  limits: { publisherQuota: new AddressQuota(10), maxHeaderBytes: 16384, headerTimeoutMs: 5000, maxConnections: 100 },
});
let base = '';

before(async () => {
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `ws://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});
after(() => app.close());

const basic = (user: string, password: string): string => `pushgate.basic.${Buffer.from(`${user}:${password}`).toString('base64url')}`;

interface Session {
  readonly ws: WebSocket;
  readonly messages: PushWsMessage[];
  readonly opened: Promise<void>;
  /** Close code and reason, or the HTTP status of a refused handshake (as close code 0). */
  readonly closed: Promise<{ code: number; reason: string; status?: number }>;
}

function connect(name: string, protocols: string[], headers: Record<string, string> = {}): Session {
  const ws = new WebSocket(`${base}/push-ws/${name}`, protocols, { headers });
  const messages: PushWsMessage[] = [];
  ws.on('message', (data, isBinary) => {
    if (!isBinary) messages.push(JSON.parse((data as Buffer).toString('utf8')) as PushWsMessage);
  });
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  opened.catch(() => undefined);
  const closed = new Promise<{ code: number; reason: string; status?: number }>((resolve) => {
    ws.once('unexpected-response', (_req, res) => {
      resolve({ code: 0, reason: '', status: res.statusCode ?? 0 });
      ws.terminate();
    });
    ws.once('close', (code, reason) => resolve({ code, reason: String(reason) }));
  });
  return { ws, messages, opened, closed };
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function sendPaced(ws: WebSocket, data: Buffer, chunkBytes: number): Promise<void> {
  for (const chunk of fixedChunks(data, chunkBytes)) {
    ws.send(chunk);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

describe('WebSocket push', () => {
  void it('publishes Matroska sent in chunks cut anywhere, tells publishing, live and the end, and the stream resumes after a reconnect', async () => {
    const session = connect('browser/cam', ['pushgate.v1', basic('cam', 'secret')]);
    await session.opened;
    assert.equal(session.ws.protocol, 'pushgate.v1');
    await sendPaced(session.ws, mkv, 3001);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(registry.get('browser/cam')?.state, 'live');
    assert.equal(registry.get('browser/cam')?.format, 'matroska');
    session.ws.close(1000);
    const closed = await session.closed;
    assert.equal(closed.code, 1000);
    const [publishing, live] = session.messages;
    assert.deepEqual(publishing, { type: 'publishing', stream: 'browser/cam', rtsp: 'rtsp://127.0.0.1:8554/browser/cam' });
    assert.equal(live?.type, 'live');
    assert.deepEqual(live.type === 'live' && [live.video.width, live.video.height, live.audio?.codec], [320, 240, 'opus']);
    // The second of media sent in a burst is released in real time, then the push ends.
    await waitFor(() => registry.get('browser/cam')?.state === 'grace', 3000);
    const output = engine.outputs[0]!;
    assert.equal(output.units.filter((u) => u.kind === 'video').length, 25);
    assert.ok(output.units.some((u) => u.kind === 'audio'));

    // A page reload: the same name within the grace period keeps the same output.
    const again = connect('browser/cam', ['pushgate.v1', basic('cam', 'secret')]);
    await again.opened;
    await sendPaced(again.ws, mkv, 65536);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(engine.outputs.length, 1, 'readers keep their output');
    assert.equal(output.closedWith, undefined);
    again.ws.terminate();
    await again.closed;
  });

  void it('refuses a wrong credential with 401 and a missing permission with 403, before the upgrade', async () => {
    assert.equal((await connect('browser/x', ['pushgate.v1', basic('cam', 'wrong')]).closed).status, 401);
    assert.equal((await connect('browser/x', ['pushgate.v1']).closed).status, 401);
    assert.equal((await connect('other/x', ['pushgate.v1', basic('cam', 'secret')]).closed).status, 403);
    assert.equal(registry.get('browser/x'), undefined);
  });

  void it('refuses a page of another site, and a bad name', async () => {
    const foreign = connect('browser/y', ['pushgate.v1', basic('cam', 'secret')], { origin: 'http://evil.example' });
    assert.equal((await foreign.closed).status, 403);
    assert.equal((await connect('browser/bad name', ['pushgate.v1', basic('cam', 'secret')]).closed).status, 400);
  });

  void it('tells a second publisher of a live name STREAM_BUSY and closes with 4409', async () => {
    const first = connect('browser/busy', ['pushgate.v1', basic('cam', 'secret')]);
    await first.opened;
    await sendPaced(first.ws, mkv.subarray(0, 60_000), 60_000);
    const second = connect('browser/busy', ['pushgate.v1', basic('cam', 'secret')]);
    const closed = await second.closed;
    assert.equal(closed.code, 4409);
    assert.equal(closed.reason, 'STREAM_BUSY');
    const error = second.messages.at(-1);
    assert.equal(error?.type === 'error' && error.error.code, 'STREAM_BUSY');
    first.ws.terminate();
    await first.closed;
  });

  void it('ends a push of what is not Matroska with INVALID_MEDIA (4422)', async () => {
    const session = connect('browser/junk', ['pushgate.v1', basic('cam', 'secret')]);
    await session.opened;
    session.ws.send(Buffer.from('this is not a video'));
    const closed = await session.closed;
    assert.equal(closed.code, 4422);
    assert.equal(closed.reason, 'INVALID_MEDIA');
  });
});
