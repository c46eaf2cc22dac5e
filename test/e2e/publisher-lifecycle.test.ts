// When a publisher ends or drops: readers ride out the grace period, continue if the same name
// comes back with the same codec and resolution, end if it comes back different or not at all.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { FfmpegReader, GstReader, ffmpegPublisher, getStream, request } from './helpers/clients';
import { Gateway } from './helpers/gateway';
import { MediaDir } from './helpers/media';
import { sleep, waitFor } from './helpers/processes';
import { RtspClient } from './helpers/rtsp-client';
import { releaseOpened } from './helpers/cleanup';

const GRACE_MS = 3000;

let gateway: Gateway;
let media: MediaDir;
let clip640: string;
let clip320: string;
const clients: RtspClient[] = [];

before(async () => {
  media = new MediaDir();
  [clip640, clip320] = await Promise.all([
    media.clip({ file: 'cam640.mkv', codec: 'h264', seconds: 20 }),
    media.clip({ file: 'cam320.mkv', codec: 'h264', seconds: 20, width: 320, height: 240 }),
  ]);
  gateway = await Gateway.start(['--grace-period', String(GRACE_MS)]);
});

after(() => releaseOpened({ clients, gateways: [gateway], media }));

async function waitLive(name: string): Promise<void> {
  await waitFor(async () => (await getStream(gateway.http, name))?.state === 'live', 10_000, `${name} to go live`);
}

async function rawReader(name: string): Promise<RtspClient> {
  const client = await RtspClient.connect('127.0.0.1', gateway.rtspPort);
  clients.push(client);
  await client.playAll(name);
  await client.waitForPackets((p) => p.length > 20, 5000, 'RTP packets');
  return client;
}

async function describeStatus(name: string): Promise<number> {
  const client = await RtspClient.connect('127.0.0.1', gateway.rtspPort);
  try {
    return (await client.describe(name, 3000)).status;
  } finally {
    client.close();
  }
}

async function waitState(name: string, state: 'live' | 'grace'): Promise<void> {
  await waitFor(async () => (await getStream(gateway.http, name))?.state === state, 5000, `${name} to be in state ${state}`, 25);
}

void test('a publisher killed with -9 that comes back within the grace period: the same readers keep decoding', async () => {
  const first = ffmpegPublisher(clip640, gateway.pushUrl('cam'), 'h264');
  await waitLive('cam');
  const ffmpegReader = new FfmpegReader(gateway.rtspUrl('cam'), 'tcp');
  const gstReader = new GstReader(gateway.rtspUrl('cam'), 'udp');
  const raw = await rawReader('cam');
  await Promise.all([ffmpegReader.waitForFrames(30, 15_000), gstReader.waitForFrames(30, 15_000)]);

  first.kill('SIGKILL');
  await waitState('cam', 'grace');
  const goneAt = performance.now();
  await sleep(GRACE_MS / 2);
  // Halfway through the grace period: sessions kept, nobody ended.
  const waiting = await getStream(gateway.http, 'cam');
  assert.equal(waiting?.state, 'grace');
  assert.equal(waiting?.readers, 3, JSON.stringify(waiting));
  assert.ok(ffmpegReader.running && gstReader.running && !raw.closed, 'a reader ended during the grace period');

  const packetsBefore = raw.packets.length;
  const framesBefore = { ffmpeg: ffmpegReader.frames, gst: gstReader.frames };
  const second = ffmpegPublisher(clip640, gateway.pushUrl('cam'), 'h264');
  await waitState('cam', 'live');
  assert.ok(performance.now() - goneAt < GRACE_MS, 'the test came back too late');

  // The very same reader processes and connection go on decoding: 2 s of frames more.
  await Promise.all([ffmpegReader.waitForFrames(framesBefore.ffmpeg + 60, 10_000), gstReader.waitForFrames(framesBefore.gst + 60, 10_000)]);
  await raw.waitForPackets((p) => p.length > packetsBefore + 100, 5000, 'packets after the reconnect');
  assert.ok(ffmpegReader.running && gstReader.running && !raw.closed);
  assert.equal((await getStream(gateway.http, 'cam'))?.readers, 3);
  assert.equal(gateway.streamLogs('cam').filter((l) => /stream ended/.test(String(l.msg))).length, 0);

  await Promise.all([ffmpegReader.proc.stop(), gstReader.proc.stop(), second.stop()]);
  raw.close();
});

void test('a publisher that comes back with another resolution: its readers get end of stream, and the log says why', async () => {
  const first = ffmpegPublisher(clip640, gateway.pushUrl('resized'), 'h264');
  await waitLive('resized');
  const ffmpegReader = new FfmpegReader(gateway.rtspUrl('resized'), 'tcp');
  const gstReader = new GstReader(gateway.rtspUrl('resized'), 'udp');
  const raw = await rawReader('resized');
  await Promise.all([ffmpegReader.waitForFrames(30, 15_000), gstReader.waitForFrames(30, 15_000)]);

  first.kill('SIGKILL');
  await waitState('resized', 'grace');
  await sleep(500);
  const logsBefore = gateway.logs.length;
  const second = ffmpegPublisher(clip320, gateway.pushUrl('resized'), 'h264');
  // The log says why the readers were ended: what changed, from what to what.
  await gateway.waitForLog(
    (l) => l.stream === 'resized' && gateway.logs.indexOf(l) >= logsBefore && /640x360.*320x240/.test(JSON.stringify(l)),
    5000,
    'a log line saying the resolution changed from 640x360 to 320x240',
  );

  // Their players see end of stream: the processes end by themselves, and so does the connection.
  const [ffmpegExit, gstExit] = await Promise.all([ffmpegReader.proc.waitForExit(5000), gstReader.proc.waitForExit(5000)]);
  assert.equal(ffmpegExit.code, 0, ffmpegReader.proc.tail());
  assert.equal(gstExit.code, 0, gstReader.proc.tail());
  assert.ok(gstReader.sawEos, `gst-launch saw no EOS\n${gstReader.proc.tail()}`);
  assert.ok(await raw.waitForClose(5000), 'the raw reader connection stayed open');

  // The stream is live again at the new resolution for new readers.
  await waitLive('resized');
  const info = await getStream(gateway.http, 'resized');
  assert.deepEqual([info?.video?.width, info?.video?.height], [320, 240]);
  const newReader = new FfmpegReader(gateway.rtspUrl('resized'), 'tcp');
  await newReader.waitForFrames(15, 10_000);
  await Promise.all([newReader.proc.stop(), second.stop()]);
});

void test('a publisher that ends and does not come back: readers keep their sessions for the grace period, then get end of stream', async () => {
  const publisher = ffmpegPublisher(clip640, gateway.pushUrl('lone'), 'h264');
  await waitLive('lone');
  const ffmpegReader = new FfmpegReader(gateway.rtspUrl('lone'), 'tcp');
  const gstReader = new GstReader(gateway.rtspUrl('lone'), 'udp');
  const raw = await rawReader('lone');
  await Promise.all([ffmpegReader.waitForFrames(30, 15_000), gstReader.waitForFrames(30, 15_000)]);

  // A clean end this time: ffmpeg stopped with SIGTERM ends its chunked body properly.
  const endedAt = performance.now();
  await publisher.stop();
  await waitState('lone', 'grace');

  await sleep(GRACE_MS / 2);
  assert.ok(ffmpegReader.running && gstReader.running && !raw.closed, 'a reader ended before the grace period was over');
  assert.equal((await getStream(gateway.http, 'lone'))?.readers, 3);
  // New readers are not let in meanwhile.
  assert.equal(await describeStatus('lone'), 404);

  const [ffmpegExit, gstExit] = await Promise.all([ffmpegReader.proc.waitForExit(GRACE_MS + 5000), gstReader.proc.waitForExit(GRACE_MS + 5000)]);
  for (const exit of [ffmpegExit, gstExit]) {
    const afterMs = exit.at - endedAt;
    assert.ok(afterMs >= GRACE_MS - 300, `a reader ended ${afterMs.toFixed(0)} ms after the publisher, before the grace period`);
    assert.ok(afterMs <= GRACE_MS + 4000, `a reader ended ${afterMs.toFixed(0)} ms after the publisher`);
  }
  assert.equal(ffmpegExit.code, 0, ffmpegReader.proc.tail());
  assert.equal(gstExit.code, 0, gstReader.proc.tail());
  assert.ok(gstReader.sawEos, `gst-launch saw no EOS\n${gstReader.proc.tail()}`);
  assert.ok(await raw.waitForClose(3000), 'the session of the raw reader was not closed');
  assert.ok(raw.byeChannels.has(1), 'no RTCP BYE reached the raw reader before its connection closed');
  await gateway.waitForLog((l) => l.stream === 'lone' && /no publisher came back/.test(JSON.stringify(l)), 2000, 'a log line saying the stream ended because no publisher came back');

  // Gone for everyone: DESCRIBE 404 and the API knows no such stream.
  assert.equal(await describeStatus('lone'), 404);
  assert.equal((await request('GET', `${gateway.http}/v1/streams/lone`)).status, 404);

  // And the name can be published anew.
  const again = ffmpegPublisher(clip320, gateway.pushUrl('lone'), 'h264');
  await waitLive('lone');
  const reader = new FfmpegReader(gateway.rtspUrl('lone'), 'tcp');
  await reader.waitForFrames(15, 10_000);
  await Promise.all([reader.proc.stop(), again.stop()]);
});
