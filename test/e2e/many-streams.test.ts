// Many streams at once: 16 publishers going live together, each with a reader, on one gateway.
// (node-gtk's wrapper objects once crashed V8 here when a class field was defined on the 16th
// media factory: the whole process died with SIGTRAP.)
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ffmpegPublisher, getStream, request, json } from './helpers/clients';
import { Gateway } from './helpers/gateway';
import { MediaDir } from './helpers/media';
import { waitFor } from './helpers/processes';
import { RtspClient } from './helpers/rtsp-client';
import { releaseOpened } from './helpers/cleanup';

const STREAMS = 16;

let gateway: Gateway;
let media: MediaDir;
const clients: RtspClient[] = [];

before(async () => {
  media = new MediaDir();
  const clip = await media.clip({ file: 'small.mkv', codec: 'h264', seconds: 10, width: 320, height: 240 });
  gateway = await Gateway.start();
  for (let i = 0; i < STREAMS; i++) ffmpegPublisher(clip, gateway.pushUrl(`site/cam${i}`), 'h264');
});

after(() => releaseOpened({ clients, gateways: [gateway], media }));

void test(`${STREAMS} publishers going live at once each get their own stream, and a reader of each receives it`, async () => {
  await waitFor(
    async () => {
      const { streams } = json<{ streams: { name: string; state: string }[] }>(await request('GET', `${gateway.http}/v1/streams`));
      return streams.filter((s) => s.state === 'live').length === STREAMS;
    },
    20_000,
    `${STREAMS} streams to be live`,
  );
  await Promise.all(
    Array.from({ length: STREAMS }, async (_, i) => {
      const client = await RtspClient.connect('127.0.0.1', gateway.rtspPort);
      clients.push(client);
      await client.playAll(`site/cam${i}`);
      await client.waitForPackets((packets) => packets.length >= 50, 10_000, `packets of site/cam${i}`);
    }),
  );
  assert.ok(gateway.proc.running, `the gateway died: ${JSON.stringify(gateway.proc.exit)}`);
  for (let i = 0; i < STREAMS; i++) assert.equal((await getStream(gateway.http, `site/cam${i}`))?.readers, 1, `site/cam${i}`);
});
