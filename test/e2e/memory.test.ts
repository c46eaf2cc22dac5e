// Memory is bounded per stream: a large MPEG-TS file sent as fast as TCP allows is held back to
// real time, and the gateway's resident memory does not follow the bytes sent. And readers
// joining by the thousand leave nothing behind: no JavaScript runs per DESCRIBE (it once did,
// through the media factory's key function, and 2000 DESCRIBEs grew the process by ~37 MB).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { curlPushProc, ffmpegPublisher, getStream } from './helpers/clients';
import { Gateway } from './helpers/gateway';
import { MediaDir } from './helpers/media';
import { run, sleep, waitFor } from './helpers/processes';
import { RtspClient, describeMany } from './helpers/rtsp-client';
import { releaseOpened } from './helpers/cleanup';

const SEGMENT_SECONDS = 5;
const LOOPS = 6;
const PUSH_MS = 16_000;
const READER_MS = 8_000;
// With fast start the stream's pipeline and its packet log (12 MB at most, 1.6 GOPs of this
// 60 Mbit/s stream) run from go-live, reader or not: about 70-95 MB in all, measured.
const MAX_GROWTH = 112 * 1024 * 1024;

let gateway: Gateway;
let media: MediaDir;
let big: string;
let client: RtspClient | undefined;

before(async () => {
  media = new MediaDir();
  // A noisy 720p picture at ~60 Mbit/s, then looped (timestamps stay continuous) to ~250 MB.
  const segment = media.file('segment.ts');
  const encode = await run('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30,noise=alls=40:allf=t', '-t', String(SEGMENT_SECONDS),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '60M', '-maxrate', '60M', '-bufsize', '60M', '-g', '30', '-bf', '0', '-pix_fmt', 'yuv420p',
    '-f', 'mpegts', segment,
  ], 60_000);
  assert.equal(encode.code, 0, encode.stderr);
  big = media.file('big.ts');
  const loop = await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', '-stream_loop', String(LOOPS - 1), '-i', segment, '-c', 'copy', '-f', 'mpegts', big], 60_000);
  assert.equal(loop.code, 0, loop.stderr);
  gateway = await Gateway.start();
});

after(() => releaseOpened({ clients: [client], gateways: [gateway], media }));

interface Sample {
  readonly atS: number;
  readonly rss: number;
  readonly bytesIn: number;
}

function describeSamples(baseline: number, samples: readonly Sample[]): string {
  return `baseline RSS ${Math.round(baseline / 1e6)} MB; t / RSS / bytes in: ${samples
    .filter((_, i) => i % 2 === 1)
    .map((x) => `${x.atS.toFixed(1)}s ${Math.round(x.rss / 1e6)}MB ${Math.round(x.bytesIn / 1e6)}MB`)
    .join(', ')}`;
}

void test('an unpaced ~250 MB MPEG-TS upload is held back to real time and grows the gateway RSS by at most 112 MB, levelling off, with or without a reader', async () => {
  const fileBytes = media.size(big);
  const bytesPerSecond = fileBytes / (SEGMENT_SECONDS * LOOPS);
  assert.ok(fileBytes > 200 * 1024 * 1024, `the test file is only ${fileBytes} bytes`);

  // Baseline: the gateway at rest.
  await sleep(500);
  const baseline = gateway.rssBytes();
  const curl = curlPushProc(big, gateway.pushUrl('big'), 'video/mp2t');
  const startedAt = performance.now();
  await waitFor(async () => (await getStream(gateway.http, 'big'))?.state === 'live', 10_000, 'big to go live');

  const samples: Sample[] = [];
  const sampleUntil = async (ms: number): Promise<void> => {
    while (performance.now() - startedAt < ms) {
      await sleep(500);
      const rss = gateway.rssBytes();
      const info = await getStream(gateway.http, 'big');
      samples.push({ atS: (performance.now() - startedAt) / 1000, rss, bytesIn: info?.bytesIn ?? -1 });
    }
  };

  // Phase 1: the upload alone.
  await sampleUntil(PUSH_MS);
  const phase1 = [...samples];
  const atPhase1End = phase1[phase1.length - 1]!;
  assert.ok(curl.running, `curl ended early: ${curl.tail()}`);

  // Phase 2: the same upload with a reader, so the stream's RTSP pipeline runs too.
  client = await RtspClient.connect('127.0.0.1', gateway.rtspPort);
  client.keepPackets = false;
  await client.playAll('big');
  await sampleUntil(PUSH_MS + READER_MS);
  const packets = client.packetCount;
  const readerClosed = client.closed;
  curl.kill('SIGKILL');
  const report = describeSamples(baseline, samples);

  // Memory does not follow the bytes sent.
  assert.ok(atPhase1End.bytesIn > MAX_GROWTH, `only ${atPhase1End.bytesIn} bytes were pushed in ${atPhase1End.atS.toFixed(1)} s: ${report}`);
  const peak1 = Math.max(...phase1.map((x) => x.rss));
  assert.ok(peak1 - baseline <= MAX_GROWTH, `RSS grew by ${Math.round((peak1 - baseline) / 1e6)} MB while ${Math.round(atPhase1End.bytesIn / 1e6)} MB were pushed: ${report}`);
  // It levels off: over the last 8 s of phase 1, RSS stays put while another ~60 MB are pushed.
  const eightBefore = phase1.find((x) => x.atS >= atPhase1End.atS - 8)!;
  assert.ok(atPhase1End.rss - eightBefore.rss <= 16 * 1024 * 1024, `without a reader, RSS grew from ${Math.round(eightBefore.rss / 1e6)} to ${Math.round(atPhase1End.rss / 1e6)} MB in ${(atPhase1End.atS - eightBefore.atS).toFixed(1)} s: ${report}`);
  // The publisher was held back to real time: what it got in is about what the media lasts.
  const realTimeBytes = bytesPerSecond * atPhase1End.atS;
  assert.ok(atPhase1End.bytesIn <= realTimeBytes + 3 * bytesPerSecond, `${atPhase1End.bytesIn} bytes read in ${atPhase1End.atS.toFixed(1)} s, real time is ${Math.round(realTimeBytes)}: ${report}`);
  assert.ok(atPhase1End.bytesIn >= realTimeBytes - 5 * bytesPerSecond, `the upload fell behind real time: ${report}`);

  // With a reader the memory levels off too: over the last 4 s of phase 2 RSS stays put while
  // another ~30 MB are pushed.
  const last = samples[samples.length - 1]!;
  const fourBefore = samples.find((x) => x.atS >= last.atS - 4)!;
  assert.ok(last.rss - fourBefore.rss <= 16 * 1024 * 1024, `with a reader, RSS grew from ${Math.round(fourBefore.rss / 1e6)} to ${Math.round(last.rss / 1e6)} MB in ${(last.atS - fourBefore.atS).toFixed(1)} s: ${report}`);
  assert.ok(packets > 1000, `the reader got ${packets} RTP packets`);
  assert.ok(!readerClosed, 'the reader was disconnected');
});

void test('2000 DESCRIBEs of a live stream grow the gateway RSS by less than 16 MB', async () => {
  const clip = await media.clip({ file: 'small.mkv', codec: 'h264', seconds: 10 });
  ffmpegPublisher(clip, gateway.pushUrl('described'), 'h264', { loop: true });
  await waitFor(async () => (await getStream(gateway.http, 'described'))?.state === 'live', 10_000, 'described to go live');
  // A reader that plays keeps the stream's media prepared: the DESCRIBEs all share it. (Without
  // one, each DESCRIBE prepares a media that the next may find unpreparing, and gets 503.)
  const watcher = await RtspClient.connect('127.0.0.1', gateway.rtspPort);
  watcher.keepPackets = false;
  try {
    await watcher.playAll('described');
    await describeMany(gateway.rtspPort, 'described', 50);
    await sleep(1000);
    const before = gateway.rssBytes();
    assert.equal(await describeMany(gateway.rtspPort, 'described', 2000), 2000);
    await sleep(1500);
    const growthMb = (gateway.rssBytes() - before) / 1024 / 1024;
    assert.ok(growthMb < 16, `2000 DESCRIBEs grew RSS by ${growthMb.toFixed(1)} MB`);
  } finally {
    watcher.close();
  }
});
