// Every ingest format with real publishers (ffmpeg, curl -T, gst-launch curlhttpsink) and every
// kind of reader (ffprobe/ffmpeg and gst-launch rtspsrc, over TCP and UDP).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  FfmpegReader,
  GstReader,
  curlPush,
  ffmpegPublisher,
  ffprobe,
  getStream,
  gstPublisher,
  type ProbeResult,
  type PushSummary,
} from './helpers/clients';
import { Gateway } from './helpers/gateway';
import { MediaDir } from './helpers/media';
import { waitFor } from './helpers/processes';
import { RtspClient, accessUnits } from './helpers/rtsp-client';
import { releaseOpened } from './helpers/cleanup';

let gateway: Gateway;
let media: MediaDir;
const clip = { h264: '', h265: '', ts264: '', ts265: '', upload: '' };

before(async () => {
  media = new MediaDir();
  [clip.h264, clip.h265, clip.ts264, clip.ts265, clip.upload] = await Promise.all([
    media.clip({ file: 'h264.mkv', codec: 'h264', seconds: 10 }),
    media.clip({ file: 'h265.mkv', codec: 'h265', seconds: 6 }),
    media.clip({ file: 'av.ts', codec: 'h264', seconds: 10, audio: true }),
    media.clip({ file: 'h265.ts', codec: 'h265', seconds: 6 }),
    media.clip({ file: 'upload.ts', codec: 'h264', seconds: 6, audio: true }),
  ]);
  gateway = await Gateway.start(['--log-level', 'debug']);
});

after(() => releaseOpened({ gateways: [gateway], media }));

async function waitLive(name: string): Promise<void> {
  await waitFor(async () => (await getStream(gateway.http, name))?.state === 'live', 10_000, `${name} to go live`);
}

function summary(probe: ProbeResult): string {
  return `ffprobe exit ${probe.code}: ${JSON.stringify(probe.streams)} ${probe.stderr}`;
}

void test('raw H.264: ffprobe and gst-launch rtspsrc over TCP and UDP all play it, sharing one pipeline', async () => {
  const publisher = ffmpegPublisher(clip.h264, gateway.pushUrl('raw264'), 'h264');
  await waitLive('raw264');
  const readers = [
    new GstReader(gateway.rtspUrl('raw264'), 'tcp'),
    new GstReader(gateway.rtspUrl('raw264'), 'udp'),
    new FfmpegReader(gateway.rtspUrl('raw264'), 'udp'),
  ];
  await Promise.all(readers.map((r) => r.waitForFrames(30, 15_000)));

  const info = await getStream(gateway.http, 'raw264');
  assert.equal(info?.readers, 3, `API reader count: ${JSON.stringify(info)}`);
  const builds = gateway.streamLogs('raw264').filter((l) => l.msg === 'building RTSP media pipeline');
  assert.equal(builds.length, 1, `pipelines built for raw264: ${builds.length}`);

  for (const transport of ['tcp', 'udp'] as const) {
    const probe = await ffprobe(gateway.rtspUrl('raw264'), transport);
    assert.equal(probe.code, 0, summary(probe));
    assert.deepEqual(
      probe.streams.map((s) => [s.codec_type, s.codec_name, s.width, s.height]),
      [['video', 'h264', 640, 360]],
      summary(probe),
    );
  }
  await Promise.all(readers.map((r) => r.waitForMoreFrames(15, 5000)));
  assert.ok(readers.every((r) => r.running));
  await Promise.all([...readers.map((r) => r.proc.stop()), publisher.stop()]);
});

void test('raw H.265 from ffmpeg without a Content-Type: served as H.265 RTP with keyframes, and decoded by gst-launch and ffprobe', async () => {
  const publisher = ffmpegPublisher(clip.h265, gateway.pushUrl('raw265'), 'hevc', { contentType: false });
  await waitLive('raw265');
  // Node read the first bytes to tell the format, then handed the connection to the native ingest.
  assert.equal((await getStream(gateway.http, 'raw265'))?.publisher?.ingest, 'native');
  const client = await RtspClient.connect('127.0.0.1', gateway.rtspPort);
  try {
    const { medias, play } = await client.playAll('raw265');
    assert.equal(medias[0]?.encoding, 'H265');
    await client.waitForPackets((p) => accessUnits(p, 'h265').some((u) => u.keyframe), 3000, 'an H.265 IRAP access unit');
    const keyframe = accessUnits(client.rtp(0), 'h265').find((u) => u.keyframe)!;
    assert.ok(keyframe.lastArrivalMs - play.receivedAt < 1500);
  } finally {
    client.close();
  }
  const reader = new GstReader(gateway.rtspUrl('raw265'), 'tcp');
  await reader.waitForFrames(30, 15_000);
  const probe = await ffprobe(gateway.rtspUrl('raw265'));
  assert.deepEqual(probe.streams.map((s) => [s.codec_name, s.width, s.height]), [['hevc', 640, 360]], summary(probe));
  const info = await getStream(gateway.http, 'raw265');
  assert.equal(info?.format, 'h265');
  assert.equal(info?.video?.codec, 'h265');
  await Promise.all([reader.proc.stop(), publisher.stop()]);
});

void test('MPEG-TS with H.264 and AAC: readers get two tracks, video and audio', async () => {
  const publisher = ffmpegPublisher(clip.ts264, gateway.pushUrl('ts264'), 'mpegts');
  await waitLive('ts264');
  const probe = await ffprobe(gateway.rtspUrl('ts264'));
  assert.equal(probe.code, 0, summary(probe));
  const byType = Object.fromEntries(probe.streams.map((s) => [s.codec_type ?? '', s] as const));
  assert.equal(probe.streams.length, 2, summary(probe));
  assert.equal(byType.video?.codec_name, 'h264', summary(probe));
  assert.equal(byType.video?.width, 640);
  assert.equal(byType.audio?.codec_name, 'aac', summary(probe));
  assert.equal(byType.audio?.sample_rate, '48000');
  assert.equal(byType.audio?.channels, 2);
  const reader = new FfmpegReader(gateway.rtspUrl('ts264'), 'tcp');
  await reader.waitForFrames(30, 15_000);
  const info = await getStream(gateway.http, 'ts264');
  assert.equal(info?.format, 'mpegts');
  assert.deepEqual(info?.audio, { codec: 'aac', sampleRate: 48_000, channels: 2 });
  await Promise.all([reader.proc.stop(), publisher.stop()]);
});

void test('MPEG-TS with H.265 from ffmpeg without a Content-Type: readers get H.265 video', async () => {
  const publisher = ffmpegPublisher(clip.ts265, gateway.pushUrl('ts265'), 'mpegts', { contentType: false });
  await waitLive('ts265');
  assert.equal((await getStream(gateway.http, 'ts265'))?.publisher?.ingest, 'node', 'MPEG-TS is demuxed in JavaScript');
  const probe = await ffprobe(gateway.rtspUrl('ts265'), 'udp');
  assert.deepEqual(probe.streams.map((s) => [s.codec_type, s.codec_name, s.width, s.height]), [['video', 'hevc', 640, 360]], summary(probe));
  const reader = new FfmpegReader(gateway.rtspUrl('ts265'), 'udp');
  await reader.waitForFrames(30, 15_000);
  assert.equal((await getStream(gateway.http, 'ts265'))?.format, 'mpegts');
  await Promise.all([reader.proc.stop(), publisher.stop()]);
});

void test('curl -T of a .ts file is paced to real time, readers can play it meanwhile, and the response sums up the push', async () => {
  const seconds = 6;
  const pushing = curlPush(clip.upload, gateway.pushUrl('upload'), 'video/mp2t', 30_000);
  await waitLive('upload');
  const probe = await ffprobe(gateway.rtspUrl('upload'));
  assert.deepEqual(probe.streams.map((s) => s.codec_name).sort(), ['aac', 'h264'], summary(probe));
  const result = await pushing;
  assert.equal(result.status, 200, result.body);
  const pushed = JSON.parse(result.body) as PushSummary;
  assert.equal(pushed.stream, 'upload');
  assert.equal(pushed.bytes, media.size(clip.upload));
  assert.equal(pushed.frames, seconds * 30);
  // Sent as fast as TCP allows, it still takes about the media's duration.
  assert.ok(result.elapsedMs >= (seconds - 1.5) * 1000, `the upload of ${seconds} s of media took only ${result.elapsedMs.toFixed(0)} ms`);
  assert.ok(result.elapsedMs <= (seconds + 3) * 1000, `the upload took ${result.elapsedMs.toFixed(0)} ms`);
  assert.ok(Math.abs(pushed.durationMs - result.elapsedMs) < 1500, `durationMs ${pushed.durationMs} vs ${result.elapsedMs.toFixed(0)} ms`);
});

void test('a gst-launch curlhttpsink publisher is served to readers', async () => {
  const publisher = gstPublisher(gateway.pushUrl('gstpub'), { width: 320, height: 240 });
  await waitLive('gstpub');
  const probe = await ffprobe(gateway.rtspUrl('gstpub'));
  assert.deepEqual(probe.streams.map((s) => [s.codec_name, s.width, s.height]), [['h264', 320, 240]], summary(probe));
  const reader = new FfmpegReader(gateway.rtspUrl('gstpub'), 'tcp');
  await reader.waitForFrames(30, 15_000);
  const info = await getStream(gateway.http, 'gstpub');
  assert.equal(info?.format, 'h264');
  assert.ok(info && info.bytesIn > 0 && info.framesIn > 30, JSON.stringify(info));
  await Promise.all([reader.proc.stop(), publisher.stop()]);
});

void test('a raw H.265 file sent with curl -T is answered 200 with its bytes, durationMs and frames', async () => {
  const raw = await media.remux(clip.h265, 'short.hevc', 'hevc');
  const result = await curlPush(raw, gateway.pushUrl('short'), 'video/h265', 30_000);
  assert.equal(result.status, 200, result.body);
  const pushed = JSON.parse(result.body) as PushSummary;
  assert.deepEqual(Object.keys(pushed).sort(), ['bytes', 'durationMs', 'frames', 'stream']);
  assert.equal(pushed.bytes, media.size(raw));
  assert.equal(pushed.frames, 6 * 30);
  assert.ok(pushed.durationMs >= 4000 && pushed.durationMs <= 9000, `durationMs ${pushed.durationMs}`);
});
