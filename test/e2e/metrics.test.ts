// GET /metrics with the real server and real clients, read with a Prometheus text-format parser:
// the numbers must match what the test did (streams pushed, readers, a bad push, refused
// requests over HTTP and RTSP, RTSP answers, fast-start primes), and only the api permission
// may read them.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { hashSha256 } from '../../src/auth/secrets';
import { basic, FfmpegReader, ffmpegPublisher, json, request, type ErrorBody, type StreamInfo } from './helpers/clients';
import { releaseOpened } from './helpers/cleanup';
import { Gateway } from './helpers/gateway';
import { MediaDir } from './helpers/media';
import { sleep, waitFor } from './helpers/processes';
import { RtspClient } from './helpers/rtsp-client';
import { Scrape } from '../unit/helpers/prometheus';

const ADMIN = { authorization: basic('admin', 'admin-pw') };
const READERS = 3;

// Anyone may publish, and read open/*; only admin reads closed/* and the API (so /metrics).
const CONFIG = `
users:
  - name: admin
    password: "${hashSha256('admin-pw')}"
    permissions:
      - {action: api, streams: ["*"]}
      - {action: read, streams: ["*"]}
  - name: anonymous
    permissions:
      - {action: publish, streams: ["*"]}
      - {action: read, streams: ["open/*"]}
`;

let gateway: Gateway;
let media: MediaDir;
const clients: RtspClient[] = [];

async function scrape(): Promise<Scrape> {
  const result = await request('GET', `${gateway.http}/metrics`, { headers: ADMIN });
  assert.equal(result.status, 200, result.text);
  return new Scrape(result.text);
}

async function streams(): Promise<StreamInfo[]> {
  return json<{ streams: StreamInfo[] }>(await request('GET', `${gateway.http}/v1/streams`, { headers: ADMIN })).streams;
}

before(async () => {
  media = new MediaDir();
  const clip = await media.clip({ file: 'clip.mkv', codec: 'h264', seconds: 4, width: 320, height: 240 });
  const configFile = media.file('pushgate.yaml');
  writeFileSync(configFile, CONFIG);
  gateway = await Gateway.start(['--config', configFile]);
  ffmpegPublisher(clip, gateway.pushUrl('open/a'), 'h264');
  ffmpegPublisher(clip, gateway.pushUrl('closed/b'), 'h264');
  await waitFor(async () => (await streams()).filter((s) => s.state === 'live').length === 2, 15_000, 'both publishers to go live');
});

after(() => releaseOpened({ clients, gateways: [gateway], media }));

void test('/metrics needs the api permission: 401 without credentials, 200 with them; /healthz stays open', async () => {
  const none = await request('GET', `${gateway.http}/metrics`);
  assert.equal(none.status, 401);
  assert.equal(json<ErrorBody>(none).error.code, 'UNAUTHORIZED');
  const ok = await request('GET', `${gateway.http}/metrics`, { headers: ADMIN });
  assert.equal(ok.status, 200);
  assert.match(String(ok.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  assert.equal((await request('GET', `${gateway.http}/healthz`)).status, 200);
});

void test('two streams pushed: 2 live, 2 publishers, and bytes and frames in that grow and match /v1/streams', async () => {
  const first = await scrape();
  assert.equal(first.value('pushgate_streams', { state: 'live' }), 2);
  assert.equal(first.value('pushgate_streams', { state: 'grace' }), 0);
  assert.equal(first.value('pushgate_publishers'), 2);
  const api = await streams();
  for (const name of ['open/a', 'closed/b']) {
    const bytes = first.value('pushgate_stream_received_bytes_total', { stream: name });
    const apiBytes = api.find((s) => s.name === name)?.bytesIn ?? 0;
    assert.ok(bytes > 0, `${name} has bytes in`);
    // Read a moment apart: within a second of a ~100 kbit/s push.
    assert.ok(Math.abs(apiBytes - bytes) < 64 * 1024, `${name}: /metrics ${bytes}, /v1/streams ${apiBytes}`);
    assert.ok(first.value('pushgate_stream_received_frames_total', { stream: name }) > 0);
  }
  await sleep(1500);
  const second = await scrape();
  for (const name of ['open/a', 'closed/b']) {
    assert.ok(
      second.value('pushgate_stream_received_bytes_total', { stream: name }) > first.value('pushgate_stream_received_bytes_total', { stream: name }),
      `${name}: bytes in grow`,
    );
    assert.ok(second.value('pushgate_stream_received_frames_total', { stream: name }) > first.value('pushgate_stream_received_frames_total', { stream: name }));
  }
});

void test('TCP readers are counted per stream, and each is primed by fast start', async () => {
  const before = await scrape();
  const readers = Array.from({ length: READERS }, () => new FfmpegReader(gateway.rtspUrl('open/a'), 'tcp'));
  await Promise.all(readers.map((r) => r.waitForFrames(10, 15_000)));
  const after = await waitForScrape((s) => s.value('pushgate_readers', { stream: 'open/a' }) === READERS, 'the readers to be counted');
  const samples = after.samples('pushgate_readers', { stream: 'open/a' });
  // From the engine's reader list (tcp, rtsp) when it has one, else the stream's count.
  for (const { labels } of samples) assert.ok(labels['transport'] === 'tcp' || labels['transport'] === 'unknown', JSON.stringify(labels));
  assert.equal(after.value('pushgate_readers', { stream: 'closed/b' }), 0);
  const primed = after.value('pushgate_fast_start_joins_total', { join: 'primed' }) - before.value('pushgate_fast_start_joins_total', { join: 'primed' });
  assert.ok(primed >= READERS, `${primed} primed joins for ${READERS} readers`);
  const times = after.histogram('pushgate_fast_start_prime_duration_seconds');
  const timesBefore = before.histogram('pushgate_fast_start_prime_duration_seconds');
  assert.ok(times && timesBefore, 'the prime-time histogram is exposed');
  assert.ok(times.count - timesBefore.count >= READERS, `${times.count - timesBefore.count} prime times for ${READERS} readers`);
  assert.equal(times.buckets.get('+Inf'), times.count);
  assert.ok(times.sum > timesBefore.sum);
  if (samples.some((s) => s.labels['transport'] === 'tcp')) {
    assert.ok(after.value('pushgate_stream_sent_bytes_total', { stream: 'open/a' }) > 0, 'bytes out from the reader list');
  }
  for (const reader of readers) reader.proc.kill();
  await waitForScrape((s) => s.value('pushgate_readers', { stream: 'open/a' }) === 0, 'the readers to be gone');
});

void test('a bad push counts one more push ended with its error code', async () => {
  const before = await scrape();
  const garbage = Buffer.alloc(64 * 1024, 0x5a);
  const result = await request('POST', gateway.pushUrl('open/bad'), { headers: { 'content-type': 'video/h264' }, body: garbage });
  assert.ok(result.status >= 400 && result.status < 500, `status ${result.status}`);
  const code = json<ErrorBody>(result).error.code;
  const after = await waitForScrape(
    (s) => s.value('pushgate_pushes_ended_total', { code }) === before.value('pushgate_pushes_ended_total', { code }) + 1,
    `pushes ended with ${code} to grow by one`,
  );
  assert.equal(after.value('pushgate_pushes_ended_total', { code: 'none' }), before.value('pushgate_pushes_ended_total', { code: 'none' }));
});

void test('wrong credentials count one refusal over HTTP, and one over RTSP, as 401s of DESCRIBE', async () => {
  const before = await scrape();
  const http = await request('GET', `${gateway.http}/v1/streams`, { headers: { authorization: basic('admin', 'wrong') } });
  assert.equal(http.status, 401);
  const client = await RtspClient.connect('127.0.0.1', gateway.rtspPort);
  clients.push(client);
  const rtsp = await client.request('DESCRIBE', client.url('closed/b'), { Accept: 'application/sdp', Authorization: basic('admin', 'wrong') });
  assert.equal(rtsp.status, 401);
  client.close();
  const after = await scrape();
  const delta = (name: string, labels: Record<string, string>): number => after.value(name, labels) - before.value(name, labels);
  assert.equal(delta('pushgate_auth_refusals_total', { protocol: 'http', action: 'api', result: 'unauthorized' }), 1);
  assert.equal(delta('pushgate_auth_refusals_total', { protocol: 'rtsp', action: 'read', result: 'unauthorized' }), 1);
  assert.equal(delta('pushgate_rtsp_responses_total', { status: '401' }), 1);
  assert.ok(delta('pushgate_rtsp_requests_total', { method: 'DESCRIBE' }) >= 1);
  // The access check's answer, sent from Node's thread, is counted under its request's method.
  assert.equal(delta('pushgate_rtsp_requests_total', { method: 'other' }), 0);
});

void test('RTSP answers: 200s grow with a reader\'s DESCRIBE, SETUP and PLAY, and an unknown stream adds one 404', async () => {
  const before = await scrape();
  const client = await RtspClient.connect('127.0.0.1', gateway.rtspPort);
  clients.push(client);
  const { play } = await client.playAll('open/a');
  assert.equal(play.status, 200);
  const missing = await client.describe('open/nothing');
  assert.equal(missing.status, 404);
  await client.teardown('open/a');
  client.close();
  const after = await scrape();
  const delta = (name: string, labels: Record<string, string>): number => after.value(name, labels) - before.value(name, labels);
  assert.ok(delta('pushgate_rtsp_responses_total', { status: '200' }) >= 4, 'DESCRIBE, SETUP, PLAY and TEARDOWN answered 200');
  assert.equal(delta('pushgate_rtsp_responses_total', { status: '404' }), 1);
  for (const method of ['SETUP', 'PLAY', 'TEARDOWN']) assert.ok(delta('pushgate_rtsp_requests_total', { method }) >= 1, method);
  assert.ok(delta('pushgate_rtsp_requests_total', { method: 'DESCRIBE' }) >= 2);
});

void test('the process metrics are there: memory, CPU, event-loop lag, GC', async () => {
  const s = await scrape();
  for (const name of ['process_resident_memory_bytes', 'process_cpu_seconds_total', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_gc_duration_seconds']) {
    assert.ok(s.has(name), name);
  }
  assert.ok(s.value('process_resident_memory_bytes') > 10 * 1024 * 1024);
});

async function waitForScrape(condition: (s: Scrape) => boolean, what: string, timeoutMs = 10_000): Promise<Scrape> {
  let last: Scrape | undefined;
  await waitFor(async () => condition((last = await scrape())), timeoutMs, what, 200);
  return last!;
}
