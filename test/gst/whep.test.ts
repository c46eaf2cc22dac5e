// WHEP playback end to end without a browser: the real gateway (CLI), a real publisher, and a
// receive-only webrtcbin in this process as the WHEP client (helpers/whep-client.ts), which
// decodes what it is sent. Also the refusals: unknown stream, bad offers, no credentials.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { hashSha256 } from '../../src/auth/secrets';
import { getStream, gstPublisher, json, request, type ErrorBody } from '../e2e/helpers/clients';
import { releaseOpened } from '../e2e/helpers/cleanup';
import { Gateway } from '../e2e/helpers/gateway';
import { MediaDir } from '../e2e/helpers/media';
import { Proc, sleep, waitFor } from '../e2e/helpers/processes';
import { WhepClient, post, send, until } from './helpers/whep-client';

const GRACE_MS = 4000;
let gateway: Gateway;
let secured: Gateway;
let media: MediaDir;
const clients: WhepClient[] = [];
const publishers: Proc[] = [];

before(async () => {
  media = new MediaDir();
  gateway = await Gateway.start(['--grace-period', String(GRACE_MS), '--log-level', 'debug']);
});

after(async () => {
  // WHEP_DUMP=1: the gateway's WebRTC and GStreamer log lines, for debugging.
  if (process.env.WHEP_DUMP) for (const l of gateway.logs) if (/WebRTC|whep|GStreamer|RTSP reader/i.test(JSON.stringify(l))) console.log(JSON.stringify(l));
  for (const client of clients) client.close();
  for (const p of publishers) await p.stop();
  await releaseOpened({ gateways: [gateway, secured], media });
});

async function live(g: Gateway, name: string, width = 320, height = 240): Promise<Proc> {
  const publisher = gstPublisher(g.pushUrl(name), { width, height });
  publishers.push(publisher);
  await waitFor(async () => (await getStream(g.http, name))?.state === 'live', 10_000, `${name} to go live`);
  return publisher;
}

function client(options: { audio?: boolean } = {}): WhepClient {
  const c = new WhepClient(options);
  clients.push(c);
  return c;
}

void test('a WHEP watcher of a live stream gets 201, an SDP answer with candidates and a Location, and decodes frames of the stream size within 1 s of its POST', async () => {
  await live(gateway, 'cam1', 320, 240);
  const watcher = client();
  const response = await watcher.connect(`${gateway.http}/whep/cam1`);
  assert.equal(response.status, 201, response.text);
  assert.match(String(response.headers['content-type']), /^application\/sdp/);
  assert.match(String(response.headers.location), /^\/whep\/cam1\/[0-9a-f-]{36}$/);
  assert.equal(response.headers['access-control-expose-headers']?.includes('Location'), true);
  assert.match(response.text, /a=candidate:/);
  assert.match(response.text, /a=sendonly/);
  await until(() => watcher.frames >= 10, 5000, '10 decoded frames');
  assert.equal(watcher.width, 320);
  assert.equal(watcher.height, 240);
  const firstFrameMs = watcher.firstFrameMs!;
  console.log(`first decoded frame ${Math.round(firstFrameMs)} ms after the POST`);
  assert.ok(firstFrameMs < 1000, `first frame after ${Math.round(firstFrameMs)} ms`);

  // Past the primed burst (up to one GOP, 1 s here), frames come one by one; after DELETE, none.
  await until(() => watcher.frames >= 60, 5000, '60 decoded frames');
  const ended = await send('DELETE', `${gateway.http}${response.headers.location}`, undefined);
  assert.equal(ended.status, 200, ended.text);
  await sleep(500);
  const framesAfterDelete = watcher.frames;
  await sleep(700);
  assert.equal(watcher.frames, framesAfterDelete, 'no frame 0.5 s after DELETE');
  assert.equal((await send('DELETE', `${gateway.http}${response.headers.location}`, undefined)).status, 404);
  await gateway.waitForLog((l) => l.msg === 'WebRTC watcher left' && l.reason === 'DELETE', 2000, 'the leave log');
  watcher.close();
});

void test('two watchers of one stream share one relay: the stream has one RTSP reader, from loopback; both decode', async () => {
  await live(gateway, 'cam2');
  const [a, b] = [client(), client()];
  assert.equal((await a.connect(`${gateway.http}/whep/cam2`)).status, 201);
  assert.equal((await b.connect(`${gateway.http}/whep/cam2`)).status, 201);
  await until(() => a.frames >= 5 && b.frames >= 5, 5000, 'frames at both watchers');
  const readers = json<{ readers: { remoteAddress: string }[] }>(await request('GET', `${gateway.http}/v1/readers?stream=cam2`)).readers;
  assert.equal(readers.length, 1, JSON.stringify(readers));
  assert.match(readers[0]!.remoteAddress, /^(127\.|::1|::ffff:127\.)/);
  const described = (await getStream(gateway.http, 'cam2')) as unknown as { readers: number; webrtcWatchers: number };
  assert.deepEqual({ readers: described.readers, webrtcWatchers: described.webrtcWatchers }, { readers: 1, webrtcWatchers: 2 });
  console.log(`second watcher: first frame ${Math.round(b.firstFrameMs!)} ms after its POST`);
  a.close();
  b.close();
  for (const c of [a, b]) await send('DELETE', `${gateway.http}${c.response!.headers.location}`, undefined);
  // The relay goes with its last watcher, and so does its RTSP reader.
  await waitFor(async () => json<{ readers: unknown[] }>(await request('GET', `${gateway.http}/v1/readers?stream=cam2`)).readers.length === 0, 5000, 'the relay to leave');
});

void test('a publisher that reconnects within the grace period: the watcher\'s frames keep coming, on the same session', async () => {
  const first = await live(gateway, 'cam3');
  const watcher = client();
  assert.equal((await watcher.connect(`${gateway.http}/whep/cam3`)).status, 201);
  await until(() => watcher.frames >= 10, 5000, 'frames before the reconnect');
  await first.stop();
  await sleep(1000);
  const before = watcher.frames;
  await live(gateway, 'cam3');
  await until(() => watcher.frames >= before + 30, 8000, 'frames after the reconnect');
  assert.equal(watcher.width, 320);
  await send('DELETE', `${gateway.http}${watcher.response!.headers.location}`, undefined);
  watcher.close();
});

void test('an offer with audio for a stream without audio: answered, video plays; a stream with AAC audio: Opus arrives and decodes', async () => {
  await live(gateway, 'cam5');
  const videoOnly = client({ audio: true });
  const response = await videoOnly.connect(`${gateway.http}/whep/cam5`);
  assert.equal(response.status, 201, response.text);
  if (process.env.WHEP_DUMP) console.log(response.text);
  await until(() => videoOnly.frames >= 5, 5000, 'video of a stream without audio');
  await send('DELETE', `${gateway.http}${response.headers.location}`, undefined);
  videoOnly.close();

  const withAudio = new Proc('gst-launch publisher with AAC', 'gst-launch-1.0', [
    '-q', 'videotestsrc', 'is-live=true', '!', 'video/x-raw,width=320,height=240,framerate=30/1', '!',
    'x264enc', 'tune=zerolatency', 'speed-preset=ultrafast', 'key-int-max=30', '!', 'h264parse', '!', 'mpegtsmux', 'name=mux', '!',
    'curlhttpsink', `location=${gateway.pushUrl('cam6')}`, 'content-type=video/mp2t',
    'audiotestsrc', 'is-live=true', '!', 'audioconvert', '!', 'avenc_aac', '!', 'aacparse', '!', 'mux.',
  ]);
  publishers.push(withAudio);
  await waitFor(async () => (await getStream(gateway.http, 'cam6'))?.audio !== null && (await getStream(gateway.http, 'cam6'))?.state === 'live', 10_000, 'cam6 with audio to go live');
  const watcher = client({ audio: true });
  const answered = await watcher.connect(`${gateway.http}/whep/cam6`);
  assert.equal(answered.status, 201, answered.text);
  assert.match(answered.text, /a=rtpmap:111 OPUS\/48000\/2/i);
  await until(() => watcher.frames >= 5 && watcher.audioBuffers >= 10, 8000, 'video and Opus audio');
  await send('DELETE', `${gateway.http}${answered.headers.location}`, undefined);
  watcher.close();
});

void test('refusals in the JSON error shape: unknown stream 404, not SDP 415, bad SDP 400, no H.264 422, PATCH 405, unknown session 404; preflight answered openly', async () => {
  await live(gateway, 'cam4');
  const offer = await client().offer();
  const code = (text: string): string => (JSON.parse(text) as ErrorBody).error.code;

  const unknown = await post(`${gateway.http}/whep/nobody`, offer);
  assert.equal(unknown.status, 404);
  assert.equal(code(unknown.text), 'STREAM_NOT_FOUND');

  const wrongType = await send('POST', `${gateway.http}/whep/cam4`, offer, { 'content-type': 'text/plain' });
  assert.equal(wrongType.status, 415);
  assert.equal(code(wrongType.text), 'UNSUPPORTED_MEDIA_TYPE');

  const bad = await post(`${gateway.http}/whep/cam4`, 'hello');
  assert.equal(bad.status, 400);
  assert.equal(code(bad.text), 'WHEP_OFFER_INVALID');

  const vp8 = offer.replace(/H264\/90000/g, 'VP8/90000');
  const noH264 = await post(`${gateway.http}/whep/cam4`, vp8);
  assert.equal(noH264.status, 422);
  assert.equal(code(noH264.text), 'WHEP_CODEC_UNSUPPORTED');

  const patch = await send('PATCH', `${gateway.http}/whep/cam4/00000000-0000-0000-0000-000000000000`, 'a=candidate:1', { 'content-type': 'application/trickle-ice-sdpfrag' });
  assert.equal(patch.status, 405);

  const gone = await send('DELETE', `${gateway.http}/whep/cam4/00000000-0000-0000-0000-000000000000`, undefined);
  assert.equal(gone.status, 404);
  assert.equal(code(gone.text), 'WHEP_SESSION_NOT_FOUND');

  const preflight = await send('OPTIONS', `${gateway.http}/whep/cam4`, undefined, { origin: 'https://player.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers['access-control-allow-origin'], '*');
  assert.match(String(preflight.headers['access-control-allow-headers']), /Authorization/);
});

void test('with users configured: no credentials 401 (with CORS headers), a reader of the stream gets its answer and frames through the internal relay credential', async () => {
  const configFile = media.file('whep.yaml');
  writeFileSync(
    configFile,
    `users:
  - name: pub
    password: "${hashSha256('pub-pw')}"
    permissions:
      - {action: publish, streams: ["*"]}
  - name: viewer
    password: "${hashSha256('viewer-pw')}"
    permissions:
      - {action: read, streams: ["*"]}
      - {action: api, streams: ["*"]}
`,
  );
  secured = await Gateway.start(['--config', configFile]);
  const publisher = new Proc('gst-launch publisher', 'gst-launch-1.0', [
    '-q', 'videotestsrc', 'is-live=true', '!', 'video/x-raw,width=320,height=240,framerate=30/1', '!',
    'x264enc', 'tune=zerolatency', 'speed-preset=ultrafast', 'key-int-max=30', '!', 'h264parse', '!',
    'video/x-h264,stream-format=byte-stream,alignment=au', '!',
    'curlhttpsink', `location=${secured.pushUrl('sec')}`, 'content-type=video/h264', 'user=pub', 'passwd=pub-pw',
  ]);
  publishers.push(publisher);
  const viewer = { authorization: `Basic ${Buffer.from('viewer:viewer-pw').toString('base64')}` };
  await waitFor(async () => (await request('GET', `${secured.http}/v1/streams/sec`, { headers: viewer })).status === 200, 10_000, 'sec to go live');

  const anonymous = client();
  const refused = await anonymous.connect(`${secured.http}/whep/sec`);
  assert.equal(refused.status, 401);
  assert.equal((JSON.parse(refused.text) as ErrorBody).error.code, 'UNAUTHORIZED');
  assert.equal(refused.headers['access-control-allow-origin'], '*');

  const watcher = client();
  const response = await watcher.connect(`${secured.http}/whep/sec`, viewer);
  assert.equal(response.status, 201, response.text);
  await until(() => watcher.frames >= 5, 5000, 'frames through the authenticated relay');
  await send('DELETE', `${secured.http}${response.headers.location}`, undefined, viewer);
});

void test('with a STUN server that does not answer, the answer still comes by the gather timeout, and plays', async () => {
  const stun = await Gateway.start(['--webrtc-stun-server', 'stun://127.0.0.1:9', '--webrtc-ice-gather-timeout', '1000']);
  try {
    await live(stun, 'stun1');
    const watcher = client();
    const startedAt = performance.now();
    const response = await watcher.connect(`${stun.http}/whep/stun1`);
    const answeredMs = performance.now() - startedAt;
    assert.equal(response.status, 201, response.text);
    assert.ok(answeredMs < 2500, `answered after ${Math.round(answeredMs)} ms`);
    // The STUN server was asked (the option reached webrtcbin): gathering waited for it until the timeout.
    await stun.waitForLog((l) => String(l.msg).startsWith('ICE gathering not complete'), 1000, 'the gathering timeout warning');
    await until(() => watcher.frames >= 5, 5000, 'frames with host candidates');
    await send('DELETE', `${stun.http}${response.headers.location}`, undefined);
    watcher.close();
  } finally {
    await stun.stop();
  }
});

void test('a watcher whose player vanishes without DELETE is ended once its RTCP stops (about 30 s)', { timeout: 90_000 }, async () => {
  await live(gateway, 'cam7');
  const watcher = client();
  assert.equal((await watcher.connect(`${gateway.http}/whep/cam7`)).status, 201);
  await until(() => watcher.frames >= 5, 5000, 'frames');
  // Long enough for its receiver reports to have been heard.
  await sleep(6000);
  const closedAt = performance.now();
  watcher.close();
  const left = await gateway.waitForLog((l) => l.msg === 'WebRTC watcher left' && l.stream === 'cam7', 60_000, 'the vanished watcher to be ended');
  const afterMs = performance.now() - closedAt;
  console.log(`vanished player ended after ${Math.round(afterMs)} ms (${String(left.reason)})`);
  assert.match(String(left.reason), /silent/);
});

void test('over --max-webrtc-watchers-per-stream a POST gets 503 WEBRTC_WATCHER_LIMIT; the watcher already there plays on', async () => {
  const limited = await Gateway.start(['--max-webrtc-watchers-per-stream', '1']);
  try {
    await live(limited, 'lim');
    const first = client();
    assert.equal((await first.connect(`${limited.http}/whep/lim`)).status, 201);
    const second = client();
    const refused = await second.connect(`${limited.http}/whep/lim`);
    assert.equal(refused.status, 503);
    assert.equal((JSON.parse(refused.text) as ErrorBody).error.code, 'WEBRTC_WATCHER_LIMIT');
    const before = first.frames;
    await until(() => first.frames >= before + 15, 5000, 'frames at the first watcher');
    first.close();
    second.close();
  } finally {
    await limited.stop();
  }
});
