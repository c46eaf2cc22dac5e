// SIGTERM and SIGINT: the gateway stops accepting, answers running pushes, ends its readers'
// sessions, and exits 0.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { FfmpegReader, GstReader, curlPushProc, curlResult, ffmpegPublisher, getStream, request, type HttpResult } from './helpers/clients';
import { Gateway } from './helpers/gateway';
import { MediaDir } from './helpers/media';
import { sleep, stopAll, waitFor, within } from './helpers/processes';
import { RtspClient } from './helpers/rtsp-client';

let media: MediaDir;
let clip: string;
let longTs: string;
const gateways: Gateway[] = [];
const clients: RtspClient[] = [];

before(async () => {
  media = new MediaDir();
  [clip, longTs] = await Promise.all([
    media.clip({ file: 'cam.mkv', codec: 'h264', seconds: 10, width: 320, height: 240 }),
    media.clip({ file: 'long.ts', codec: 'h264', seconds: 30, width: 320, height: 240, audio: true }),
  ]);
});

after(async () => {
  for (const client of clients) client.close();
  for (const gateway of gateways) await gateway.stop('SIGKILL').catch(() => {});
  await stopAll();
  media?.remove();
});

async function start(): Promise<Gateway> {
  const gateway = await Gateway.start(['--grace-period', '10000']);
  gateways.push(gateway);
  return gateway;
}

async function waitLive(gateway: Gateway, name: string): Promise<void> {
  await waitFor(async () => (await getStream(gateway.http, name))?.state === 'live', 10_000, `${name} to go live`);
}

void test('SIGTERM: pushes get an HTTP response, readers get end of stream, new clients are refused, exit code 0', async () => {
  const gateway = await start();
  const curl = curlPushProc(longTs, gateway.pushUrl('upload'), 'video/mp2t');
  const publisher = ffmpegPublisher(clip, gateway.pushUrl('live'), 'h264');
  await Promise.all([waitLive(gateway, 'upload'), waitLive(gateway, 'live')]);
  const ffmpegReader = new FfmpegReader(gateway.rtspUrl('upload'), 'tcp');
  const gstReader = new GstReader(gateway.rtspUrl('live'), 'udp');
  const raw = await RtspClient.connect('127.0.0.1', gateway.rtspPort);
  clients.push(raw);
  await raw.playAll('live');
  await Promise.all([ffmpegReader.waitForFrames(20, 10_000), gstReader.waitForFrames(20, 10_000)]);

  const signalledAt = performance.now();
  gateway.proc.kill('SIGTERM');
  // A publisher arriving after the signal is not taken in.
  await sleep(100);
  const late = await request('POST', gateway.pushUrl('late'), { headers: { 'content-type': 'video/h264' }, body: Buffer.alloc(1000) }).then(
    (r): HttpResult | Error => r,
    (err: Error) => err,
  );
  if (late instanceof Error) assert.match(late.message, /ECONNREFUSED|ECONNRESET|socket hang up/);
  else assert.equal(late.status, 503, `a push after SIGTERM was answered ${late.status}: ${late.text}`);

  const exit = await gateway.proc.waitForExit(10_000);
  assert.deepEqual([exit.code, exit.signal], [0, null], gateway.logTail());
  assert.ok(exit.at - signalledAt < 5000, `the gateway took ${(exit.at - signalledAt).toFixed(0)} ms to exit`);
  assert.ok(gateway.logs.some((l) => l.msg === 'stopped'));

  // The readers ended by themselves.
  const [ffmpegExit, gstExit] = await Promise.all([ffmpegReader.proc.waitForExit(5000), gstReader.proc.waitForExit(5000)]);
  assert.equal(ffmpegExit.code, 0, ffmpegReader.proc.tail());
  assert.equal(gstExit.code, 0, gstReader.proc.tail());
  assert.ok(await raw.waitForClose(2000), 'the raw reader connection stayed open');
  // The ffmpeg publisher lost its connection and gave up.
  await publisher.waitForExit(5000);

  // The unpaced upload was answered, not cut off.
  await curl.waitForExit(5000);
  const { status, body } = curlResult(curl);
  assert.equal(status, 503, `the running upload got no 503: curl's last HTTP status was ${status}, curl said "${curl.stderr.trim()}", body "${body}"`);
  assert.match(body, /SHUTTING_DOWN/);
});

void test('SIGINT: an idle gateway and one with a publisher and a reader exit 0', async () => {
  const idle = await start();
  const idleExit = await idle.stop('SIGINT', 10_000);
  assert.deepEqual([idleExit.code, idleExit.signal], [0, null], idle.logTail());

  const gateway = await start();
  ffmpegPublisher(clip, gateway.pushUrl('cam'), 'h264');
  await waitLive(gateway, 'cam');
  const reader = new FfmpegReader(gateway.rtspUrl('cam'), 'tcp');
  await reader.waitForFrames(20, 10_000);
  const exit = await gateway.stop('SIGINT', 10_000);
  assert.deepEqual([exit.code, exit.signal], [0, null], gateway.logTail());
  assert.ok(gateway.logs.some((l) => l.msg === 'signal received' && l.signal === 'SIGINT'));
  const readerExit = await reader.proc.waitForExit(5000);
  assert.equal(readerExit.code, 0, reader.proc.tail());
  // Nothing listens any more.
  const refused = await request('GET', `${gateway.http}/healthz`).then(
    () => undefined,
    (err: Error) => err,
  );
  assert.ok(refused, 'the HTTP port still answers after exit');
});

void test('with --drain-timeout, SIGTERM drains: /readyz 503, new pushes 503 DRAINING, readers served until they leave, then exit 0', async () => {
  const gateway = await Gateway.start(['--drain-timeout', '20000']);
  gateways.push(gateway);
  assert.deepEqual(JSON.parse((await request('GET', `${gateway.http}/readyz`)).text), { status: 'ready' });
  ffmpegPublisher(clip, gateway.pushUrl('cam'), 'h264');
  await waitLive(gateway, 'cam');
  const reader = new FfmpegReader(gateway.rtspUrl('cam'), 'tcp');
  await reader.waitForFrames(10, 10_000);
  gateway.proc.kill('SIGTERM');
  await gateway.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('draining'), 5000, 'the drain to start');
  const ready = await request('GET', `${gateway.http}/readyz`);
  assert.equal(ready.status, 503);
  assert.deepEqual(JSON.parse(ready.text), { status: 'draining' });
  const refused = await request('POST', gateway.pushUrl('other'), { headers: { 'content-type': 'video/h264' }, body: 'x' });
  assert.equal(refused.status, 503);
  assert.equal((JSON.parse(refused.text) as { error: { code: string } }).error.code, 'DRAINING');
  // The reader goes on while the drain lasts, and the gateway waits for it.
  await reader.waitForMoreFrames(45, 10_000);
  assert.ok(gateway.proc.running, 'still serving its reader');
  const leftAt = performance.now();
  reader.proc.kill();
  const exit = await gateway.proc.exited;
  assert.equal(exit.code, 0);
  assert.ok(performance.now() - leftAt < 5000, 'stops soon after the last reader left, long before the drain timeout');
});

void test('a second signal during a drain stops at once', async () => {
  const gateway = await Gateway.start(['--drain-timeout', '60000']);
  gateways.push(gateway);
  ffmpegPublisher(clip, gateway.pushUrl('cam'), 'h264');
  await waitLive(gateway, 'cam');
  const reader = new FfmpegReader(gateway.rtspUrl('cam'), 'tcp');
  await reader.waitForFrames(10, 10_000);
  gateway.proc.kill('SIGTERM');
  await gateway.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('draining'), 5000, 'the drain to start');
  gateway.proc.kill('SIGINT');
  const exit = await within(gateway.proc.exited, 10_000);
  assert.equal(exit?.code, 0);
  reader.proc.kill();
});
