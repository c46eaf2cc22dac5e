// The control API against real clients: readers over TCP (ffmpeg) and UDP (ffmpeg, gst-launch)
// are listed with their stream, address, transport and bytes sent; kicking one ends its
// process while the others play on; kicking a publisher ends its push with PUBLISHER_KICKED
// and its stream for the readers at once; who may do what is checked like the rest of /v1.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { hashSha256 } from '../../src/auth/secrets';
import { basic, CONTENT_TYPES, FfmpegReader, GstReader, curlPushProc, curlResult, ffmpegPublisher, json, request, type HttpResult, type Reader, type StreamInfo } from './helpers/clients';
import { Gateway, type LogLine } from './helpers/gateway';
import { MediaDir } from './helpers/media';
import { sleep, stopAll, waitFor, type Proc } from './helpers/processes';

interface ReaderJson {
  id: string;
  stream: string;
  remoteAddress: string;
  transport: string;
  tls: boolean;
  since: string;
  bytesSent: number;
}

const CONFIG = `
logLevel: debug
users:
  - name: admin
    password: "${hashSha256('admin-pw')}"
    permissions:
      - {action: api, streams: ["*"]}
  - name: site1op          # the API of site1/* only
    password: "${hashSha256('site1-pw')}"
    permissions:
      - {action: api, streams: ["site1/*"]}
  - name: anonymous        # anyone pushes and reads, nobody anonymous uses the API
    permissions:
      - {action: publish, streams: ["*"]}
      - {action: read, streams: ["*"]}
`;

const ADMIN = { authorization: basic('admin', 'admin-pw') };
const SITE1 = { authorization: basic('site1op', 'site1-pw') };

let gateway: Gateway;
let media: MediaDir;
let clip: string;
let site1Publisher: Proc;
let site2Publisher: Proc;
const readers: Record<'tcp' | 'udp' | 'gstUdp' | 'site2', Reader> = {} as never;

async function api(method: string, path: string, headers: Record<string, string> = ADMIN): Promise<HttpResult> {
  return request(method, `${gateway.http}${path}`, { headers });
}

async function listReaders(query = ''): Promise<ReaderJson[]> {
  const result = await api('GET', `/v1/readers${query}`);
  assert.equal(result.status, 200, result.text);
  return json<{ readers: ReaderJson[] }>(result).readers;
}

async function streamInfo(name: string): Promise<StreamInfo | undefined> {
  const result = await api('GET', `/v1/streams/${name}`);
  return result.status === 200 ? json<StreamInfo>(result) : undefined;
}

async function waitLive(name: string): Promise<void> {
  await waitFor(async () => (await streamInfo(name))?.state === 'live', 15_000, `${name} to go live`);
}

function readerLogs(id: string, msg: string): LogLine[] {
  return gateway.logs.filter((l) => l.reader === id && l.msg === msg);
}

before(async () => {
  media = new MediaDir();
  // 1 Mbit/s, so bytes sent can be checked against bitrate x time.
  clip = await media.clip({ file: 'cam.mkv', codec: 'h264', seconds: 20, width: 320, height: 240, bitrate: '1M' });
  const configFile = media.file('pushgate.yaml');
  writeFileSync(configFile, CONFIG);
  gateway = await Gateway.start(['--config', configFile]);
  site1Publisher = ffmpegPublisher(clip, gateway.pushUrl('site1/cam'), 'h264');
  site2Publisher = ffmpegPublisher(clip, gateway.pushUrl('site2/cam'), 'h264');
  await Promise.all([waitLive('site1/cam'), waitLive('site2/cam')]);
  readers.tcp = new FfmpegReader(gateway.rtspUrl('site1/cam'), 'tcp');
  readers.udp = new FfmpegReader(gateway.rtspUrl('site1/cam'), 'udp');
  readers.gstUdp = new GstReader(gateway.rtspUrl('site1/cam'), 'udp');
  readers.site2 = new FfmpegReader(gateway.rtspUrl('site2/cam'), 'tcp');
  await Promise.all(Object.values(readers).map((r) => r.waitForFrames(30, 15_000)));
});

after(async () => {
  if (gateway) await gateway.stop();
  await stopAll();
  media?.remove();
});

function byTransport(list: ReaderJson[], stream: string): Record<string, ReaderJson[]> {
  const out: Record<string, ReaderJson[]> = {};
  for (const r of list.filter((r) => r.stream === stream)) (out[r.transport] ??= []).push(r);
  return out;
}

void test('the list has every reader with its stream, address, transport and a byte count that grows at about the stream bitrate', async () => {
  const all = await listReaders();
  assert.equal(all.length, 4, JSON.stringify(all));
  const site1 = byTransport(all, 'site1/cam');
  assert.equal(site1.tcp?.length, 1, 'one TCP reader of site1/cam');
  assert.equal(site1.udp?.length, 2, 'two UDP readers of site1/cam');
  assert.equal(byTransport(all, 'site2/cam').tcp?.length, 1);
  for (const r of all) {
    assert.match(r.id, /^r\d+$/);
    assert.equal(r.remoteAddress, '127.0.0.1');
    assert.equal(r.tls, false);
    const ageMs = Date.now() - Date.parse(r.since);
    assert.ok(ageMs >= 0 && ageMs < 60_000, `since ${r.since}`);
  }
  assert.equal(new Set(all.map((r) => r.id)).size, 4, 'ids are unique');
  assert.deepEqual((await listReaders('?stream=site2/cam')).map((r) => r.id), byTransport(all, 'site2/cam').tcp?.map((r) => r.id));
  assert.deepEqual(await listReaders('?stream=nobody'), []);
  assert.equal((await api('GET', '/v1/readers?stream=bad//name')).status, 400);

  // Compared with what the publisher sent in the same seconds (bytesIn of the stream).
  const bytesIn0 = (await streamInfo('site1/cam'))?.bytesIn ?? 0;
  const first = await listReaders('?stream=site1/cam');
  const t0 = performance.now();
  await sleep(4000);
  const second = await listReaders('?stream=site1/cam');
  const bytesIn1 = (await streamInfo('site1/cam'))?.bytesIn ?? 0;
  const seconds = (performance.now() - t0) / 1000;
  const bitrateKbps = ((bytesIn1 - bytesIn0) * 8) / 1000 / seconds;
  assert.ok(bitrateKbps > 500 && bitrateKbps < 2000, `the publisher sent ${bitrateKbps.toFixed(0)} kbit/s`);
  for (const before of first) {
    const later = second.find((r) => r.id === before.id);
    assert.ok(later, `${before.id} is still listed`);
    // RTP adds about 2 % to the video; TCP adds interleaving, RTCP and the RTSP replies.
    const ratio = ((later.bytesSent - before.bytesSent) * 8) / 1000 / seconds / bitrateKbps;
    assert.ok(ratio > 0.75 && ratio < 1.35, `${before.transport} reader ${before.id}: sent at ${ratio.toFixed(2)} x the stream bitrate`);
    // Since its SETUP: at most its age at the bitrate plus a fast-start burst of about a GOP.
    const ageS = (Date.now() - Date.parse(later.since)) / 1000;
    assert.ok(later.bytesSent < ((ageS + 2) * bitrateKbps * 1000 * 1.35) / 8, `${later.id}: ${later.bytesSent} bytes in ${ageS.toFixed(1)} s`);
  }
});

void test('the API permission decides: 401 without credentials, 403 outside the user\'s streams, an unknown id needs "*"', async () => {
  const all = await listReaders();
  const site2Reader = all.find((r) => r.stream === 'site2/cam');
  assert.ok(site2Reader);
  for (const [method, path] of [['GET', '/v1/readers'], ['DELETE', `/v1/readers/${site2Reader.id}`], ['DELETE', '/v1/publishers/site2/cam']] as const) {
    const result = await api(method, path, {});
    assert.equal(result.status, 401, `${method} ${path}`);
    assert.match(String(result.headers['www-authenticate']), /Basic/);
  }
  assert.equal((await api('GET', '/v1/readers', SITE1)).status, 403, 'every stream needs "*"');
  assert.equal((await api('GET', '/v1/readers?stream=site2/cam', SITE1)).status, 403);
  const own = await api('GET', '/v1/readers?stream=site1/cam', SITE1);
  assert.equal(own.status, 200);
  assert.equal(json<{ readers: ReaderJson[] }>(own).readers.length, 3);
  const refused = await api('DELETE', `/v1/readers/${site2Reader.id}`, SITE1);
  assert.equal(refused.status, 403);
  assert.equal(json<{ error: { code: string } }>(refused).error.code, 'FORBIDDEN');
  assert.equal((await api('DELETE', '/v1/readers/r999999', SITE1)).status, 403, 'an unknown id is not told apart from another stream\'s');
  assert.equal((await api('DELETE', '/v1/publishers/site2/cam', SITE1)).status, 403);
  assert.ok((await listReaders()).some((r) => r.id === site2Reader.id), 'the refused kick closed nothing');
  assert.ok(site2Publisher.running);
});

void test('kicking a reader ends its player (UDP and TCP) while the others play on; it leaves once, with its final bytes', async () => {
  const site1 = byTransport(await listReaders('?stream=site1/cam'), 'site1/cam');
  // Which UDP reader is ffmpeg: the one whose kick ends the ffmpeg UDP process. Kick the
  // gst-launch one by the site1 operator first (rtspsrc over UDP keeps waiting, see api.md).
  const udp = site1.udp ?? [];
  const tcp = site1.tcp?.[0];
  assert.ok(tcp && udp.length === 2);
  const [firstUdp, secondUdp] = udp.sort((a, b) => Date.parse(a.since) - Date.parse(b.since)) as [ReaderJson, ReaderJson];

  const kicked = await api('DELETE', `/v1/readers/${firstUdp.id}`, SITE1);
  assert.equal(kicked.status, 200, kicked.text);
  assert.deepEqual(json(kicked), { id: firstUdp.id, kicked: true });
  await waitFor(async () => !(await listReaders()).some((r) => r.id === firstUdp.id), 5000, `${firstUdp.id} to leave the list`);
  // One of the two UDP players was ffmpeg (ends at once) or gst-launch (waits): kick the other too.
  assert.equal((await api('DELETE', `/v1/readers/${secondUdp.id}`)).status, 200);
  await waitFor(() => !readers.udp.running, 5000, 'the ffmpeg UDP reader to exit');
  await readers.tcp.waitForMoreFrames(30, 5000);

  const lastListed = (await listReaders()).find((r) => r.id === tcp.id)?.bytesSent ?? 0;
  assert.equal((await api('DELETE', `/v1/readers/${tcp.id}`)).status, 200);
  await waitFor(() => !readers.tcp.running, 5000, 'the ffmpeg TCP reader to exit');
  await readers.site2.waitForMoreFrames(30, 5000);
  assert.ok(readers.site2.running, 'the reader of the other stream plays on');

  const notFound = await api('DELETE', `/v1/readers/${tcp.id}`);
  assert.equal(notFound.status, 404);
  assert.equal(json<{ error: { code: string } }>(notFound).error.code, 'READER_NOT_FOUND');
  for (const r of [firstUdp, secondUdp, tcp]) {
    await gateway.waitForLog((l) => l.reader === r.id && l.msg === 'RTSP reader left', 5000, `${r.id}'s leave`);
    assert.equal(readerLogs(r.id, 'RTSP reader joined').length, 1, `${r.id} joined once`);
    assert.equal(readerLogs(r.id, 'RTSP reader left').length, 1, `${r.id} left once`);
    const joined = readerLogs(r.id, 'RTSP reader joined')[0]!;
    assert.equal(joined.stream, 'site1/cam');
    assert.equal(joined.transport, r.transport);
    assert.ok(Number(readerLogs(r.id, 'RTSP reader left')[0]!.bytesSent) >= r.bytesSent, `${r.id} left with at least what was listed before`);
  }
  const tcpLeft = Number(readerLogs(tcp.id, 'RTSP reader left')[0]!.bytesSent);
  assert.ok(tcpLeft >= lastListed && tcpLeft < lastListed + 500_000, `the TCP reader left with ${tcpLeft} bytes, listed ${lastListed} just before its kick`);
});

void test('kicking a publisher ends its push and its stream at once (no grace period); the name is free again', async () => {
  const kicked = await api('DELETE', '/v1/publishers/site2/cam');
  assert.equal(kicked.status, 200, kicked.text);
  assert.deepEqual(json(kicked), { stream: 'site2/cam', remoteAddress: '127.0.0.1', kicked: true });
  const gone = await api('GET', '/v1/streams/site2/cam');
  assert.equal(gone.status, 404, 'not waiting in a grace period');
  await waitFor(() => !site2Publisher.running, 5000, 'the ffmpeg publisher to exit');
  await waitFor(() => !readers.site2.running, 5000, 'its reader to get end of stream');
  assert.equal((await listReaders('?stream=site2/cam')).length, 0);
  const again = await api('DELETE', '/v1/publishers/site2/cam');
  assert.equal(again.status, 404);
  assert.equal(json<{ error: { code: string } }>(again).error.code, 'PUBLISHER_NOT_FOUND');
  const unpublished = gateway.logs.find((l) => l.stream === 'site2/cam' && l.code === 'PUBLISHER_KICKED');
  assert.ok(unpublished, 'the push ended with PUBLISHER_KICKED');
  assert.ok(site1Publisher.running, 'the other publisher goes on');
  ffmpegPublisher(clip, gateway.pushUrl('site2/cam'), 'h264');
  await waitLive('site2/cam');
});

void test('a kicked push is answered 409 PUBLISHER_KICKED, read natively (raw H.264) or by Node (MPEG-TS)', async () => {
  const raw = await media.remux(clip, 'cam.h264', 'h264');
  const ts = await media.remux(clip, 'cam.ts', 'mpegts');
  const pushes = [curlPushProc(raw, gateway.pushUrl('site1/raw'), CONTENT_TYPES.h264), curlPushProc(ts, gateway.pushUrl('site1/ts'), CONTENT_TYPES.mpegts)];
  await Promise.all([waitLive('site1/raw'), waitLive('site1/ts')]);
  assert.equal((await streamInfo('site1/raw'))?.publisher?.ingest, 'native');
  assert.equal((await streamInfo('site1/ts'))?.publisher?.ingest, 'node');
  for (const name of ['site1/raw', 'site1/ts']) assert.equal((await api('DELETE', `/v1/publishers/${name}`, SITE1)).status, 200);
  for (const push of pushes) {
    await push.waitForExit(5000);
    const { status, body } = curlResult(push);
    assert.equal(status, 409, body);
    assert.equal((JSON.parse(body) as { error: { code: string } }).error.code, 'PUBLISHER_KICKED');
  }
});
