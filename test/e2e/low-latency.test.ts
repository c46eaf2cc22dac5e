// An Annex-B access unit has no end marker of its own: pushgate knows a unit is complete when the
// next one begins. A publisher that sends the next unit's access unit delimiter (AUD) right
// after each unit, or that has shown it writes one unit per HTTP chunk, gets every unit to
// readers without waiting a frame period for the next one.
// Checked in lockstep: after a unit (and the AUD), the publisher sends nothing more until a
// reader has the whole unit; without either, the unit stays in pushgate until more bytes come.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CONTENT_TYPES, ManualPush, getStream } from './helpers/clients';
import { Gateway } from './helpers/gateway';
import { MediaDir, accessUnitsOf } from './helpers/media';
import { sleep, waitFor } from './helpers/processes';
import { RtspClient, accessUnits, type Codec } from './helpers/rtsp-client';
import { releaseOpened } from './helpers/cleanup';

const FPS = 30;
const FRAME_MS = 1000 / FPS;
/** Units sent before the reader joins: enough for the stream to go live. */
const WARMUP_UNITS = 10;
const LOCKSTEP_UNITS = 8;
/** How long a unit without its end marker is watched for not arriving. */
const HELD_MS = 400;

const AUD: Record<Codec, Buffer> = {
  h264: Buffer.from([0, 0, 0, 1, 0x09, 0xf0]),
  // nal_unit_type 35, layer 0, temporal id 1; pic_type 2 and the stop bit.
  h265: Buffer.from([0, 0, 0, 1, 0x46, 0x01, 0x50]),
};

let gateway: Gateway;
/** Reads every push in JavaScript. */
let nodeGateway: Gateway;
let media: MediaDir;
const clients: RtspClient[] = [];
const pushes: ManualPush[] = [];

before(async () => {
  media = new MediaDir();
  [gateway, nodeGateway] = await Promise.all([Gateway.start(), Gateway.start(['--native-ingest', 'off'])]);
});

after(() => releaseOpened({ clients, pushes, gateways: [gateway, nodeGateway], media }));

async function clipUnits(codec: Codec): Promise<Buffer[]> {
  const file = await media.clip({ file: `clip-${codec}.${codec === 'h264' ? 'h264' : 'hevc'}`, codec, seconds: 3, fps: FPS, gop: FPS });
  return accessUnitsOf(file, codec);
}

/** The RTP timestamp of the newest access unit the reader has whole (marker bit seen). */
function newestWholeUnit(client: RtspClient): number | undefined {
  const packets = client.rtp(0);
  for (let i = packets.length - 1; i >= 0; i--) if (packets[i]!.marker) return packets[i]!.timestamp;
  return undefined;
}

for (const codec of ['h264', 'h265'] as const) {
  void test(`${codec}: a unit followed by the next one's AUD reaches readers before the next unit is sent; without the AUD it waits`, async () => {
    const units = await clipUnits(codec);
    assert.ok(units.length >= WARMUP_UNITS + LOCKSTEP_UNITS + 20, `the clip has only ${units.length} access units`);
    const name = `lowlat-${codec}`;
    const push = new ManualPush(gateway.pushUrl(name), CONTENT_TYPES[codec === 'h264' ? 'h264' : 'hevc']);
    pushes.push(push);
    const aud = AUD[codec];

    assert.ok(await push.write(aud));
    let next = 0;
    const sendUnit = async (): Promise<void> => {
      assert.ok(await push.write(Buffer.concat([units[next++]!, aud])));
      await sleep(FRAME_MS);
    };
    while (next < WARMUP_UNITS) await sendUnit();
    await waitFor(async () => (await getStream(gateway.http, name))?.state === 'live', 10_000, `${name} to go live`);

    const client = await RtspClient.connect('127.0.0.1', gateway.rtspPort);
    clients.push(client);
    // The reader's media starts with the publisher's next unit: keep sending until PLAY is answered.
    let playing = false;
    const played = client.playAll(name).finally(() => (playing = true));
    while (!playing && next < units.length - LOCKSTEP_UNITS - 1) await sendUnit();
    await played;
    await client.waitForPackets(() => newestWholeUnit(client) !== undefined, 5000, 'the first units');
    await sleep(200);

    for (let i = 0; i < LOCKSTEP_UNITS; i++, next++) {
      const before = newestWholeUnit(client);
      assert.ok(await push.write(Buffer.concat([units[next]!, aud])));
      // Nothing more is sent until the reader has this unit whole.
      await client.waitForPackets(
        () => newestWholeUnit(client) !== before,
        2000,
        `unit ${next} (followed by an AUD) to reach the reader while the publisher sends nothing more`,
      );
      await sleep(FRAME_MS);
    }

    // Without the next unit's first bytes, nothing says a unit is complete: it is held.
    const before = newestWholeUnit(client);
    assert.ok(await push.write(units[next]!));
    await sleep(HELD_MS);
    assert.equal(newestWholeUnit(client), before, 'a unit with no end marker was forwarded before the next unit began');
    // The AUD completes it.
    assert.ok(await push.write(aud));
    await client.waitForPackets(() => newestWholeUnit(client) !== before, 2000, `unit ${next} once its AUD was sent`);
    push.end();
    const answer = await push.response;
    assert.equal(answer.status, 200, answer.text);
  });
}

// Most publishers (ffmpeg, the bench's probe, scripts writing frame by frame) send each unit as
// one HTTP chunk. Once 60 units in a row ended exactly where a chunk did, pushgate takes a chunk's
// end as the unit's end (2 ms after it, if nothing more came) and needs no AUD.
const ALIGNED_UNITS_TO_TRUST = 60;

/** Pushes `count` units, one chunk each, a frame period apart; returns the next unit's index. */
async function pushUnitPerChunk(push: ManualPush, units: readonly Buffer[], from: number, count: number): Promise<number> {
  for (let i = from; i < from + count; i++) {
    assert.ok(await push.write(units[i]!));
    await sleep(FRAME_MS);
  }
  return from + count;
}

/** A publisher that has sent `warmup` units one per chunk, and a TCP reader that has the first ones. */
async function chunkedPublisherAndReader(codec: Codec, name: string, units: readonly Buffer[], warmup: number): Promise<{ push: ManualPush; client: RtspClient; next: number }> {
  const push = new ManualPush(gateway.pushUrl(name), CONTENT_TYPES[codec === 'h264' ? 'h264' : 'hevc']);
  pushes.push(push);
  let next = await pushUnitPerChunk(push, units, 0, 10);
  await waitFor(async () => (await getStream(gateway.http, name))?.state === 'live', 10_000, `${name} to go live`);
  const client = await RtspClient.connect('127.0.0.1', gateway.rtspPort);
  clients.push(client);
  let playing = false;
  const played = client.playAll(name).finally(() => (playing = true));
  while (!playing) next = await pushUnitPerChunk(push, units, next, 1);
  await played;
  next = await pushUnitPerChunk(push, units, next, Math.max(0, warmup - next));
  await client.waitForPackets(() => newestWholeUnit(client) !== undefined, 5000, 'the first units');
  return { push, client, next };
}

for (const codec of ['h264', 'h265'] as const) {
  void test(`${codec}: a publisher that writes one unit per chunk gets each unit, keyframes included, to readers before the next is sent, once ${ALIGNED_UNITS_TO_TRUST} units ended with their chunks`, async () => {
    const units = await media.clip({ file: `chunked-${codec}.${codec === 'h264' ? 'h264' : 'hevc'}`, codec, seconds: 5, fps: FPS, gop: FPS }).then((file) => accessUnitsOf(file, codec));
    const { push, client, next: first } = await chunkedPublisherAndReader(codec, `chunked-${codec}`, units, ALIGNED_UNITS_TO_TRUST + 15);
    // Lockstep through the next keyframe (a GOP is FPS units): each unit is written alone and the
    // next one only once the reader has it whole. A unit held for the next one's first bytes
    // would let the previous unit through instead: never the keyframe.
    const keyframe = Math.ceil(first / FPS) * FPS;
    assert.ok(keyframe + 2 < units.length, `the clip has only ${units.length} access units`);
    for (let next = first; next <= keyframe + 1; next++) {
      const before = newestWholeUnit(client);
      assert.ok(await push.write(units[next]!));
      await client.waitForPackets(
        () => newestWholeUnit(client) !== before && accessUnits(client.rtp(0), codec).at(-1)?.keyframe === (next % FPS === 0),
        2000,
        `unit ${next} (one chunk${next % FPS === 0 ? ', a keyframe' : ''}) to reach the reader while the publisher sends nothing more`,
      );
      await sleep(FRAME_MS);
    }
    push.end();
    const answer = await push.response;
    assert.equal(answer.status, 200, answer.text);
  });
}

void test('a chunked publisher that then splits a unit over two chunks: that unit is cut short once, later units wait for the next one again, and the stream plays on', async () => {
  const units = await media.clip({ file: 'chunked-split.h264', codec: 'h264', seconds: 5, fps: FPS, gop: FPS }).then((file) => accessUnitsOf(file, 'h264'));
  const { push, client, next: first } = await chunkedPublisherAndReader('h264', 'chunked-split', units, ALIGNED_UNITS_TO_TRUST + 15);
  let next = first;
  // Unit `next` in two chunks, 50 ms apart: its first half leaves as a unit of its own.
  const split = units[next++]!;
  const half = Math.floor(split.length / 2);
  assert.ok(await push.write(split.subarray(0, half)));
  await sleep(50);
  assert.ok(await push.write(split.subarray(half)));
  await sleep(FRAME_MS);
  // From now on a unit waits for the next one's first bytes, as without chunk framing.
  const before = newestWholeUnit(client);
  assert.ok(await push.write(units[next++]!));
  await sleep(HELD_MS);
  assert.equal(newestWholeUnit(client), before, 'after a split unit, a unit was still taken as ending with its chunk');
  const countBefore = client.rtp(0).length;
  next = await pushUnitPerChunk(push, units, next, 30);
  await client.waitForPackets(() => newestWholeUnit(client) !== before, 2000, 'the held unit once the next one began');
  assert.ok(client.rtp(0).length > countBefore + 20, 'the stream stopped after the split unit');
  push.end();
  const answer = await push.response;
  assert.equal(answer.status, 200, answer.text);
});

// A publisher's first frames often come in a burst (they waited for the connection); after it,
// frames arrive one period apart, early by the burst against the frame clock started by the
// first. Such a publisher is paced by its own clock: pushgate follows its phase within seconds
// instead of holding every later frame by the burst for good.
for (const path of ['native', 'node'] as const) {
  void test(`a paced publisher whose first units came in a burst is not held behind them (${path} ingest)`, async () => {
    const units = await media.clip({ file: 'burst.h264', codec: 'h264', seconds: 7, fps: FPS, gop: FPS }).then((file) => accessUnitsOf(file, 'h264'));
    const name = `burst-${path}`;
    const own = path === 'native' ? gateway : nodeGateway;
    const push = new ManualPush(own.pushUrl(name), CONTENT_TYPES.h264);
    pushes.push(push);
    const BURST = 4;
    assert.ok(await push.write(Buffer.concat(units.slice(0, BURST))));
    const writtenAt: number[] = [];
    const startedAt = performance.now();
    let client: RtspClient | undefined;
    for (let i = BURST; i < units.length; i++) {
      await sleep(startedAt + (i - BURST + 1) * FRAME_MS - performance.now());
      assert.ok(await push.write(units[i]!));
      writtenAt[i] = performance.now();
      if (i === 30) {
        const stream = await getStream(own.http, name);
        assert.equal(stream?.state, 'live');
        assert.equal(stream?.publisher?.ingest, path);
        client = await RtspClient.connect('127.0.0.1', own.rtspPort);
        clients.push(client);
        void client.playAll(name);
      }
    }
    await sleep(300);
    // The last units written, and the reader's last whole units (marker packets), in order.
    const MEASURED = 30;
    const markers = client!.rtp(0).filter((packet) => packet.marker);
    assert.ok(markers.length >= MEASURED, `the reader got only ${markers.length} whole units`);
    const latencies = markers.slice(-MEASURED).map((packet, i) => packet.arrivalMs - writtenAt[units.length - MEASURED + i]!);
    // A unit cannot reach the reader before it was written: else the pairing is off.
    assert.ok(Math.min(...latencies) > -2, `units paired wrongly: ${latencies.map((ms) => ms.toFixed(0)).join(' ')}`);
    // A unit leaves at its chunk's end (units one per chunk): held behind the burst, 68-102 ms.
    const limitMs = 20;
    const median = [...latencies].sort((a, b) => a - b)[MEASURED / 2]!;
    assert.ok(median < limitMs, `median push-to-reader time of the last ${MEASURED} units ${median.toFixed(1)} ms (limit ${limitMs.toFixed(0)} ms): ${latencies.map((ms) => ms.toFixed(0)).join(' ')}`);
    push.end();
    assert.equal((await push.response).status, 200);
  });
}
