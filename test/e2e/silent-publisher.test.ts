// A reader that asks for a stream whose publisher has gone silent. With fast start the stream's
// media has run since go-live: the reader is answered at once and primed with the last GOP.
// Without it, its DESCRIBE waits for the publisher's next frame (a live media is prepared with
// live data), on its own RTSP thread. Nothing else may wait with it: pushgate once asked
// gst-rtsp-server for the status of a released media from Node's thread, which blocks while the
// media prepares (up to 20 s), and so froze the whole gateway, and SIGTERM went unanswered.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CONTENT_TYPES, ManualPush, getStream, request } from './helpers/clients';
import { Gateway } from './helpers/gateway';
import { MediaDir, accessUnitsOf } from './helpers/media';
import { sleep, waitFor } from './helpers/processes';
import { RtspClient, accessUnits, type RtspResponse } from './helpers/rtsp-client';
import { releaseOpened } from './helpers/cleanup';

const IDLE_TIMEOUT_MS = 1500;

let gateway: Gateway | undefined;
let media: MediaDir;
let units: Buffer[];
const clients: RtspClient[] = [];
const pushes: ManualPush[] = [];

before(async () => {
  media = new MediaDir();
  const file = await media.clip({ file: 'clip.h264', codec: 'h264', seconds: 1, fps: 30, gop: 30 });
  units = accessUnitsOf(file, 'h264');
});

after(() => releaseOpened({ clients, pushes, gateways: [gateway], media }));

/** Pushes a few frames as `name`, waits for it to go live, and then sends nothing more. */
async function silentStream(gw: Gateway, name: string): Promise<ManualPush> {
  const push = new ManualPush(gw.pushUrl(name), CONTENT_TYPES.h264);
  pushes.push(push);
  for (const unit of units.slice(0, 10)) {
    assert.ok(await push.write(unit));
    await sleep(33);
  }
  await waitFor(async () => (await getStream(gw.http, name))?.state === 'live', 10_000, `${name} to go live`);
  return push;
}

/** A DESCRIBE left waiting; settles with the answer, or undefined if none came. */
async function pendingDescribe(gw: Gateway, name: string): Promise<{ answer: Promise<RtspResponse | undefined> }> {
  const client = await RtspClient.connect('127.0.0.1', gw.rtspPort);
  clients.push(client);
  return { answer: client.describe(name, 15_000).catch(() => undefined) };
}

async function assertResponsive(gw: Gateway, when: string): Promise<void> {
  const health = await request('GET', `${gw.http}/healthz`, { timeoutMs: 2000 });
  assert.equal(health.status, 200, `healthz ${when}`);
  assert.ok(health.elapsedMs < 1000, `healthz took ${health.elapsedMs.toFixed(0)} ms ${when}`);
}

void test('with fast start, a reader of a silent publisher plays at once, from the last keyframe it sent', async () => {
  const gw = await Gateway.start(['--idle-timeout', '10000']);
  try {
    await silentStream(gw, 'paused');
    await sleep(500);
    const client = await RtspClient.connect('127.0.0.1', gw.rtspPort);
    clients.push(client);
    const startedAt = performance.now();
    const { play } = await client.playAll('paused');
    assert.ok(play.receivedAt - startedAt < 1000, `DESCRIBE, SETUP and PLAY took ${(play.receivedAt - startedAt).toFixed(0)} ms`);
    await client.waitForPackets((packets) => accessUnits(packets, 'h264').some((u) => u.keyframe), 2000, 'a keyframe while the publisher is silent');
    assert.ok(accessUnits(client.rtp(0), 'h264')[0]?.keyframe, 'the first access unit is not a keyframe');
  } finally {
    await gw.stop();
  }
});

void test('without fast start, a DESCRIBE waiting for a silent publisher stops nothing else, and is answered when the publisher is closed as idle', async () => {
  gateway = await Gateway.start(['--idle-timeout', String(IDLE_TIMEOUT_MS), '--log-level', 'debug', '--fast-start', 'off']);
  const push = await silentStream(gateway, 'quiet');
  const describe = await pendingDescribe(gateway, 'quiet');
  await sleep(300);
  await assertResponsive(gateway, 'while a DESCRIBE waits for the silent publisher');

  const answer = await push.response;
  assert.equal(answer.status, 408, answer.text);
  await assertResponsive(gateway, 'after the silent publisher was closed');
  const described = await describe.answer;
  assert.ok(described, 'the waiting DESCRIBE got no answer after the stream ended');
  // The media never had a frame: the reader is told it is unavailable, not kept waiting.
  assert.equal(described.status, 503, `DESCRIBE answered ${described.status} ${described.reason}`);
  await gateway.waitForLog((l) => l.stream === 'quiet' && l.msg === 'RTSP media unprepared', 5000, 'the waiting media to be unprepared');
  await assertResponsive(gateway, 'after the media was released');
});

void test('without fast start, SIGTERM while a DESCRIBE waits for a silent publisher: the gateway exits at once', async () => {
  const gw = await Gateway.start(['--fast-start', 'off']);
  await silentStream(gw, 'hushed');
  void pendingDescribe(gw, 'hushed');
  await sleep(500);
  const exit = await gw.stop('SIGTERM', 5000);
  assert.equal(exit.code, 0, `exit ${JSON.stringify(exit)}\n${gw.logTail()}`);
});
