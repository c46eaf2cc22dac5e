// Connection floods up to the configured limits and beyond: over a limit the client gets a clear
// status and reason, under it everything still works, and a reader that was already watching
// loses nothing.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { ManualPush, ffmpegPublisher, getStream, json, request, type ErrorBody } from './helpers/clients';
import { Gateway } from './helpers/gateway';
import { MediaDir } from './helpers/media';
import { stopAll, waitFor } from './helpers/processes';
import { RtspClient, controlUrl, parseSdp } from './helpers/rtsp-client';
import { Witness } from './helpers/witness';

const MAX_STREAMS = 3;
const MAX_PUBLISHERS_PER_ADDRESS = 3;
const MAX_READERS_PER_STREAM = 3;
const MAX_READERS = 5;

let gateway: Gateway;
let media: MediaDir;
let clip: string;
let witness: Witness;
const clients: RtspClient[] = [];
const pushes: ManualPush[] = [];

before(async () => {
  media = new MediaDir();
  clip = await media.clip({ file: 'cam.mkv', codec: 'h264', seconds: 30, width: 320, height: 240 });
  gateway = await Gateway.start([
    '--max-streams', String(MAX_STREAMS),
    '--max-publishers-per-address', String(MAX_PUBLISHERS_PER_ADDRESS),
    '--max-readers-per-stream', String(MAX_READERS_PER_STREAM),
    '--max-readers', String(MAX_READERS),
    '--max-header-size', '4096',
  ]);
  witness = await Witness.ofNewStream(gateway, clip, 'main');
});

after(async () => {
  witness?.close();
  for (const client of clients) client.close();
  for (const push of pushes) push.destroy();
  if (gateway) await gateway.stop();
  await stopAll();
  media?.remove();
});

function errorOf(result: { text: string }): ErrorBody['error'] {
  return json<ErrorBody>({ status: 0, headers: {}, text: result.text, elapsedMs: 0 }).error;
}

/** A reader that SETUPs the first track of `name`; resolves to the SETUP status. */
async function setupReader(name: string): Promise<number> {
  const client = await RtspClient.connect('127.0.0.1', gateway.rtspPort);
  clients.push(client);
  const describe = await client.describe(name);
  assert.equal(describe.status, 200);
  const base = describe.headers['content-base'] ?? client.url(name);
  const setup = await client.setupTcp(controlUrl(base, parseSdp(describe.body)[0]!.control), 0);
  if (setup.status === 200) assert.equal((await client.play(name)).status, 200);
  return setup.status;
}

void test('pushes beyond the per-address limit get 429 PUBLISHER_LIMIT; the ones within it run', async () => {
  // "main" is one push from 127.0.0.1: two more fit.
  const held = [new ManualPush(gateway.pushUrl('held1'), 'video/h264'), new ManualPush(gateway.pushUrl('held2'), 'video/h264')];
  pushes.push(...held);
  await waitFor(async () => (await getStream(gateway.http, 'held2')) !== undefined, 5000, 'the held pushes to be counted');
  for (let i = 0; i < 5; i++) {
    const refused = await request('POST', gateway.pushUrl(`over${i}`), { headers: { 'content-type': 'video/h264' }, body: Buffer.alloc(100) });
    assert.equal(refused.status, 429, refused.text);
    assert.equal(errorOf(refused).code, 'PUBLISHER_LIMIT');
    assert.match(errorOf(refused).message, /--max-publishers-per-address 3/);
  }
  // Ending one frees its slot at once.
  held[0]!.destroy();
  await waitFor(async () => (await getStream(gateway.http, 'held1')) === undefined, 5000, 'held1 to end');
  const again = new ManualPush(gateway.pushUrl('held3'), 'video/h264');
  pushes.push(again);
  await waitFor(async () => (await getStream(gateway.http, 'held3')) !== undefined, 5000, 'a push in the freed slot to start');
  again.destroy();
  held[1]!.destroy();
  await waitFor(async () => (await getStream(gateway.http, 'held2')) === undefined && (await getStream(gateway.http, 'held3')) === undefined, 5000, 'the held pushes to end');
  await witness.assertIntact(gateway, 'the publisher flood');
});

void test('a new stream beyond --max-streams gets 503 STREAM_LIMIT; the streams within it keep going', async () => {
  const extra = [new ManualPush(gateway.pushUrl('s1'), 'video/h264'), new ManualPush(gateway.pushUrl('s2'), 'video/h264')];
  pushes.push(...extra);
  await waitFor(async () => (await getStream(gateway.http, 's2')) !== undefined, 5000, 'three streams');
  // 127.0.0.1 is at its push limit too (and that is checked first): push from another loopback address.
  const fromElsewhere = await fetchFrom('127.0.0.2', gateway.httpPort, '/push/s3');
  assert.equal(fromElsewhere.status, 503, fromElsewhere.text);
  assert.equal(errorOf(fromElsewhere).code, 'STREAM_LIMIT');
  assert.match(errorOf(fromElsewhere).message, /--max-streams 3/);
  for (const push of extra) push.destroy();
  await waitFor(async () => (await getStream(gateway.http, 's1')) === undefined && (await getStream(gateway.http, 's2')) === undefined, 5000, 'the extra streams to end');
  await witness.assertIntact(gateway, 'the stream flood');
});

void test('readers beyond the per-stream and total limits get 453 at SETUP; the others keep playing', async () => {
  // The witness is reader 1 of "main".
  assert.equal(await setupReader('main'), 200);
  assert.equal(await setupReader('main'), 200);
  for (let i = 0; i < 3; i++) assert.equal(await setupReader('main'), 453, 'a 4th reader of one stream');
  // A second stream takes the total to its limit of 5, then the 6th reader is refused.
  ffmpegPublisher(clip, gateway.pushUrl('other'), 'h264');
  await waitFor(async () => (await getStream(gateway.http, 'other'))?.state === 'live', 10_000, 'other to go live');
  assert.equal(await setupReader('other'), 200);
  assert.equal(await setupReader('other'), 200);
  assert.equal(await setupReader('other'), 453, 'a 6th reader in total');
  await waitFor(() => gateway.logs.some((l) => l.msg?.includes('reader limit reached')), 3000, 'the refusals to be logged');
  // A reader that leaves frees its place.
  clients.at(-2)!.close();
  await waitFor(async () => (await setupReader('other')) === 200, 5000, 'a reader to fit in the freed place');
  await witness.assertIntact(gateway, 'the reader flood');
});

void test('a request head larger than --max-header-size gets 431 with the JSON error body', async () => {
  const result = await request('GET', `${gateway.http}/healthz`, { headers: { 'x-filler': 'a'.repeat(8000) } });
  assert.equal(result.status, 431);
  assert.equal(errorOf(result).code, 'HEADERS_TOO_LARGE');
  await witness.assertIntact(gateway, 'an oversized head');
});

/** A POST from a given local address (loopback aliases count as other publishers). */
function fetchFrom(localAddress: string, port: number, path: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', localAddress, headers: { 'content-type': 'video/h264' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(Buffer.alloc(100));
  });
}
