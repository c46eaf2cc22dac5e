// An Annex-B access unit has no end marker of its own: pushgate knows a unit is complete when the
// next one begins. A publisher that sends the next unit's access unit delimiter (AUD) right
// after each unit gets every unit to readers without waiting a frame period for the next one.
// Checked in lockstep: after a unit and the AUD, the publisher sends nothing more until a reader
// has the whole unit; without the AUD, the unit stays in pushgate until more bytes come.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CONTENT_TYPES, ManualPush, getStream } from './helpers/clients';
import { Gateway } from './helpers/gateway';
import { MediaDir, accessUnitsOf } from './helpers/media';
import { sleep, waitFor } from './helpers/processes';
import { RtspClient, type Codec } from './helpers/rtsp-client';
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
let media: MediaDir;
const clients: RtspClient[] = [];
const pushes: ManualPush[] = [];

before(async () => {
  media = new MediaDir();
  gateway = await Gateway.start();
});

after(() => releaseOpened({ clients, pushes, gateways: [gateway], media }));

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
