// Authentication and permissions, attacked with real clients: publish (ffmpeg, curl), read
// (ffprobe, gst-launch rtspsrc with Basic and Digest, a raw RTSP client) and API (HTTP) calls
// without, with wrong and with right-but-insufficient credentials, from a disallowed network,
// and a bad config file. Afterwards the stream that was live all along still reaches its reader.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { hashPasswordBcrypt, hashSha256 } from '../../src/auth/secrets';
import { basic, FfmpegReader, curlPush, ffprobe, request, json, type ErrorBody } from './helpers/clients';
import { Gateway, MAIN, ROOT } from './helpers/gateway';
import { MediaDir } from './helpers/media';
import { Proc, run, sleep, waitFor } from './helpers/processes';
import { RtspClient, describeMany } from './helpers/rtsp-client';
import { releaseOpened } from './helpers/cleanup';

let gateway: Gateway;
let media: MediaDir;
let clip: string;
let reader: FfmpegReader;

const CONFIG = `
logLevel: debug
users:
  - name: alice            # publisher: bcrypt password and a bearer token
    password: "${hashPasswordBcrypt('alice-pw', 4)}"
    tokens: ["${hashSha256('alice-token')}"]
    permissions:
      - {action: publish, streams: ["site1/*", "site2/*", "public/*"]}
  - name: bob              # reader, Basic or Digest, of site1/* only
    password: "${hashSha256('bob-pw')}"
    digestPlainPassword: bob-pw
    permissions:
      - {action: read, streams: ["site1/*"]}
  - name: carol            # everything, but only from 10.0.0.0/8
    password: "${hashSha256('carol-pw')}"
    networks: [10.0.0.0/8]
    permissions:
      - {action: read, streams: ["*"]}
      - {action: api, streams: ["*"]}
      - {action: publish, streams: ["*"]}
  - name: admin
    password: "${hashSha256('admin-pw')}"
    permissions:
      - {action: api, streams: ["*"]}
      - {action: read, streams: ["*"]}
  - name: anonymous        # open access to public/*
    permissions:
      - {action: read, streams: ["public/*"]}
`;

function publisher(name: string, authorization: string): Proc {
  return new Proc(`ffmpeg publisher ${name}`, 'ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-stream_loop', '-1', '-i', clip,
    '-c:v', 'copy', '-an', '-f', 'h264', '-content_type', 'video/h264',
    '-headers', `Authorization: ${authorization}\r\n`, '-method', 'POST', gateway.pushUrl(name),
  ]);
}

before(async () => {
  media = new MediaDir();
  clip = await media.clip({ file: 'clip.mkv', codec: 'h264', seconds: 4, width: 320, height: 240 });
  const configFile = media.file('pushgate.yaml');
  writeFileSync(configFile, CONFIG);
  gateway = await Gateway.start(['--config', configFile]);
  publisher('site1/cam', 'Bearer alice-token');
  publisher('public/lobby', basic('alice', 'alice-pw'));
  publisher('site2/cam', basic('alice', 'alice-pw'));
  const admin = { authorization: basic('admin', 'admin-pw') };
  await waitFor(async () => {
    const result = await request('GET', `${gateway.http}/v1/streams`, { headers: admin });
    return result.status === 200 && json<{ streams: { state: string }[] }>(result).streams.filter((s) => s.state === 'live').length === 3;
  }, 15_000, 'the authenticated publishers to go live');
  reader = new FfmpegReader(`rtsp://bob:bob-pw@127.0.0.1:${gateway.rtspPort}/site1/cam`, 'tcp');
  await reader.waitForFrames(30, 15_000);
});

after(() => releaseOpened({ gateways: [gateway], media }));

void test('publish: none or wrong credentials are 401 with Basic and Bearer challenges; no permission or wrong network 403', async () => {
  const url = gateway.pushUrl('site1/other');
  const none = await curlPush(clip, url, 'video/h264');
  assert.equal(none.status, 401, none.body);
  assert.equal(json<ErrorBody>({ status: 401, headers: {}, text: none.body, elapsedMs: 0 }).error.code, 'UNAUTHORIZED');
  const challenge = await request('POST', url, { headers: { 'content-type': 'video/h264' }, body: 'x' });
  assert.equal(challenge.status, 401);
  assert.deepEqual(challenge.headers['www-authenticate'], 'Basic realm="pushgate", Bearer realm="pushgate"');
  for (const authorization of [basic('alice', 'wrong'), basic('nobody', 'x'), 'Bearer wrong-token', 'Negotiate abc']) {
    const result = await request('POST', url, { headers: { 'content-type': 'video/h264', authorization }, body: 'x' });
    assert.equal(result.status, 401, authorization);
  }
  const forbidden = await request('POST', gateway.pushUrl('site3/cam'), { headers: { 'content-type': 'video/h264', authorization: basic('alice', 'alice-pw') }, body: 'x' });
  assert.equal(forbidden.status, 403);
  assert.equal(json<ErrorBody>(forbidden).error.code, 'FORBIDDEN');
  const network = await request('POST', url, { headers: { 'content-type': 'video/h264', authorization: basic('carol', 'carol-pw') }, body: 'x' });
  assert.equal(network.status, 403, 'carol is allowed only from 10.0.0.0/8');
  const curlForbidden = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-u', 'alice:alice-pw', '-T', clip, '-H', 'Content-Type: video/h264', gateway.pushUrl('site3/cam')], 20_000);
  assert.equal(curlForbidden.stdout, '403');
});

/** The first status line a push expecting 100 Continue gets, before it has sent any body. */
async function firstAnswerTo100Continue(path: string, contentType: string, authorization?: string): Promise<string> {
  const socket = net.connect(gateway.httpPort, '127.0.0.1');
  try {
    socket.write(
      `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: ${contentType}\r\nExpect: 100-continue\r\n${authorization ? `Authorization: ${authorization}\r\n` : ''}\r\n`,
    );
    const [head] = (await once(socket, 'data')) as [Buffer];
    return head.toString('latin1').split('\r\n')[0] ?? '';
  } finally {
    socket.destroy();
  }
}

void test('publish: a push expecting 100 Continue is refused before the 100, and gets it once allowed', async () => {
  for (const type of ['video/h264', 'video/mp2t']) {
    assert.equal(await firstAnswerTo100Continue('/push/site1/expect', type), 'HTTP/1.1 401 Unauthorized', type);
    assert.equal(await firstAnswerTo100Continue('/push/site1/expect', type, basic('alice', 'wrong')), 'HTTP/1.1 401 Unauthorized', type);
    assert.equal(await firstAnswerTo100Continue('/push/site3/expect', type, basic('alice', 'alice-pw')), 'HTTP/1.1 403 Forbidden', type);
    assert.equal(await firstAnswerTo100Continue('/push/site1/expect', type, basic('alice', 'alice-pw')), 'HTTP/1.1 100 Continue', type);
  }
});

void test('publish: ffmpeg with user:pass in the URL publishes (it sends no body until challenged), raw H.264 and MPEG-TS', async () => {
  const admin = { authorization: basic('admin', 'admin-pw') };
  const pushes = [
    { name: 'site1/url-h264', args: ['-c:v', 'copy', '-f', 'h264'] },
    { name: 'site1/url-ts', args: ['-c:v', 'copy', '-f', 'mpegts'] },
  ].map(({ name, args }) => {
    const url = gateway.pushUrl(name).replace('http://', 'http://alice:alice-pw@');
    const proc = new Proc(`ffmpeg URL credentials ${name}`, 'ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-stream_loop', '-1', '-i', clip, '-an', ...args, '-method', 'POST', url]);
    return { name, proc };
  });
  try {
    for (const { name, proc } of pushes) {
      await waitFor(async () => {
        const result = await request('GET', `${gateway.http}/v1/streams/${name}`, { headers: admin });
        return result.status === 200 && json<{ state: string }>(result).state === 'live';
      }, 15_000, `${name} to go live`);
      assert.ok(proc.running, `${name}: ffmpeg is still publishing`);
    }
    const check = new FfmpegReader(`rtsp://bob:bob-pw@127.0.0.1:${gateway.rtspPort}/site1/url-h264`, 'tcp');
    try {
      await check.waitForFrames(20, 15_000);
    } finally {
      check.proc.kill();
    }
  } finally {
    for (const { proc } of pushes) proc.kill();
  }
});

void test('API: 401 without credentials, 403 without the api permission or from a wrong network, 200 for admin; /healthz stays open', async () => {
  const streams = `${gateway.http}/v1/streams`;
  const none = await request('GET', streams);
  assert.equal(none.status, 401);
  assert.match(String(none.headers['www-authenticate']), /Basic realm="pushgate".*Bearer realm="pushgate"/);
  assert.equal((await request('GET', streams, { headers: { authorization: basic('admin', 'nope') } })).status, 401);
  assert.equal((await request('GET', streams, { headers: { authorization: basic('alice', 'alice-pw') } })).status, 403);
  assert.equal((await request('GET', `${streams}/site1/cam`, { headers: { authorization: basic('carol', 'carol-pw') } })).status, 403);
  const curl = await run('curl', ['-sS', '-u', 'admin:admin-pw', `${streams}/site1/cam`], 10_000);
  assert.equal((JSON.parse(curl.stdout) as { name: string }).name, 'site1/cam');
  assert.equal((await request('GET', `${gateway.http}/healthz`)).status, 200);
});

void test('RTSP: 401 with Basic and Digest challenges, wrong credentials 401, a user without the permission or network 403', async () => {
  const client = await RtspClient.connect('127.0.0.1', gateway.rtspPort);
  try {
    const none = await client.describe('site1/cam');
    assert.equal(none.status, 401);
    assert.match(none.headers['www-authenticate'] ?? '', /Basic realm="pushgate"|Digest realm="pushgate", nonce="[0-9a-f]{32}"/);
    const url = client.url('site1/cam');
    assert.equal((await client.request('DESCRIBE', url, { Authorization: basic('bob', 'wrong') })).status, 401);
    assert.equal((await client.request('DESCRIBE', url, { Authorization: 'Digest username="bob", realm="pushgate", nonce="forged", uri="x", response="00"' })).status, 401);
    assert.equal((await client.request('DESCRIBE', url, { Authorization: basic('bob', 'bob-pw') })).status, 200, 'Basic with a hashed password');
    assert.equal((await client.request('DESCRIBE', url, { Authorization: basic('alice', 'alice-pw') })).status, 403, 'alice may publish, not read');
    assert.equal((await client.request('DESCRIBE', url, { Authorization: basic('carol', 'carol-pw') })).status, 403, 'carol only from 10/8');
    assert.equal((await client.describe('public/lobby')).status, 200, 'anonymous reads public/*');
    assert.equal((await client.describe('nothing/here')).status, 404);
  } finally {
    client.close();
  }
  const denied = await ffprobe(`rtsp://127.0.0.1:${gateway.rtspPort}/site1/cam`);
  assert.notEqual(denied.code, 0);
  assert.match(denied.stderr, /401/);
  const wrong = await ffprobe(`rtsp://bob:nope@127.0.0.1:${gateway.rtspPort}/site1/cam`);
  assert.match(wrong.stderr, /401/);
  const forbidden = await ffprobe(`rtsp://bob:bob-pw@127.0.0.1:${gateway.rtspPort}/site2/cam`);
  assert.notEqual(forbidden.code, 0);
  assert.match(forbidden.stderr, /403/, 'bob (Digest) has no read permission on site2/*');
});

void test('RTSP: an allowed check is reused only for the same address, credentials and path; refusals are never reused', async () => {
  const client = await RtspClient.connect('127.0.0.1', gateway.rtspPort);
  try {
    const url = client.url('site1/cam');
    const bob = basic('bob', 'bob-pw');
    assert.equal((await client.request('DESCRIBE', url, { Authorization: bob })).status, 200);
    // Now allowed and remembered; none of these may ride on it.
    assert.equal((await client.describe('site1/cam')).status, 401, 'no credentials');
    assert.equal((await client.request('DESCRIBE', url, { Authorization: basic('bob', 'bob-pw!') })).status, 401, 'another password');
    assert.equal((await client.request('DESCRIBE', client.url('site2/cam'), { Authorization: bob })).status, 403, 'another stream');
    for (let i = 0; i < 3; i++) assert.equal((await client.request('DESCRIBE', url, { Authorization: basic('alice', 'alice-pw') })).status, 403, 'a refusal, again');
    assert.equal((await client.request('DESCRIBE', url, { Authorization: bob })).status, 200);
  } finally {
    client.close();
  }
  await gateway.waitForLog((l) => l.msg === 'RTSP auth cache counters' && Number((l.authCache as { hits: number }).hits) > 0, 3000, 'a cache hit in the counters');
});

void test('RTSP: 2000 DESCRIBEs with Basic credentials grow the gateway RSS by less than 16 MB', async () => {
  const bob = basic('bob', 'bob-pw');
  await describeMany(gateway.rtspPort, 'site1/cam', 50, { authorization: bob });
  await sleep(1000);
  const before = gateway.rssBytes();
  assert.equal(await describeMany(gateway.rtspPort, 'site1/cam', 2000, { authorization: bob }), 2000);
  await sleep(1500);
  const growthMb = (gateway.rssBytes() - before) / 1024 / 1024;
  assert.ok(growthMb < 16, `2000 DESCRIBEs with credentials grew RSS by ${growthMb.toFixed(1)} MB`);
});

void test('RTSP: real clients read with the right credentials (ffprobe Digest, gst-launch rtspsrc) and anonymously where open', async () => {
  const digest = await ffprobe(`rtsp://bob:bob-pw@127.0.0.1:${gateway.rtspPort}/site1/cam`);
  assert.equal(digest.code, 0, digest.stderr);
  assert.equal(digest.streams[0]?.codec_name, 'h264');
  const open = await ffprobe(`rtsp://127.0.0.1:${gateway.rtspPort}/public/lobby`);
  assert.equal(open.code, 0, open.stderr);
  const gst = await run('gst-launch-1.0', [
    '-q', 'rtspsrc', `location=rtsp://127.0.0.1:${gateway.rtspPort}/site1/cam`, 'user-id=bob', 'user-pw=bob-pw', 'protocols=tcp', '!',
    'rtph264depay', '!', 'h264parse', '!', 'fakesink', 'num-buffers=10',
  ], 20_000);
  assert.equal(gst.code, 0, gst.stderr + gst.stdout);
  const gstWrong = await run('gst-launch-1.0', [
    '-q', 'rtspsrc', `location=rtsp://127.0.0.1:${gateway.rtspPort}/site1/cam`, 'user-id=bob', 'user-pw=nope', 'protocols=tcp', '!', 'fakesink',
  ], 20_000);
  assert.notEqual(gstWrong.code, 0);
  assert.match(gstWrong.stderr + gstWrong.stdout, /Unauthorized|401/i);
});

void test('no secret reaches the log', () => {
  const log = JSON.stringify(gateway.logs) + gateway.otherOutput.join('\n');
  for (const secret of ['alice-pw', 'alice-token', 'bob-pw', 'carol-pw', 'admin-pw', Buffer.from('alice:alice-pw').toString('base64')]) {
    assert.ok(!log.includes(secret), `the log contains ${secret}`);
  }
  assert.ok(gateway.logs.some((l) => l.msg === 'request refused'), 'refusals are logged');
});

void test('after the attacks the live stream still reaches its reader', async () => {
  assert.ok(reader.running, reader.proc.tail());
  await reader.waitForMoreFrames(30, 10_000);
});

void test('a bad config file is refused at start: exit code 2 and a message naming the key', async () => {
  const bad = media.file('bad.yaml');
  writeFileSync(bad, 'users:\n  - name: x\n    password: "sha256:' + 'a'.repeat(64) + '"\n    permissions:\n      - {action: write, streams: ["*"]}\n');
  const result = await run(process.execPath, [MAIN, '--config', bad, '--http-port', '0', '--rtsp-port', '0'], 15_000, { cwd: ROOT });
  assert.equal(result.code, 2, result.stdout + result.stderr);
  assert.match(result.stderr, /users\[0\]\.permissions\[0\]\.action: expected one of publish, read, api/);
  assert.doesNotMatch(result.stdout, /pushgate listening/);
});
