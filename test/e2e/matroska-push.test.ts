// Matroska pushes without a browser: ffmpeg pushing -f matroska over HTTP (typed, and untyped:
// recognised from its first bytes), with AAC audio, read over RTSP; a raw H.264 push beside it
// still goes to the native ingest (the upgrade routing WebSocket pushes share with it); and a
// WebSocket push over HTTPS (wss), where no native ingest routes the upgrade.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { FfmpegReader, ffmpegPublisher, ffprobe, getStream } from './helpers/clients';
import { releaseOpened } from './helpers/cleanup';
import { Gateway } from './helpers/gateway';
import { MediaDir } from './helpers/media';
import { Proc, waitFor } from './helpers/processes';
import { makeTestPki } from './helpers/tls';

let media: MediaDir;
let gateway: Gateway;
let clip: string;
let rawClip: string;

before(async () => {
  media = new MediaDir();
  const pki = await makeTestPki(media.dir);
  clip = await media.clip({ file: 'clip.mkv', codec: 'h264', seconds: 4, width: 320, height: 240, audio: true });
  rawClip = await media.remux(clip, 'clip.h264', 'h264');
  gateway = await Gateway.start(['--tls-cert', pki.serverCert, '--tls-key', pki.serverKey, '--https-port', '0', '--rtsps-port', '0']);
});

after(() => releaseOpened({ gateways: [gateway], media }));

/** `ffmpeg -re -stream_loop -1 -i clip.mkv -c copy -f matroska -method POST url`. */
function matroskaPublisher(url: string, contentType: boolean): Proc {
  return new Proc(`ffmpeg matroska publisher ${url}`, 'ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-stream_loop', '-1', '-i', clip,
    '-c', 'copy', '-f', 'matroska', '-live', '1', ...(contentType ? ['-content_type', 'video/x-matroska'] : []), '-method', 'POST', url,
  ]);
}

void test('ffmpeg pushing Matroska (typed or not) plays over RTSP with its AAC audio, while a raw push beside it is still read natively', async () => {
  const typed = matroskaPublisher(gateway.pushUrl('mkv/typed'), true);
  const untyped = matroskaPublisher(gateway.pushUrl('mkv/untyped'), false);
  const raw = ffmpegPublisher(rawClip, gateway.pushUrl('raw/cam'), 'h264');
  for (const name of ['mkv/typed', 'mkv/untyped', 'raw/cam']) {
    await waitFor(async () => (await getStream(gateway.http, name))?.state === 'live', 15_000, `${name} to go live`);
  }
  for (const name of ['mkv/typed', 'mkv/untyped']) {
    const stream = await getStream(gateway.http, name);
    assert.equal(stream?.format, 'matroska');
    assert.equal(stream?.publisher?.ingest, 'node');
    assert.deepEqual(stream?.audio, { codec: 'aac', sampleRate: 48000, channels: 2 });
    const probe = await ffprobe(gateway.rtspUrl(name));
    assert.deepEqual(
      probe.streams.map((s) => [s.codec_type, s.codec_name, s.width ?? null]),
      [['video', 'h264', 320], ['audio', 'aac', null]],
      probe.stderr,
    );
  }
  assert.equal((await getStream(gateway.http, 'raw/cam'))?.publisher?.ingest, 'native');
  const reader = new FfmpegReader(gateway.rtspUrl('mkv/untyped'), 'tcp');
  await reader.waitForFrames(60, 15_000);
  for (const proc of [typed, untyped, raw, reader.proc]) proc.kill('SIGKILL');
});

void test('a WebSocket push over HTTPS (wss) goes live, and a normal close ends it cleanly into the grace period', async () => {
  const file = readFileSync(clip);
  const ws = new WebSocket(`wss://127.0.0.1:${gateway.httpsPort}/push-ws/wss/cam`, ['pushgate.v1'], { rejectUnauthorized: false });
  const messages: { type: string }[] = [];
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary) messages.push(JSON.parse(data.toString('utf8')) as { type: string });
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  // The clip in 64 kB messages, faster than real time: the gateway paces it.
  for (let offset = 0; offset < file.byteLength; offset += 65536) ws.send(file.subarray(offset, offset + 65536));
  await waitFor(() => messages.some((m) => m.type === 'live'), 10_000, 'the live message');
  const stream = await getStream(gateway.http, 'wss/cam');
  assert.equal(stream?.state, 'live');
  assert.equal(stream?.format, 'matroska');
  const closed = new Promise<number>((resolve) => ws.once('close', resolve));
  ws.close(1000);
  assert.equal(await closed, 1000);
  // A clean end: the last of the clip plays out, then the stream waits for its publisher.
  await waitFor(async () => (await getStream(gateway.http, 'wss/cam'))?.state === 'grace', 10_000, 'the push to end');
  assert.ok(messages.some((m) => m.type === 'publishing'));
});
