// External authorisation: a tiny HTTP authoriser started by the test allows user "ext" with
// password "ok" to publish and read; pushgate asks it for HTTP pushes and API calls and for
// RTSP reads, caches its answers, and refuses when it is down.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { basic, FfmpegReader, ffprobe, request } from './helpers/clients';
import { Gateway } from './helpers/gateway';
import { MediaDir } from './helpers/media';
import { Proc, sleep, stopAll } from './helpers/processes';

interface Question { user: string | null; password: string | null; token: string | null; ip: string; action: string; stream: string; protocol: string }

let gateway: Gateway;
let media: MediaDir;
let authorizer: http.Server;
const questions: Question[] = [];
const CACHE_MS = 1500;

before(async () => {
  authorizer = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const q = JSON.parse(body) as Question;
      questions.push(q);
      const ok = q.user === 'ext' && q.password === 'ok' && (q.action === 'publish' || q.action === 'read');
      res.writeHead(ok ? 204 : 403).end();
    });
  });
  await new Promise<void>((resolve) => authorizer.listen(0, '127.0.0.1', resolve));
  media = new MediaDir();
  const clip = await media.clip({ file: 'clip.mkv', codec: 'h264', seconds: 4, width: 320, height: 240 });
  const config = media.file('pushgate.yaml');
  writeFileSync(config, `externalAuth:\n  url: http://127.0.0.1:${(authorizer.address() as AddressInfo).port}/auth\n  timeoutMs: 500\n  cacheMs: ${CACHE_MS}\n`);
  gateway = await Gateway.start(['--config', config]);
  new Proc('ffmpeg publisher', 'ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-stream_loop', '-1', '-i', clip, '-c:v', 'copy', '-an', '-f', 'h264',
    '-content_type', 'video/h264', '-headers', `Authorization: ${basic('ext', 'ok')}\r\n`, '-method', 'POST', gateway.pushUrl('cam'),
  ]);
  await gateway.waitForLog((l) => l.stream === 'cam' && l.msg === 'stream live', 15_000, 'the authorised push to go live');
});

after(async () => {
  if (gateway) await gateway.stop();
  await stopAll();
  authorizer?.close();
  media?.remove();
});

void test('the authoriser is asked with user, password, ip, action, stream and protocol; 2xx allows, anything else is 401', async () => {
  const reader = new FfmpegReader(`rtsp://ext:ok@127.0.0.1:${gateway.rtspPort}/cam`, 'tcp');
  await reader.waitForFrames(20, 15_000);
  const publish = questions.find((q) => q.action === 'publish');
  assert.deepEqual(publish, { user: 'ext', password: 'ok', token: null, ip: '127.0.0.1', action: 'publish', stream: 'cam', protocol: 'http' });
  assert.ok(questions.some((q) => q.action === 'read' && q.protocol === 'rtsp' && q.stream === 'cam' && q.user === 'ext'), JSON.stringify(questions));
  const wrong = await ffprobe(`rtsp://ext:bad@127.0.0.1:${gateway.rtspPort}/cam`);
  assert.match(wrong.stderr, /401/);
  assert.equal((await request('GET', `${gateway.http}/v1/streams`, { headers: { authorization: basic('ext', 'ok') } })).status, 401, 'the authoriser refuses api');
  assert.equal((await request('POST', gateway.pushUrl('other'), { headers: { 'content-type': 'video/h264', authorization: basic('ext', 'no') }, body: 'x' })).status, 401);
  await reader.proc.stop();
});

void test('answers are cached, and a dead authoriser denies once the cache has expired', async () => {
  const url = `rtsp://ext:ok@127.0.0.1:${gateway.rtspPort}/cam`;
  const first = await ffprobe(url);
  assert.equal(first.code, 0, first.stderr);
  const asked = questions.length;
  assert.equal((await ffprobe(url)).code, 0);
  assert.equal(questions.length, asked, 'a cached answer is not asked again');
  await new Promise<void>((resolve) => authorizer.close(() => resolve()));
  authorizer.closeAllConnections();
  await sleep(CACHE_MS + 200);
  const denied = await ffprobe(url);
  assert.notEqual(denied.code, 0);
  assert.match(denied.stderr, /401/);
  assert.equal((await request('GET', `${gateway.http}/healthz`)).status, 200, 'the gateway is fine');
});
