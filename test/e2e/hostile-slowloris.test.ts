// Slow clients and connection floods on both ports. HTTP clients that trickle their request
// head are cut by --header-timeout with 408; RTSP clients that trickle requests hold no client
// thread (gst-rtsp-server reads without blocking), so new readers are served meanwhile; and
// connections beyond --max-connections / --max-rtsp-connections-per-address are closed as they
// are accepted, so a flood cannot use up the file descriptors that every other accept needs.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { request } from './helpers/clients';
import { Gateway } from './helpers/gateway';
import { MediaDir } from './helpers/media';
import { sleep, stopAll, waitFor } from './helpers/processes';
import { rawExchange } from './helpers/raw-http';
import { RtspClient } from './helpers/rtsp-client';
import { Witness } from './helpers/witness';

const HEADER_TIMEOUT_MS = 2000;
const MAX_CONNECTIONS = 150;
const MAX_RTSP_PER_ADDRESS = 100;
const RTSP_THREADS = 2;

let gateway: Gateway;
let media: MediaDir;
let witness: Witness;
const sockets: net.Socket[] = [];

before(async () => {
  media = new MediaDir();
  const clip = await media.clip({ file: 'main.mkv', codec: 'h264', seconds: 10, width: 320, height: 240 });
  gateway = await Gateway.start([
    '--header-timeout', String(HEADER_TIMEOUT_MS),
    '--max-connections', String(MAX_CONNECTIONS),
    '--max-rtsp-connections-per-address', String(MAX_RTSP_PER_ADDRESS),
    '--rtsp-threads', String(RTSP_THREADS),
  ]);
  witness = await Witness.ofNewStream(gateway, clip, 'main');
});

after(async () => {
  witness?.close();
  for (const socket of sockets) socket.destroy();
  if (gateway) await gateway.stop();
  await stopAll();
  media?.remove();
});

/** Opens `count` TCP connections from `localAddress`; resolves once each is connected or closed. */
async function openConnections(port: number, count: number, localAddress: string): Promise<net.Socket[]> {
  const opened = Array.from({ length: count }, () => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress });
    socket.on('error', () => {});
    sockets.push(socket);
    return new Promise<net.Socket>((resolve) => socket.once('connect', () => resolve(socket)).once('close', () => resolve(socket)));
  });
  return Promise.all(opened);
}

/** Writes `text` one byte per `gapMs` on each socket until `stop` resolves. */
function trickle(targets: readonly net.Socket[], text: string, gapMs: number): { stop: () => void } {
  let i = 0;
  const timer = setInterval(() => {
    const byte = text[i % text.length]!;
    for (const socket of targets) if (!socket.destroyed) socket.write(byte);
    i++;
  }, gapMs);
  return { stop: () => clearInterval(timer) };
}

async function assertNewReaderServed(what: string): Promise<void> {
  const client = await RtspClient.connect('127.0.0.1', gateway.rtspPort);
  try {
    const describe = await client.describe('main', 2000);
    assert.equal(describe.status, 200, `a new reader after ${what}`);
    assert.ok(describe.elapsedMs < 1000, `a new reader's DESCRIBE took ${describe.elapsedMs.toFixed(0)} ms during ${what}`);
  } finally {
    client.close();
  }
}

void test('HTTP clients that send a header byte a second get 408 HEADERS_TIMEOUT; new clients are served meanwhile', async () => {
  const head = `POST /push/slow HTTP/1.1\r\nHost: slow\r\nContent-Type: video/h264\r\nX-Filler: ${'a'.repeat(500)}\r\n\r\n`;
  const slow = Array.from({ length: 40 }, () =>
    rawExchange(gateway.httpPort, { pieces: head.split(''), gapMs: 1000, waitMs: 0 }).catch((err: Error) => ({ status: -1, body: err.message, elapsedMs: 0, text: '', closedByServer: false })),
  );
  // While they trickle, a normal client is answered at once, several times.
  for (let i = 0; i < 3; i++) {
    await sleep(500);
    const healthz = await request('GET', `${gateway.http}/healthz`, { timeoutMs: 2000 });
    assert.equal(healthz.status, 200);
    assert.ok(healthz.elapsedMs < 1000, `/healthz took ${healthz.elapsedMs.toFixed(0)} ms during the slow HTTP clients`);
  }
  for (const result of await Promise.all(slow)) {
    assert.equal(result.status, 408, `a slow HTTP client: ${result.text}`);
    assert.equal((JSON.parse(result.body) as { error: { code: string } }).error.code, 'HEADERS_TIMEOUT');
    assert.ok(result.elapsedMs < HEADER_TIMEOUT_MS + 2500, `cut after ${result.elapsedMs.toFixed(0)} ms`);
  }
  await witness.assertIntact(gateway, 'slow HTTP clients');
});

void test(`RTSP clients that send a request byte a second hold no client thread (--rtsp-threads ${RTSP_THREADS}): new readers are served`, async () => {
  const slow = await openConnections(gateway.rtspPort, 60, '127.0.0.2');
  const drip = trickle(slow, `DESCRIBE rtsp://127.0.0.1:${gateway.rtspPort}/main RTSP/1.0\r\nCSeq: 1\r\nX-Filler: ${'a'.repeat(200)}`, 1000);
  try {
    for (let i = 0; i < 4; i++) {
      await sleep(800);
      await assertNewReaderServed('slow RTSP clients');
    }
    // A whole new reader plays, too.
    const reader = await RtspClient.connect('127.0.0.1', gateway.rtspPort);
    try {
      await reader.playAll('main');
      await reader.waitForPackets((p) => p.length >= 30, 5000, 'a new reader to play during the slow RTSP clients');
    } finally {
      reader.close();
    }
    assert.ok(slow.every((s) => !s.destroyed), 'gst-rtsp-server closed a slow RTSP client early (expected: after its 60 s control timeout)');
  } finally {
    drip.stop();
    for (const socket of slow) socket.destroy();
  }
  await witness.assertIntact(gateway, 'slow RTSP clients');
});

void test('an RTSP connection flood is capped per address and in total; HTTP and other readers keep working', async () => {
  const flood = await openConnections(gateway.rtspPort, MAX_RTSP_PER_ADDRESS + 30, '127.0.0.3');
  await sleep(500);
  const closed = flood.filter((s) => s.destroyed || s.readableEnded).length;
  assert.equal(closed, 30, `connections beyond --max-rtsp-connections-per-address ${MAX_RTSP_PER_ADDRESS} should be closed at once`);
  // Other addresses are served; then a second address fills the total.
  await assertNewReaderServed('a one-address RTSP flood');
  const second = await openConnections(gateway.rtspPort, 80, '127.0.0.4');
  await sleep(500);
  const open = [...flood, ...second].filter((s) => !s.destroyed && !s.readableEnded).length;
  // The witness holds one connection of the total.
  assert.equal(open, MAX_CONNECTIONS - 1, `open RTSP connections with --max-connections ${MAX_CONNECTIONS}`);
  await gateway.waitForLog((l) => l.msg?.includes('connection limit reached') === true, 3000, 'the refusals to be logged');
  const healthz = await request('GET', `${gateway.http}/healthz`, { timeoutMs: 2000 });
  assert.equal(healthz.status, 200, 'HTTP during a full RTSP connection table');
  await witness.assertIntact(gateway, 'an RTSP connection flood');
  for (const socket of [...flood, ...second]) socket.destroy();
  await waitFor(async () => {
    try {
      await assertNewReaderServed('the end of the flood');
      return true;
    } catch {
      return false;
    }
  }, 3000, 'new readers to be served once the flood is gone', 200);
});

void test('an HTTP connection flood beyond --max-connections is closed at once and cut by the header timeout', async () => {
  const flood = await openConnections(gateway.httpPort, MAX_CONNECTIONS + 20, '127.0.0.5');
  await sleep(500);
  // The witness's publisher holds one connection.
  const closedAtOnce = flood.filter((s) => s.destroyed || s.readableEnded).length;
  assert.ok(closedAtOnce >= 20, `only ${closedAtOnce} of the connections beyond --max-connections were closed`);
  // The rest are idle: the header timeout ends them, and then clients are served again.
  await waitFor(async () => {
    try {
      return (await request('GET', `${gateway.http}/healthz`, { timeoutMs: 1000 })).status === 200;
    } catch {
      return false;
    }
  }, HEADER_TIMEOUT_MS + 3000, '/healthz once the idle flood is cut', 200);
  await witness.assertIntact(gateway, 'an HTTP connection flood');
});
