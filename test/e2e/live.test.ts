// What an RTSP reader of a live H.264 push sees, measured with a raw RTSP client: 404 at once for
// an unknown name, a quick DESCRIBE, a keyframe first with bounded primed history (fast start)
// and then live data with no gap and no backlog, RTP timestamps at the real frame rate; and a
// second publisher refused without disturbing the first. (fast-start.test.ts covers the
// --fast-start off case, where a reader gets live data only and waits for the next keyframe.)
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { FfmpegReader, ffmpegPublisher, getStream, json, request, type ErrorBody } from './helpers/clients';
import { Gateway } from './helpers/gateway';
import { MediaDir } from './helpers/media';
import { run, sleep, waitFor } from './helpers/processes';
import { RtspClient, accessUnits, rtpDelta, type AccessUnitInfo, type RtpPacket } from './helpers/rtsp-client';
import { releaseOpened } from './helpers/cleanup';

const FPS = 30;
const GOP = 30;
const TICKS_PER_FRAME = 90_000 / FPS;

let gateway: Gateway;
let media: MediaDir;
let clip: string;
const clients: RtspClient[] = [];

async function rtspClient(): Promise<RtspClient> {
  const client = await RtspClient.connect('127.0.0.1', gateway.rtspPort);
  clients.push(client);
  return client;
}

before(async () => {
  media = new MediaDir();
  clip = await media.clip({ file: 'cam.mkv', codec: 'h264', seconds: 20, fps: FPS, gop: GOP });
  gateway = await Gateway.start();
  ffmpegPublisher(clip, gateway.pushUrl('cam1'), 'h264');
  await waitFor(async () => (await getStream(gateway.http, 'cam1'))?.state === 'live', 10_000, 'cam1 to go live');
  // Let the publisher run for a while before anyone reads: a backlog would have time to build.
  await sleep(2000);
});

after(() => releaseOpened({ clients, gateways: [gateway], media }));

void test('DESCRIBE of a name nobody publishes answers 404 at once, again and again', async () => {
  const client = await rtspClient();
  for (const name of ['nobody', 'site9/none', 'cam1x']) {
    const response = await client.describe(name, 3000);
    assert.equal(response.status, 404, `DESCRIBE ${name}: ${response.status} ${response.reason}`);
    assert.ok(response.elapsedMs < 1000, `DESCRIBE ${name} took ${response.elapsedMs.toFixed(0)} ms`);
  }
  // And a real player is told the same, without hanging.
  const probe = await run('ffprobe', ['-v', 'error', '-rtsp_transport', 'tcp', '-show_streams', gateway.rtspUrl('nobody')], 10_000);
  assert.notEqual(probe.code, 0);
  assert.match(probe.stderr, /404/);
  assert.ok(probe.elapsedMs < 3000, `ffprobe of a missing name took ${probe.elapsedMs.toFixed(0)} ms`);
});

void test('a new reader of a live stream gets DESCRIBE within 1 s, a keyframe first, at most a GOP of primed history, then live data with no gap', async () => {
  // The stream's first reader warms the media up (fast start logs packets from its first PLAY
  // on): the reader under test joins the way every later reader of a live stream does.
  const warmup = await rtspClient();
  await warmup.playAll('cam1');
  await sleep((GOP / FPS) * 1000 + 500);
  warmup.close();

  const client = await rtspClient();
  const { describe, medias, play } = await client.playAll('cam1');
  assert.ok(describe.elapsedMs < 1000, `DESCRIBE took ${describe.elapsedMs.toFixed(0)} ms`);
  assert.equal(medias.length, 1);
  assert.equal(medias[0]!.encoding, 'H264');
  assert.equal(medias[0]!.clockRate, 90_000);
  const playedAt = play.receivedAt;

  // Wait for an RTCP sender report: it ties RTP timestamps to the gateway's wall clock.
  await waitFor(() => client.senderReports.some((sr) => sr.channel === 1), 8000, 'an RTCP sender report');
  await client.waitForPackets(() => performance.now() - playedAt > 2500, 5000, '2.5 s of packets');
  const packets = client.rtp(0);
  const units = accessUnits(packets, 'h264');
  assert.ok(units.length > 0, 'no access unit arrived');

  // RTP-Info names the first packet sent, and nothing is missing or out of order after it.
  const rtpInfoSeq = Number(/;seq=(\d+)/.exec(play.headers['rtp-info'] ?? '')?.[1]);
  assert.equal(rtpInfoSeq, packets[0]!.seq, `RTP-Info ${play.headers['rtp-info']}`);
  for (let i = 1; i < packets.length; i++) {
    assert.equal((packets[i]!.seq - packets[i - 1]!.seq) & 0xffff, 1, `seq ${packets[i - 1]!.seq} then ${packets[i]!.seq}`);
  }

  // Primed history is bounded: in the first 500 ms at most one GOP (+700 ms when it starts at
  // the keyframe before a young one), plus what real time adds, plus a few frames of jitter.
  const historyMs = (GOP / FPS) * 1000 + 700;
  const early = units.filter((u) => u.lastArrivalMs - playedAt <= 500);
  assert.ok(early.length <= ((historyMs + 500) / 1000) * FPS + 4, `${early.length} access units arrived in the first 500 ms after PLAY: a backlog`);
  const earlySpan = early.length > 1 ? rtpDelta(early[0]!.timestamp, early[early.length - 1]!.timestamp) / 90 : 0;
  assert.ok(earlySpan <= historyMs + 650, `the first 500 ms carried ${earlySpan.toFixed(0)} ms of media`);

  // The first packet carries old media (the primed keyframe), but no older than that history;
  // after the burst the packets are live: their media is from just before they arrived.
  const sr = client.senderReports.find((r) => r.channel === 1)!;
  const lag = (packet: (typeof packets)[number]): number =>
    packet.arrivalWallMs - (sr.ntpUnixMs + rtpDelta(sr.rtpTimestamp, packet.timestamp) / 90);
  const first = packets[0]!;
  assert.ok(lag(first) < historyMs + 300, `the first RTP packet carried media from ${lag(first).toFixed(0)} ms before it arrived`);
  const lateLags = packets.filter((p) => p.arrivalMs - playedAt > 1500).map(lag);
  assert.ok(lateLags.length > 0 && Math.max(...lateLags) < 300, `packets after 1.5 s carried media up to ${Math.max(...lateLags).toFixed(0)} ms old: not live`);

  // The first access unit is a keyframe (IDR), and it is complete within 200 ms of PLAY.
  assert.ok(units[0]!.keyframe, `the first access unit holds NAL types ${units[0]!.nalTypes.join(',')}`);
  const keyframeMs = units[0]!.lastArrivalMs - playedAt;
  assert.ok(keyframeMs <= 200, `the first keyframe arrived ${keyframeMs.toFixed(0)} ms after PLAY`);
  const teardown = await client.teardown('cam1');
  assert.equal(teardown.status, 200);
});

void test('RTP timestamps of raw Annex-B pushed by ffmpeg -re advance by one frame period per access unit', async () => {
  const client = await rtspClient();
  const { play } = await client.playAll('cam1');
  // Fast start sends a burst of logged units at PLAY: real-time pacing is judged on what follows.
  const liveUnits = (packets: readonly RtpPacket[]): AccessUnitInfo[] =>
    accessUnits(packets, 'h264').filter((u) => u.firstArrivalMs - play.receivedAt >= 200);
  await client.waitForPackets((packets) => liveUnits(packets).length >= 4 * FPS + 1, 12_000, `${4 * FPS + 1} live access units`);
  const units = liveUnits(client.rtp(0));
  const deltas = units.slice(1).map((u, i) => rtpDelta(units[i]!.timestamp, u.timestamp));
  const smooth = deltas.filter((d) => Math.abs(d - TICKS_PER_FRAME) <= 180).length; // within 2 ms
  assert.ok(
    smooth / deltas.length >= 0.95,
    `only ${smooth} of ${deltas.length} timestamp steps are within 2 ms of ${TICKS_PER_FRAME} ticks: ${deltas.slice(0, 60).join(',')}`,
  );
  const span = rtpDelta(units[0]!.timestamp, units[units.length - 1]!.timestamp);
  const rate = (90_000 * (units.length - 1)) / span;
  assert.ok(Math.abs(rate - FPS) / FPS <= 0.01, `mean rate from RTP timestamps is ${rate.toFixed(3)} fps`);
  // And they follow real time: the RTP clock advanced as much as the wall clock did (within 5 %).
  const wallMs = units[units.length - 1]!.lastArrivalMs - units[0]!.lastArrivalMs;
  assert.ok(Math.abs(span / 90 - wallMs) / wallMs <= 0.05, `${(span / 90).toFixed(0)} ms of RTP time arrived in ${wallMs.toFixed(0)} ms`);
  client.close();
});

void test('a second publisher to a live name gets 409 STREAM_BUSY and the first goes on undisturbed', async () => {
  const reader = new FfmpegReader(gateway.rtspUrl('cam1'), 'tcp');
  await reader.waitForFrames(15, 10_000);
  const before = await getStream(gateway.http, 'cam1');
  assert.ok(before?.publisher);

  const second = await request('POST', gateway.pushUrl('cam1'), {
    headers: { 'content-type': 'video/h264' },
    body: Buffer.alloc(64 * 1024, 0),
  });
  assert.equal(second.status, 409, second.text);
  const body = json<ErrorBody>(second);
  assert.equal(body.error.code, 'STREAM_BUSY');
  assert.match(body.error.message, /cam1/);

  // A real second publisher (ffmpeg) is refused too and gives up.
  const rival = ffmpegPublisher(clip, gateway.pushUrl('cam1'), 'h264', { loop: false });
  const rivalExit = await rival.waitForExit(15_000);
  assert.notEqual(rivalExit.code, 0, 'the second ffmpeg publisher should fail');

  // The first publisher and its reader carry on.
  await reader.waitForMoreFrames(2 * FPS, 5000);
  const afterwards = await getStream(gateway.http, 'cam1');
  assert.equal(afterwards?.state, 'live');
  assert.equal(afterwards?.liveSince, before.liveSince, 'the stream was restarted');
  assert.ok(afterwards.framesIn > before.framesIn);
  assert.ok(reader.running, 'the reader stopped');
  await reader.proc.stop();
});
