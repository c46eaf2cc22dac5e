// The HTTP API describes what is live, and nested names such as site1/cam2 work for push, API
// and RTSP alike.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { FfmpegReader, ffmpegPublisher, ffprobe, getStream, getStreams, json, request, type ErrorBody } from './helpers/clients';
import { Gateway, ROOT } from './helpers/gateway';
import { MediaDir } from './helpers/media';
import { sleep, waitFor } from './helpers/processes';
import { RtspClient } from './helpers/rtsp-client';
import { releaseOpened } from './helpers/cleanup';

const SECONDS = 10;

let gateway: Gateway;
let media: MediaDir;
let tsClip: string;
let rawClip: string;
let startedAt: number;

before(async () => {
  media = new MediaDir();
  [tsClip, rawClip] = await Promise.all([
    media.clip({ file: 'av.ts', codec: 'h264', seconds: SECONDS, audio: true, bitrate: '1500k' }),
    media.clip({ file: 'raw.mkv', codec: 'h264', seconds: SECONDS, width: 320, height: 240 }),
  ]);
  gateway = await Gateway.start();
  startedAt = Date.now();
  ffmpegPublisher(tsClip, gateway.pushUrl('site1/cam2'), 'mpegts');
  ffmpegPublisher(rawClip, gateway.pushUrl('plain'), 'h264');
  await waitFor(
    async () => (await getStreams(gateway.http)).filter((s) => s.state === 'live').length === 2,
    10_000,
    'both streams to go live',
  );
});

after(() => releaseOpened({ gateways: [gateway], media }));

void test('GET /healthz says the gateway is up, its GStreamer version and how many streams it has', async () => {
  const result = await request('GET', `${gateway.http}/healthz`);
  assert.equal(result.status, 200);
  const health = json<{ status: string; gstreamer: string; streams: number }>(result);
  assert.equal(health.status, 'ok');
  assert.match(health.gstreamer, /^GStreamer 1\.\d+/);
  assert.equal(health.streams, 2);
});

void test('GET /v1/streams/<name> describes a stream with a nested name: format, codecs, size, rate, bitrate, bytes, readers, publisher, live since', async () => {
  // Let a full bitrate window pass.
  await sleep(2500);
  const info = await getStream(gateway.http, 'site1/cam2');
  assert.ok(info, 'site1/cam2 not found');
  assert.equal(info.name, 'site1/cam2');
  assert.equal(info.state, 'live');
  assert.equal(info.format, 'mpegts');
  assert.deepEqual(
    { codec: info.video?.codec, width: info.video?.width, height: info.video?.height, frameRate: info.video?.frameRate },
    { codec: 'h264', width: 640, height: 360, frameRate: 30 },
  );
  assert.deepEqual(info.audio, { codec: 'aac', sampleRate: 48_000, channels: 2 });
  const fileKbps = (media.size(tsClip) * 8) / SECONDS / 1000;
  assert.ok(info.bitrateKbps > fileKbps * 0.5 && info.bitrateKbps < fileKbps * 2, `bitrate ${info.bitrateKbps} kbps for a ${fileKbps.toFixed(0)} kbps file`);
  assert.ok(info.bytesIn > 0);
  assert.ok(info.framesIn > 30);
  assert.equal(info.readers, 0);
  assert.equal(info.publisher?.remoteAddress, '127.0.0.1');
  const liveSince = Date.parse(info.liveSince ?? '');
  assert.ok(liveSince >= startedAt - 1000 && liveSince <= Date.now(), `liveSince ${info.liveSince}`);

  // bytes in grow while the push goes on, and readers are counted.
  const reader = new FfmpegReader(gateway.rtspUrl('site1/cam2'), 'tcp');
  await reader.waitForFrames(15, 10_000);
  const later = await getStream(gateway.http, 'site1/cam2');
  assert.ok(later && later.bytesIn > info.bytesIn);
  assert.equal(later.readers, 1);
  assert.equal(later.liveSince, info.liveSince);
  await reader.proc.stop();
  await waitFor(async () => (await getStream(gateway.http, 'site1/cam2'))?.readers === 0, 5000, 'the reader count to drop');

  const plain = await getStream(gateway.http, 'plain');
  assert.equal(plain?.format, 'h264');
  assert.deepEqual([plain?.video?.codec, plain?.video?.width, plain?.video?.height], ['h264', 320, 240]);
  assert.equal(plain?.audio, null);
});

void test('GET /v1/streams lists every live stream', async () => {
  const streams = await getStreams(gateway.http);
  assert.deepEqual(streams.map((s) => s.name).sort(), ['plain', 'site1/cam2']);
  assert.ok(streams.every((s) => s.state === 'live' && s.video && s.publisher));
});

void test('an unknown stream is 404 STREAM_NOT_FOUND in the API, nested or not', async () => {
  for (const name of ['nope', 'site1/cam3', 'site1']) {
    const result = await request('GET', `${gateway.http}/v1/streams/${name}`);
    assert.equal(result.status, 404, `${name}: ${result.text}`);
    const body = json<ErrorBody>(result);
    assert.equal(body.error.code, 'STREAM_NOT_FOUND');
    assert.match(body.error.message, new RegExp(name));
  }
});

void test('a nested name plays over RTSP under the same path, and only there', async () => {
  const probe = await ffprobe(gateway.rtspUrl('site1/cam2'));
  assert.equal(probe.code, 0, probe.stderr);
  assert.deepEqual(probe.streams.map((s) => s.codec_name).sort(), ['aac', 'h264']);
  const client = await RtspClient.connect('127.0.0.1', gateway.rtspPort);
  try {
    assert.equal((await client.describe('site1')).status, 404);
    assert.equal((await client.describe('cam2')).status, 404);
    assert.equal((await client.describe('site1/cam2')).status, 200);
  } finally {
    client.close();
  }
});

void test('GET /v1/openapi.json is an OpenAPI 3 document of every route, made from the schemas the routes answer with', async () => {
  const result = await request('GET', `${gateway.http}/v1/openapi.json`);
  assert.equal(result.status, 200);
  const document = json<{
    openapi: string;
    info: { version: string };
    paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; requestBody?: { content: Record<string, unknown> }; responses: Record<string, { content?: Record<string, { schema: { properties?: Record<string, unknown> } }> }> }>>;
  }>(result);
  assert.match(document.openapi, /^3\.0\./);
  assert.equal(document.info.version, (JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8')) as { version: string }).version);
  const operations = Object.entries(document.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`));
  for (const expected of ['POST /push/{name}', 'PUT /push/{name}', 'GET /healthz', 'GET /readyz', 'GET /v1/streams', 'GET /v1/streams/{name}', 'GET /v1/readers', 'DELETE /v1/readers/{id}', 'DELETE /v1/publishers/{name}', 'GET /metrics']) {
    assert.ok(operations.includes(expected), `${expected} is documented (got ${operations.join(', ')})`);
  }
  assert.ok(!operations.some((op) => op.includes('openapi')), 'the document itself is not listed');
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      assert.ok(Object.keys(operation.responses).length > 0, `${method} ${path} documents its answers`);
      if (path.includes('{name}')) assert.ok(operation.parameters?.some((p) => p.in === 'path' && p.name === 'name'), `${method} ${path} names its path parameter`);
    }
  }
  assert.ok(document.paths['/push/{name}']?.post?.requestBody?.content['video/h264'], 'the push body is described');
  // What the schema documents is what the route answers: every field of a real stream.
  const streamSchema = document.paths['/v1/streams/{name}']?.get?.responses['200']?.content?.['application/json']?.schema;
  const stream = json<Record<string, unknown>>(await request('GET', `${gateway.http}/v1/streams/plain`));
  assert.deepEqual(Object.keys(streamSchema?.properties ?? {}).sort(), Object.keys(stream).sort());
});
