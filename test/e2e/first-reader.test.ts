// The first reader of a stream nobody has watched yet starts from a keyframe at once too: with
// fast start, a stream's media is built and kept running from go-live, so its packet log is
// warm before anyone reads. Measured on a 2 s GOP, each reader the first of its stream, joining
// mid-GOP; with --fast-start watched the same join waits for the next keyframe (so this can fail).
// Also: DESCRIBEs of a stream nobody plays never race a stopping media (503).
import assert from 'node:assert/strict';
import { after, before, test, type TestContext } from 'node:test';
import { CONTENT_TYPES, ManualPush, ffmpegPublisher, getStream, request } from './helpers/clients';
import { Gateway, type LogLine } from './helpers/gateway';
import { MediaDir, accessUnitsOf } from './helpers/media';
import { sleep, waitFor } from './helpers/processes';
import { RtspClient, accessUnits, describeMany } from './helpers/rtsp-client';
import { releaseOpened } from './helpers/cleanup';

const FPS = 30;
const GOP = 60;
const GOP_MS = (GOP / FPS) * 1000;

let media: MediaDir;
let clip: string;
const gateways: Gateway[] = [];
const clients: RtspClient[] = [];

before(async () => {
  media = new MediaDir();
  clip = await media.clip({ file: 'gop2.mkv', codec: 'h264', seconds: 20, fps: FPS, gop: GOP });
});

after(() => releaseOpened({ clients, gateways, media }));

async function startGateway(args: readonly string[]): Promise<Gateway> {
  const gateway = await Gateway.start(['--log-level', 'debug', ...args]);
  gateways.push(gateway);
  return gateway;
}

async function goLive(gateway: Gateway, name: string): Promise<void> {
  ffmpegPublisher(clip, gateway.pushUrl(name), 'h264');
  await waitFor(async () => (await getStream(gateway.http, name))?.state === 'live', 10_000, `${name} to go live`);
}

/** The first reader of `name`: ms from its PLAY reply to its first complete keyframe, and whether its packets start at RTP-Info's seq. */
async function firstJoin(gateway: Gateway, name: string): Promise<{ keyframeMs: number; startsAtRtpInfo: boolean; firstIsKey: boolean }> {
  const client = await RtspClient.connect('127.0.0.1', gateway.rtspPort);
  clients.push(client);
  const { play } = await client.playAll(name);
  await client.waitForPackets(() => performance.now() - play.receivedAt >= 2500, 6000, '2.5 s of packets');
  client.close();
  const packets = client.rtp(0);
  const units = accessUnits(packets, 'h264');
  const keyframe = units.find((u) => u.keyframe);
  const seq = /;seq=(\d+)/.exec(play.headers['rtp-info'] ?? '');
  return {
    keyframeMs: keyframe ? keyframe.lastArrivalMs - play.receivedAt : Infinity,
    startsAtRtpInfo: seq !== null && Number(seq[1]) === packets[0]?.seq,
    firstIsKey: units[0]?.keyframe === true,
  };
}

function counters(gateway: Gateway): Record<string, number> {
  const lines = gateway.logs.filter((l: LogLine) => l.msg === 'fast start counters');
  return (lines[lines.length - 1]?.fastStart ?? {}) as Record<string, number>;
}

void test('the first reader of each stream, joining mid-GOP, gets a complete keyframe within 200 ms of PLAY', async (t: TestContext) => {
  const gateway = await startGateway([]);
  const names = ['first0', 'first1', 'first2', 'first3'];
  // Streams go live at different points of their GOPs; each is first read 1.2 to 2.7 s later,
  // at a different point of its GOP, and never before.
  for (const name of names) {
    await goLive(gateway, name);
    await sleep(397);
  }
  await waitFor(() => (counters(gateway).warmedMedias ?? 0) >= names.length, 5000, 'the media of every stream to be warm');
  const joins = [];
  for (const name of names) joins.push(await firstJoin(gateway, name));
  const times = joins.map((j) => j.keyframeMs);
  t.diagnostic(`first readers' first complete keyframe after PLAY: ${times.map((v) => v.toFixed(1)).join(', ')} ms`);
  for (const [i, join] of joins.entries()) {
    assert.ok(join.keyframeMs <= 200, `${names[i]}: first keyframe ${join.keyframeMs.toFixed(0)} ms after PLAY`);
    assert.ok(join.firstIsKey, `${names[i]}: the first access unit is not a keyframe`);
    assert.ok(join.startsAtRtpInfo, `${names[i]}: packets do not start at the RTP-Info seq`);
  }
  // One pipeline per stream, built at go-live: the readers built none.
  for (const name of names) {
    const built = gateway.streamLogs(name).filter((l) => l.msg === 'building RTSP media pipeline');
    assert.equal(built.length, 1, `${name}: ${built.length} pipelines built`);
  }
  await waitFor(() => (counters(gateway).primedJoins ?? 0) >= names.length, 3000, 'the primed joins in the counters');
  assert.equal(counters(gateway).warmFailures, 0, JSON.stringify(counters(gateway)));
  // Building media at go-live logs no warning (gst-rtsp-server's own latency warning is debug).
  const warnings = gateway.logs.filter((l) => Number(l.level) >= 40);
  assert.deepEqual(warnings, []);
});

void test('with --fast-start watched nothing runs for a stream until its first reader, who waits for the next keyframe; later readers are primed', async (t: TestContext) => {
  const gateway = await startGateway(['--fast-start', 'watched']);
  await goLive(gateway, 'cold');
  // Live for 2.5 s: the next keyframe is about 1.5 s away whatever the encoder's phase.
  await sleep(GOP_MS + 500);
  assert.equal(gateway.streamLogs('cold').filter((l) => l.msg === 'building RTSP media pipeline').length, 0, 'a pipeline was built before anyone read the stream');
  const first = await firstJoin(gateway, 'cold');
  t.diagnostic(`first complete keyframe after PLAY, fast start watched: first reader ${first.keyframeMs.toFixed(0)} ms`);
  assert.ok(first.keyframeMs > 300, `first keyframe ${first.keyframeMs.toFixed(0)} ms after PLAY`);
  // The first reader has been gone for a moment; the media still runs, and its log has keyframes.
  const second = await firstJoin(gateway, 'cold');
  t.diagnostic(`second reader ${second.keyframeMs.toFixed(1)} ms`);
  assert.ok(second.keyframeMs <= 200 && second.firstIsKey && second.startsAtRtpInfo, JSON.stringify(second));
  assert.equal(counters(gateway).warmedMedias ?? 0, 0);
});

void test('DESCRIBEs of a stream nobody plays all get 200: no media is stopping under them', async () => {
  const gateway = gateways[0]!;
  const name = 'described';
  await goLive(gateway, name);
  const statuses = new Map<number, number>();
  // 200 DESCRIBEs, 20 at a time, each on its own connection that closes at once.
  for (let round = 0; round < 10; round++) {
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        const client = await RtspClient.connect('127.0.0.1', gateway.rtspPort);
        try {
          const reply = await client.describe(name);
          statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
        } finally {
          client.close();
        }
      }),
    );
  }
  assert.deepEqual([...statuses], [[200, 200]]);
  // Still one pipeline: every DESCRIBE found the media built at go-live.
  const built = gateway.streamLogs(name).filter((l) => l.msg === 'building RTSP media pipeline');
  assert.equal(built.length, 1, `${built.length} pipelines built`);
});

void test('streams going live while readers keep asking for them: every DESCRIBE is answered and the gateway never stalls', async () => {
  // A reader that polls a name until it goes live (what players and NVRs do) sends a DESCRIBE
  // that can build the stream's media on an RTSP thread, holding the factory's lock while
  // JavaScript builds the pipeline, at the moment Node's thread builds it at go-live: if Node's
  // thread then waits for that lock, neither goes on.
  const gateway = await startGateway([]);
  const file = await media.clip({ file: 'race.h264', codec: 'h264', seconds: 1, fps: FPS, gop: 30 });
  const units = accessUnitsOf(file, 'h264');
  for (let round = 0; round < 40; round++) {
    const name = `race${round}`;
    let live = false;
    const pollers = Array.from({ length: 6 }, async () => {
      while (!live) await describeMany(gateway.rtspPort, name, 1, { concurrency: 1 });
    });
    const push = new ManualPush(gateway.pushUrl(name), CONTENT_TYPES.h264);
    for (const unit of units.slice(0, 3)) assert.ok(await push.write(unit));
    await waitFor(async () => (await getStream(gateway.http, name))?.state === 'live', 5000, `${name} to go live`);
    await sleep(20);
    live = true;
    await Promise.all(pollers);
    const health = await request('GET', `${gateway.http}/healthz`, { timeoutMs: 2000 });
    assert.ok(health.status === 200 && health.elapsedMs < 1000, `round ${round}: healthz ${health.status} in ${health.elapsedMs.toFixed(0)} ms`);
    assert.equal(await describeMany(gateway.rtspPort, name, 1), 1, `round ${round}: DESCRIBE of the live stream`);
    push.destroy();
  }
});
