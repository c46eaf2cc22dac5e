// Many readers at once: a stuck or half-sent RTSP request holds up nobody else, and readers that
// vanish without TEARDOWN are reaped within the RTSP session timeout.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { FfmpegReader, ffmpegPublisher, getStream } from './helpers/clients';
import { Gateway } from './helpers/gateway';
import { MediaDir } from './helpers/media';
import { stopAll, waitFor } from './helpers/processes';
import { RtspClient } from './helpers/rtsp-client';

const SESSION_TIMEOUT_S = 3;

let gateway: Gateway;
let media: MediaDir;
const clients: RtspClient[] = [];
const sockets: net.Socket[] = [];

before(async () => {
  media = new MediaDir();
  const clip = await media.clip({ file: 'cam.mkv', codec: 'h264', seconds: 20, width: 320, height: 240 });
  gateway = await Gateway.start(['--session-timeout', String(SESSION_TIMEOUT_S)]);
  ffmpegPublisher(clip, gateway.pushUrl('many'), 'h264');
  await waitFor(async () => (await getStream(gateway.http, 'many'))?.state === 'live', 10_000, 'many to go live');
});

after(async () => {
  for (const client of clients) client.close();
  for (const socket of sockets) socket.destroy();
  if (gateway) await gateway.stop();
  await stopAll();
  media?.remove();
});

async function rawReader(): Promise<RtspClient> {
  const client = await RtspClient.connect('127.0.0.1', gateway.rtspPort);
  clients.push(client);
  await client.playAll('many');
  return client;
}

async function readers(): Promise<number> {
  return (await getStream(gateway.http, 'many'))?.readers ?? -1;
}

/** A connection that sends part of a request, or nothing, and then hangs. */
function stuckConnection(text: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: gateway.rtspPort }, () => {
      socket.write(text);
      resolve(socket);
    });
    socket.on('error', reject);
    sockets.push(socket);
  });
}

void test('stuck and half-sent RTSP requests do not stall other clients: DESCRIBE still answers within 1 s', async () => {
  const playing = await Promise.all(Array.from({ length: 6 }, () => rawReader()));
  const url = gateway.rtspUrl('many');
  await Promise.all([
    ...Array.from({ length: 12 }, () => stuckConnection(`DESCRIBE ${url} RTSP/1.0\r\nCSeq: 1\r\nAccept: appl`)),
    ...Array.from({ length: 12 }, () => stuckConnection(`SETUP ${url}/stream=0 RTSP/1.0\r\n`)),
    ...Array.from({ length: 4 }, () => stuckConnection('')),
    stuckConnection(`DESCRIBE ${url} RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 1000\r\n\r\nonly a little body`),
  ]);
  for (let round = 0; round < 3; round++) {
    const client = await RtspClient.connect('127.0.0.1', gateway.rtspPort, 1000);
    clients.push(client);
    const live = await client.describe('many', 3000);
    assert.equal(live.status, 200);
    assert.ok(live.elapsedMs < 1000, `DESCRIBE of a live stream took ${live.elapsedMs.toFixed(0)} ms while others hang`);
    const missing = await client.describe('absent', 3000);
    assert.equal(missing.status, 404);
    assert.ok(missing.elapsedMs < 1000, `DESCRIBE of a missing stream took ${missing.elapsedMs.toFixed(0)} ms while others hang`);
    client.close();
  }
  // The readers that were playing keep receiving, and a new player starts.
  const counts = playing.map((c) => c.packetCount);
  const reader = new FfmpegReader(gateway.rtspUrl('many'), 'tcp');
  await reader.waitForFrames(30, 10_000);
  await waitFor(() => playing.every((c, i) => c.packetCount > counts[i]! + 30), 5000, 'the playing readers to receive more');
  assert.equal(await readers(), playing.length + 1);
  await reader.proc.stop();
  for (const client of playing) client.close();
  for (const socket of sockets.splice(0)) socket.destroy();
  await waitFor(async () => (await readers()) === 0, 5000, 'the reader count to drop to 0');
});

void test('readers that vanish without TEARDOWN are reaped within the RTSP session timeout', async () => {
  const tcp = await rawReader();
  const leaving = await rawReader();
  const killed = new FfmpegReader(gateway.rtspUrl('many'), 'udp');
  const frozen = new FfmpegReader(gateway.rtspUrl('many'), 'udp');
  await Promise.all([killed.waitForFrames(30, 10_000), frozen.waitForFrames(30, 10_000)]);
  await tcp.waitForPackets((p) => p.length > 50, 5000, 'packets');
  assert.equal(await readers(), 4);

  // TEARDOWN: gone at once.
  const teardown = await leaving.teardown('many');
  assert.equal(teardown.status, 200);
  await waitFor(async () => (await readers()) === 3, 1500, 'the reader that sent TEARDOWN to be gone');

  // A UDP reader killed with -9.
  killed.proc.kill('SIGKILL');
  let since = performance.now();
  await waitFor(async () => (await readers()) === 2, SESSION_TIMEOUT_S * 1000 + 3000, 'the killed UDP reader to be reaped', 100);
  const killedReapedMs = performance.now() - since;

  // A UDP reader that freezes (SIGSTOP): its connection stays open but it sends nothing more,
  // not even RTCP receiver reports, so only the session timeout can reap it.
  frozen.proc.kill('SIGSTOP');
  since = performance.now();
  try {
    // Waits well past the limit, so a failure says when (if ever) the reader was reaped.
    await waitFor(async () => (await readers()) === 1, SESSION_TIMEOUT_S * 1000 + 10_000, 'the frozen UDP reader to be reaped', 100);
  } finally {
    frozen.proc.kill('SIGKILL');
  }
  const frozenReapedMs = performance.now() - since;
  assert.ok(killedReapedMs <= SESSION_TIMEOUT_S * 1000 + 2000, `the killed reader was reaped after ${killedReapedMs.toFixed(0)} ms`);
  assert.ok(
    frozenReapedMs <= SESSION_TIMEOUT_S * 1000 + 2000,
    `the frozen reader was reaped ${frozenReapedMs.toFixed(0)} ms after it went silent, with --session-timeout ${SESSION_TIMEOUT_S}`,
  );

  // A TCP reader that vanishes loses its session with its connection.
  tcp.close();
  await waitFor(async () => (await readers()) === 0, 2000, 'the closed TCP reader to be gone');
  // The stream itself is untouched.
  assert.equal((await getStream(gateway.http, 'many'))?.state, 'live');
  const again = new FfmpegReader(gateway.rtspUrl('many'), 'udp');
  await again.waitForFrames(15, 10_000);
  await again.proc.stop();
});
