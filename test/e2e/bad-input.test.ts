// Bad input is refused with a 4xx JSON error that says what was wrong; the readers of that stream
// get end of stream, and another stream with its reader runs on untouched.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import {
  FfmpegReader,
  ManualPush,
  curlPushProc,
  curlResult,
  ffmpegPublisher,
  getStream,
  json,
  request,
  writePaced,
  type ErrorBody,
  type StreamInfo,
} from './helpers/clients';
import { Gateway } from './helpers/gateway';
import { MediaDir } from './helpers/media';
import { waitFor } from './helpers/processes';
import { releaseOpened } from './helpers/cleanup';

const IDLE_MS = 1500;
const GRACE_MS = 3000;
const TS_SECONDS = 8;

let gateway: Gateway;
let media: MediaDir;
let ts: Buffer;
let tsFile: string;
let control: FfmpegReader;
let controlInfo: StreamInfo;

before(async () => {
  media = new MediaDir();
  const [controlClip, tsClip] = await Promise.all([
    media.clip({ file: 'control.mkv', codec: 'h264', seconds: 20, width: 320, height: 240 }),
    media.clip({ file: 'bad.ts', codec: 'h264', seconds: TS_SECONDS, audio: true }),
  ]);
  tsFile = tsClip;
  ts = readFileSync(tsFile);
  gateway = await Gateway.start(['--idle-timeout', String(IDLE_MS), '--grace-period', String(GRACE_MS)]);
  ffmpegPublisher(controlClip, gateway.pushUrl('steady'), 'h264');
  await waitFor(async () => (await getStream(gateway.http, 'steady'))?.state === 'live', 10_000, 'steady to go live');
  control = new FfmpegReader(gateway.rtspUrl('steady'), 'tcp');
  await control.waitForFrames(15, 10_000);
  controlInfo = (await getStream(gateway.http, 'steady'))!;
});

after(() => releaseOpened({ gateways: [gateway], media }));

/** The other stream and its reader ran on untouched through whatever the test did. */
async function assertControlUntouched(): Promise<void> {
  await control.waitForMoreFrames(15, 3000);
  assert.ok(control.running, `the reader of the other stream ended\n${control.proc.tail()}`);
  const info = await getStream(gateway.http, 'steady');
  assert.equal(info?.state, 'live');
  assert.equal(info?.liveSince, controlInfo.liveSince, 'the other stream was restarted');
  assert.equal(info?.readers, 1);
}

/** The response the publisher got; fails the test if it got none (the connection was cut). */
async function responseOf(push: ManualPush, what: string): Promise<{ status: number; text: string }> {
  try {
    const response = await push.response;
    return { status: response.status, text: response.text };
  } catch (err) {
    assert.fail(`the publisher got no HTTP response ${what}: the gateway cut the connection (${(err as Error).message})`);
  }
}

/** Starts a live MPEG-TS push written by the test at real time, with a reader decoding it. */
async function liveTsPush(name: string): Promise<{ push: ManualPush; reader: FfmpegReader; writing: Promise<void>; stop: () => void }> {
  const push = new ManualPush(gateway.pushUrl(name), 'video/mp2t');
  let stopped = false;
  const rate = ts.length / TS_SECONDS;
  // Written in slices so the test can stop at any point (a 188-byte multiple each).
  const writing = (async () => {
    const slice = 188 * 400;
    for (let offset = 0; offset < ts.length && !stopped; offset += slice) {
      await writePaced(push, ts.subarray(offset, offset + slice), rate);
    }
  })();
  await waitFor(async () => (await getStream(gateway.http, name))?.state === 'live', 10_000, `${name} to go live`);
  const reader = new FfmpegReader(gateway.rtspUrl(name), 'tcp');
  await reader.waitForFrames(15, 10_000);
  return { push, reader, writing, stop: () => (stopped = true) };
}

function assertError(result: { status: number; text: string }, status: number, code: string, message: RegExp): ErrorBody {
  assert.equal(result.status, status, result.text);
  const body = json<ErrorBody>({ ...result, headers: {}, elapsedMs: 0 });
  assert.equal(body.error.code, code, result.text);
  assert.match(body.error.message, message);
  return body;
}

void test('a push with an unsupported Content-Type, or with none and bytes of no supported format, gets 415 naming the supported types', async () => {
  // Without a Content-Type pushgate recognises the format from the first bytes (ffmpeg sends
  // none): bytes that are none of its formats are an unsupported type.
  const missing = await request('POST', gateway.pushUrl('typeless'), { body: randomBytes(128 * 1024) });
  assertError(missing, 415, 'UNSUPPORTED_MEDIA_TYPE', /video\/h264.*video\/h265.*video\/mp2t/);
  const mp4 = await request('PUT', gateway.pushUrl('typeless'), { headers: { 'content-type': 'video/mp4' }, body: ts.subarray(0, 188 * 100) });
  const body = assertError(mp4, 415, 'UNSUPPORTED_MEDIA_TYPE', /video\/h264.*video\/h265.*video\/mp2t/);
  assert.match(body.error.message, /video\/mp4/);
  assert.equal((await request('GET', `${gateway.http}/v1/streams/typeless`)).status, 404);
  await assertControlUntouched();
});

void test('invalid stream names get 400 INVALID_STREAM_NAME', async () => {
  for (const path of ['bad%20name', 'a//b', 'a/../b', '..', 'x'.repeat(129), 'caf%C3%A9', 'a/', 'a%3Fb']) {
    const result = await request('POST', `${gateway.http}/push/${path}`, { headers: { 'content-type': 'video/h264' }, body: Buffer.alloc(1000) });
    assertError(result, 400, 'INVALID_STREAM_NAME', /invalid stream name/);
  }
  await assertControlUntouched();
});

void test('garbage bytes get 422 INVALID_MEDIA saying what was wrong, for each Content-Type', async () => {
  const garbage = randomBytes(512 * 1024);
  const expected: [string, RegExp][] = [
    ['video/h264', /H\.264/],
    ['video/h265', /H\.265/],
    ['video/mp2t', /MPEG-TS/],
  ];
  for (const [type, message] of expected) {
    const result = await request('POST', gateway.pushUrl('garbage'), { headers: { 'content-type': type }, body: garbage });
    assertError(result, 422, 'INVALID_MEDIA', message);
  }
  assert.equal((await request('GET', `${gateway.http}/v1/streams/garbage`)).status, 404);
  await assertControlUntouched();
});

void test('garbage in the middle of a live MPEG-TS push: 422, and its reader gets end of stream at once', async () => {
  const { push, reader, writing, stop } = await liveTsPush('spoiled');
  stop();
  await writing;
  await push.write(randomBytes(256 * 1024));
  const response = await responseOf(push, 'to its garbage');
  const respondedAt = performance.now();
  const body = assertError(response, 422, 'INVALID_MEDIA', /MPEG-TS/);
  assert.ok(body.push && body.push.bytes > 0, `the error should sum up the push: ${response.text}`);
  const exit = await reader.proc.waitForExit(2500);
  assert.equal(exit.code, 0, reader.proc.tail());
  assert.ok(exit.at - respondedAt < GRACE_MS - 500, `the reader ended ${(exit.at - respondedAt).toFixed(0)} ms after the push failed: bad input should end it at once`);
  await gateway.waitForLog((l) => l.stream === 'spoiled' && l.msg === 'stream ended', 2000, 'the stream to end');
  push.destroy();
  await assertControlUntouched();
});

void test('an MPEG-TS push that ends mid-packet gets 400 TRUNCATED_MEDIA, and its reader gets end of stream', async () => {
  const truncatedFile = media.file('truncated.ts');
  writeFileSync(truncatedFile, ts.subarray(0, 188 * Math.floor((ts.length / 188) * 0.7) + 100));
  const curl = curlPushProc(truncatedFile, gateway.pushUrl('cut'), 'video/mp2t');
  await waitFor(async () => (await getStream(gateway.http, 'cut'))?.state === 'live', 10_000, 'cut to go live');
  const reader = new FfmpegReader(gateway.rtspUrl('cut'), 'tcp');
  await reader.waitForFrames(15, 10_000);
  const curlExit = await curl.waitForExit(15_000);
  const respondedAt = curlExit.at;
  const { status, body } = curlResult(curl);
  assertError({ status, text: body }, 400, 'TRUNCATED_MEDIA', /mid.?packet|188/);
  const exit = await reader.proc.waitForExit(2500);
  assert.equal(exit.code, 0, reader.proc.tail());
  assert.ok(exit.at - respondedAt < GRACE_MS - 500, `the reader ended ${(exit.at - respondedAt).toFixed(0)} ms after the push failed`);
  await assertControlUntouched();
});

void test('a publisher silent for longer than --idle-timeout is closed with 408 PUBLISHER_IDLE, and its reader gets end of stream', async () => {
  const { push, reader, writing, stop } = await liveTsPush('quiet');
  stop();
  await writing;
  const silentFrom = performance.now();
  const answer = await push.response.then(
    (response) => ({ response, silentMs: performance.now() - silentFrom }),
    (err: Error) => ({ error: err, silentMs: performance.now() - silentFrom }),
  );
  // Its reader ends and the other stream runs on, whatever the publisher was told.
  const exit = await reader.proc.waitForExit(2500);
  assert.equal(exit.code, 0, reader.proc.tail());
  push.destroy();
  await assertControlUntouched();
  assert.equal((await request('GET', `${gateway.http}/v1/streams/quiet`)).status, 404);
  await gateway.waitForLog((l) => l.stream === 'quiet' && l.code === 'PUBLISHER_IDLE', 1000, 'a log line about the idle publisher');

  assert.ok(
    'response' in answer,
    `the idle publisher got no HTTP response after ${answer.silentMs.toFixed(0)} ms of silence: the gateway cut the connection (${'error' in answer ? answer.error.message : ''})`,
  );
  assertError(answer.response, 408, 'PUBLISHER_IDLE', new RegExp(`${IDLE_MS} ms`));
  assert.ok(answer.silentMs >= IDLE_MS - 200 && answer.silentMs < IDLE_MS + 2500, `the idle publisher was answered after ${answer.silentMs.toFixed(0)} ms of silence`);
});

void test('the other stream and its reader ran through all of it', async () => {
  await assertControlUntouched();
  assert.ok(control.frames > 100);
  assert.equal(gateway.streamLogs('steady').filter((l) => l.msg === 'stream ended').length, 0);
});
