// Hot reload of the config file, with real clients: while a reader plays, the file is changed
// (by rewrite, by rename over it, and announced by SIGHUP), and the new users, permissions and
// limits apply to the next requests; a broken file is refused with a log line naming the
// problem and the old config stays; options that need a restart say so. The reader never
// stalls.
import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { hashSha256 } from '../../src/auth/secrets';
import { basic, FfmpegReader, curlPush, json, request } from './helpers/clients';
import { releaseOpened } from './helpers/cleanup';
import { Gateway, type LogLine } from './helpers/gateway';
import { MediaDir } from './helpers/media';
import { Proc, sleep, waitFor } from './helpers/processes';

let gateway: Gateway;
let media: MediaDir;
let clip: string;
let configFile: string;
let publisher: Proc;
let reader: FfmpegReader;
/** The reader's frame count every 100 ms, to find stalls. */
const progress: { at: number; frames: number }[] = [];
let sampler: NodeJS.Timeout | undefined;

function config(options: { carol?: boolean; maxReadersPerStream?: number; rtspThreads?: number; extra?: string } = {}): string {
  return `
logLevel: debug
${options.maxReadersPerStream ? `maxReadersPerStream: ${options.maxReadersPerStream}` : ''}
${options.rtspThreads ? `rtspThreads: ${options.rtspThreads}` : ''}
users:
  - name: alice
    password: "${hashSha256('alice-pw')}"
    permissions:
      - {action: publish, streams: ["*"]}
      - {action: api, streams: ["*"]}
  - name: bob
    password: "${hashSha256('bob-pw')}"
    digestPlainPassword: bob-pw
    permissions:
      - {action: read, streams: ["*"]}
${options.carol ? `  - name: carol
    password: "${hashSha256('carol-pw')}"
    permissions:
      - {action: publish, streams: ["carol/*"]}
` : ''}${options.extra ?? ''}`;
}

const reloads = (): LogLine[] => gateway.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('config reload'));

async function nextReloadLog(write: () => void): Promise<LogLine> {
  const seen = reloads().length;
  write();
  await waitFor(() => reloads().length > seen, 10_000, 'the reload to be logged');
  return reloads()[seen]!;
}

before(async () => {
  media = new MediaDir();
  clip = await media.clip({ file: 'clip.mkv', codec: 'h264', seconds: 4, width: 320, height: 240 });
  configFile = media.file('pushgate.yaml');
  writeFileSync(configFile, config());
  gateway = await Gateway.start(['--config', configFile]);
  publisher = new Proc('ffmpeg publisher', 'ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-stream_loop', '-1', '-i', clip,
    '-c:v', 'copy', '-an', '-f', 'h264', '-content_type', 'video/h264',
    '-headers', `Authorization: ${basic('alice', 'alice-pw')}\r\n`, '-method', 'POST', gateway.pushUrl('cam'),
  ]);
  await waitFor(async () => {
    const result = await request('GET', `${gateway.http}/v1/streams/cam`, { headers: { authorization: basic('alice', 'alice-pw') } });
    return result.status === 200 && json<{ state: string }>(result).state === 'live';
  }, 15_000, 'the stream to go live');
  reader = new FfmpegReader(`rtsp://bob:bob-pw@127.0.0.1:${gateway.rtspPort}/cam`, 'tcp');
  await reader.waitForFrames(30, 20_000);
  sampler = setInterval(() => progress.push({ at: performance.now(), frames: reader.frames }), 100);
});

after(async () => {
  clearInterval(sampler);
  publisher.kill();
  await releaseOpened({ gateways: [gateway], media });
});

const carolPush = (): Promise<number> =>
  request('POST', gateway.pushUrl('carol/cam'), { headers: { 'content-type': 'video/h264', authorization: basic('carol', 'carol-pw') }, body: 'x' }).then((r) => r.status);

void test('a new user in the rewritten file can publish at once; removed again, it is refused', async () => {
  assert.equal(await carolPush(), 401, 'carol is not configured yet');
  const added = await nextReloadLog(() => writeFileSync(configFile, config({ carol: true })));
  assert.equal(added.msg, 'config reloaded');
  assert.equal(added.access, true);
  // An allowed push with a one-byte body: 422 (not media), i.e. past the access check.
  assert.equal(await carolPush(), 422);
  // Replaced by a rename over it, as editors and config management do.
  await nextReloadLog(() => {
    writeFileSync(`${configFile}.tmp`, config());
    renameSync(`${configFile}.tmp`, configFile);
  });
  assert.equal(await carolPush(), 401);
});

void test('a reader limit lowered by SIGHUP applies to the next reader; the playing one keeps playing', async () => {
  writeFileSync(configFile, config({ maxReadersPerStream: 1 }));
  const log = await nextReloadLog(() => process.kill(gateway.pid, 'SIGHUP'));
  assert.deepEqual(log.applied, ['maxReadersPerStream']);
  const refused = new FfmpegReader(`rtsp://bob:bob-pw@127.0.0.1:${gateway.rtspPort}/cam`, 'tcp');
  const exit = await refused.proc.exited;
  assert.notEqual(exit.code, 0);
  assert.match(refused.proc.tail(), /453|Not Enough Bandwidth/i);
  await nextReloadLog(() => writeFileSync(configFile, config()));
  const admitted = new FfmpegReader(`rtsp://bob:bob-pw@127.0.0.1:${gateway.rtspPort}/cam`, 'tcp');
  try {
    await admitted.waitForFrames(10, 15_000);
  } finally {
    admitted.proc.kill();
  }
});

void test('a broken file is refused with a line naming the problem, and the running config stays', async () => {
  const broken = await nextReloadLog(() => writeFileSync(configFile, config({ extra: 'maxStreams: lots\nusres: []\n' })));
  assert.equal(broken.level, 50);
  assert.match(String(broken.msg), /config reload refused, the running config stays in force/);
  assert.match(String(broken.msg), /usres: unknown key/);
  const badYaml = await nextReloadLog(() => writeFileSync(configFile, 'users: [\n'));
  assert.match(String(badYaml.msg), /not valid YAML/);
  // alice (from the running config) still publishes, carol (never applied) still cannot.
  assert.equal(await carolPush(), 401);
  const alice = await curlPush(clip, `${gateway.pushUrl('alice/other')}`.replace('http://', 'http://alice:alice-pw@'), 'video/x-matroska').catch(() => undefined);
  assert.notEqual(alice?.status, 401);
  assert.notEqual(alice?.status, 403);
});

void test('an option that needs a restart is named and not applied', async () => {
  const warning = await nextReloadLog(() => writeFileSync(configFile, config({ rtspThreads: 3 })));
  assert.equal(warning.level, 40);
  assert.deepEqual(warning.options, ['rtspThreads']);
  assert.match(String(warning.msg), /need a restart and are not applied: rtspThreads/);
  await gateway.waitForLog((l) => l.msg === 'config reloaded: nothing to apply', 5000, 'the reload summary');
  await nextReloadLog(() => writeFileSync(configFile, config()));
});

void test('webhooks added by a reload are called for the next event', async () => {
  const received: { event?: string; result?: string }[] = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      received.push(JSON.parse(body) as { event?: string });
      res.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    assert.equal(await carolPush(), 401);
    const log = await nextReloadLog(() => writeFileSync(configFile, config({ extra: `webhooks:\n  - {url: "${url}", events: [authRefused]}\n` })));
    assert.equal(log.webhooks, true);
    assert.equal(await carolPush(), 401);
    await waitFor(() => received.length > 0, 5000, 'the webhook');
    assert.equal(received.length, 1, 'only the refusal after the reload');
    assert.equal(received[0]?.event, 'authRefused');
    await nextReloadLog(() => writeFileSync(configFile, config()));
  } finally {
    receiver.close();
  }
});

void test('through every reload the reader played without a stall', async () => {
  await sleep(500);
  assert.ok(reader.proc.running, 'the reader is still running');
  let longest = 0;
  for (let i = 1, last = progress[0]!; i < progress.length; i++) {
    const sample = progress[i]!;
    if (sample.frames > last.frames) {
      longest = Math.max(longest, sample.at - last.at);
      last = sample;
    }
  }
  assert.ok(progress.length > 20, 'sampled');
  assert.ok(longest < 1000, `the reader's longest time without a new frame was ${Math.round(longest)} ms`);
});
