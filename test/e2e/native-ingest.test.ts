// Raw H.264/H.265 pushes over plain HTTP are read by the native ingest (a thread per push, no
// JavaScript per byte): the same answers, summaries and media as a push Node reads, readers of
// a media rebuilt mid-push are fed too, and bad framing is refused like any bad request.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { CONTENT_TYPES, curlPushProc, curlResult, ffmpegPublisher, getStream, json, type PushSummary } from './helpers/clients';
import { releaseOpened } from './helpers/cleanup';
import { Gateway, type LogLine } from './helpers/gateway';
import { MediaDir } from './helpers/media';
import { waitFor } from './helpers/processes';
import { rawExchange } from './helpers/raw-http';
import { RtspClient, accessUnits } from './helpers/rtsp-client';

let gateway: Gateway;
let media: MediaDir;
let h264: string;
let h265: string;

before(async () => {
  media = new MediaDir();
  h264 = await media.remux(await media.clip({ file: 'n264.mkv', codec: 'h264', seconds: 3, width: 320, height: 240 }), 'n264.h264', 'h264');
  h265 = await media.remux(await media.clip({ file: 'n265.mkv', codec: 'h265', seconds: 3, width: 320, height: 240 }), 'n265.h265', 'hevc');
  gateway = await Gateway.start(['--grace-period', '200', '--log-level', 'debug']);
});

after(() => releaseOpened({ gateways: [gateway], media }));

const said = (stream: string, msg: string) => (line: LogLine) => line.stream === stream && line.msg === msg;

void test('a raw push is read natively, typed or not (its first bytes tell), with the same summary as Node\'s read; the API says which', async () => {
  const byNode = await Gateway.start(['--native-ingest', 'off']);
  try {
    for (const [file, type] of [[h264, CONTENT_TYPES.h264], [h265, CONTENT_TYPES.hevc]] as const) {
      const name = `parity-${type.replace('/', '-')}`;
      // curl -T sends a Content-Length body as fast as it can: Node reads several socket reads
      // at once unless told to stop, and every byte it read must go to the native reader.
      const variants = [
        ['typed', gateway, type, 'native'],
        ['untyped', gateway, '', 'native'],
        ['node', byNode, type, 'node'],
      ] as const;
      const summaries = await Promise.all(
        variants.map(async ([label, own, contentType, ingest]) => {
          const push = curlPushProc(file, own.pushUrl(`${name}-${label}`), contentType);
          const info = await waitFor(async () => {
            const stream = await getStream(own.http, `${name}-${label}`);
            return stream?.state === 'live' ? stream : undefined;
          }, 10_000, `${name}-${label} to go live`);
          assert.equal(info.publisher?.ingest, ingest, label);
          assert.equal(info.format, type === CONTENT_TYPES.h264 ? 'h264' : 'h265', label);
          await push.exited;
          const result = curlResult(push);
          assert.equal(result.status, 200, `${label}: ${result.body}`);
          return JSON.parse(result.body) as PushSummary;
        }),
      );
      for (const summary of summaries) {
        assert.equal(summary.bytes, summaries[2]!.bytes, 'the same body bytes');
        assert.equal(summary.frames, summaries[2]!.frames, 'the same access units');
        assert.ok(summary.durationMs >= 2500, `a 3 s clip sent at once plays in real time: ${summary.durationMs} ms`);
      }
    }
  } finally {
    await byNode.stop();
  }
});

void test('an untyped chunked push whose first bytes trickle in is handed over with every byte Node read', async () => {
  const name = 'trickle';
  const body = await readFile(h264);
  // The first chunks hold a byte or two of the start code, a size line comes in two pieces,
  // and the rest of the file follows as one chunk: Node must read several times to tell.
  const chunk = (bytes: Buffer): Buffer => Buffer.concat([Buffer.from(`${bytes.byteLength.toString(16)}\r\n`), bytes, Buffer.from('\r\n')]);
  const restSize = (body.byteLength - 3).toString(16);
  const pieces = [
    `POST /push/${name} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`,
    chunk(body.subarray(0, 1)),
    chunk(body.subarray(1, 3)),
    restSize.slice(0, 1),
    `${restSize.slice(1)}\r\n`,
    Buffer.concat([body.subarray(3), Buffer.from('\r\n0\r\n\r\n')]),
  ];
  const exchange = rawExchange(gateway.httpPort, { pieces, gapMs: 150, waitMs: 15_000 });
  const info = await waitFor(async () => {
    const stream = await getStream(gateway.http, name);
    return stream?.state === 'live' ? stream : undefined;
  }, 10_000, `${name} to go live`);
  assert.equal(info.publisher?.ingest, 'native');
  const answer = await exchange;
  assert.equal(answer.status, 200, answer.text);
  const summary = JSON.parse(answer.body) as PushSummary;
  assert.equal(summary.bytes, body.byteLength, 'every body byte counted, those Node read first included');
  assert.equal(summary.frames, 90, 'every access unit of the 3 s clip');
});

void test('untyped pushes that are not raw video stay with Node: bad framing is 400, unknown bytes 415, other streams unaffected', async () => {
  const name = 'untyped-bystander';
  const bystander = ffmpegPublisher(h264, gateway.pushUrl(name), 'h264', { contentType: false });
  try {
    await waitFor(async () => (await getStream(gateway.http, name))?.state === 'live', 10_000, `${name} to go live`);
    assert.equal((await getStream(gateway.http, name))?.publisher?.ingest, 'native', 'ffmpeg\'s untyped raw push');
    const head = (stream: string): string => `POST /push/${stream} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`;
    const framing = await rawExchange(gateway.httpPort, { pieces: [head('untyped-framing'), '4\r\n\x00\x00\x00\r\nnot-hex\r\n'], waitMs: 5000 });
    assert.equal(framing.status, 400, framing.text);
    assert.match(framing.body, /"BAD_REQUEST".*malformed chunked request body/);
    assert.ok(framing.closedByServer, 'the connection is closed after the answer');
    const unknown = await rawExchange(gateway.httpPort, { pieces: [head('untyped-json'), '11\r\n{"hello":"world"}\r\n'], waitMs: 5000 });
    assert.equal(unknown.status, 415, unknown.text);
    assert.match(unknown.body, /UNSUPPORTED_MEDIA_TYPE/);
    assert.equal(await getStream(gateway.http, 'untyped-framing'), undefined);
    assert.equal((await getStream(gateway.http, name))?.state, 'live');
  } finally {
    bystander.kill();
  }
});

for (const mode of ['off', 'watched'] as const) {
  void test(`with --fast-start ${mode}, the media rebuilt for a later reader is fed by the running native push`, async () => {
    const own = await Gateway.start(['--fast-start', mode, '--log-level', 'debug']);
    const name = `rebuild-${mode}`;
    const publisher = ffmpegPublisher(h264, own.pushUrl(name), 'h264');
    try {
      await waitFor(async () => (await getStream(own.http, name))?.state === 'live', 10_000, `${name} to go live`);
      assert.equal((await getStream(own.http, name))?.publisher?.ingest, 'native');
      // With `watched` the media is built for the first reader and then held: one round.
      for (let round = 1; round <= (mode === 'off' ? 2 : 1); round++) {
        const reader = await RtspClient.connect('127.0.0.1', own.rtspPort);
        try {
          await reader.playAll(name);
          await reader.waitForPackets(() => accessUnits(reader.rtp(), 'h264').some((unit) => unit.keyframe), 5000, `round ${round}: a keyframe`);
          await reader.teardown(name);
        } finally {
          reader.close();
        }
        if (mode === 'watched') break;
        // The media stops without readers; the native push notices when its appsrc refuses data.
        await own.waitForLog((l) => said(name, 'RTSP media stopped: no readers left')(l) && own.logs.filter(said(name, 'RTSP media stopped: no readers left')).length >= round, 10_000, `round ${round}: the media to stop`);
      }
      const stream = await getStream(own.http, name);
      assert.equal(stream?.state, 'live', 'the push went on throughout');
      assert.ok((stream?.framesIn ?? 0) >= 20, `frames counted: ${stream?.framesIn}`);
    } finally {
      publisher.kill();
      await own.stop();
    }
  });
}

void test('broken chunk framing on a native push is 400 BAD_REQUEST, other streams unaffected', async () => {
  const name = 'framing-bystander';
  const bystander = ffmpegPublisher(h264, gateway.pushUrl(name), 'h264');
  try {
    await waitFor(async () => (await getStream(gateway.http, name))?.state === 'live', 10_000, `${name} to go live`);
    const exchange = await rawExchange(gateway.httpPort, {
      pieces: [
        'POST /push/framing HTTP/1.1\r\nHost: x\r\nContent-Type: video/h264\r\nTransfer-Encoding: chunked\r\n\r\n',
        '4\r\n\x00\x00\x00\x01\r\nnot-hex\r\n',
      ],
      waitMs: 5000,
    });
    assert.equal(exchange.status, 400, exchange.text);
    assert.equal(json<{ error: { code: string; message: string } }>({ status: exchange.status, headers: {}, text: exchange.body, elapsedMs: 0 }).error.code, 'BAD_REQUEST');
    assert.match(exchange.body, /chunk/);
    assert.ok(exchange.closedByServer, 'the connection is closed after the answer');
    assert.equal((await getStream(gateway.http, name))?.state, 'live');
  } finally {
    bystander.kill();
  }
});

void test('a native push whose publisher vanishes mid-body ends like a dropped one: readers wait out the grace period', async () => {
  const name = 'native-drop';
  const push = curlPushProc(h264, gateway.pushUrl(name), CONTENT_TYPES.h264, ['--limit-rate', '40k']);
  await waitFor(async () => (await getStream(gateway.http, name))?.state === 'live', 10_000, `${name} to go live`);
  push.kill('SIGKILL');
  await gateway.waitForLog((l) => l.stream === name && l.msg === 'push failed' && l.code === 'PUSH_ABORTED', 5000, 'the push to end as aborted');
  await gateway.waitForLog(said(name, 'publisher gone: waiting for it to come back'), 2000, 'the grace period');
});
