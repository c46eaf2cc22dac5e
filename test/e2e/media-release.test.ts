// When a stream ends for good its RTSP media is unprepared at once (its pipeline stopped, fast
// start's packet log freed), whichever way its reader left: a media kept prepared after its
// stream is the memory a publish/unpublish churn would pile up.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CONTENT_TYPES, curlPushProc, getStream } from './helpers/clients';
import { Gateway, type LogLine } from './helpers/gateway';
import { MediaDir } from './helpers/media';
import { waitFor } from './helpers/processes';
import { RtspClient } from './helpers/rtsp-client';
import { releaseOpened } from './helpers/cleanup';

/** The media must be unprepared within this of its release (a timer checks once a second). */
const UNPREPARED_WITHIN_MS = 2500;

let gateway: Gateway;
let media: MediaDir;
let clip: string;

before(async () => {
  media = new MediaDir();
  const mkv = await media.clip({ file: 'short.mkv', codec: 'h264', seconds: 2, width: 320, height: 240 });
  clip = await media.remux(mkv, 'short.h264', 'h264');
  gateway = await Gateway.start(['--grace-period', '300', '--log-level', 'debug']);
});

after(() => releaseOpened({ gateways: [gateway], media }));

const said = (stream: string, msg: string) => (line: LogLine) => line.stream === stream && line.msg === msg;

type Leave = 'teardown' | 'close' | 'stay';

for (const leave of ['teardown', 'close', 'stay'] as const satisfies readonly Leave[]) {
  void test(`a TCP reader that ${leave === 'stay' ? 'stays to the end' : leave === 'close' ? 'drops its connection' : 'sends TEARDOWN'}: the media is unprepared as soon as the stream is released`, async () => {
    const name = `release-${leave}`;
    const push = curlPushProc(clip, gateway.pushUrl(name), CONTENT_TYPES.h264);
    await waitFor(async () => (await getStream(gateway.http, name))?.state === 'live', 10_000, `${name} to go live`);
    const reader = await RtspClient.connect('127.0.0.1', gateway.rtspPort);
    reader.keepPackets = false;
    try {
      await reader.playAll(name);
      await reader.waitForPackets(() => reader.packetCount >= 10, 5000, '10 RTP packets');
      if (leave === 'teardown') await reader.teardown(name);
      if (leave !== 'stay') reader.close();
      await push.exited;

      const released = await gateway.waitForLog(said(name, 'RTSP media released'), 10_000, `${name}'s media to be released`);
      const unprepared = await gateway.waitForLog(said(name, 'RTSP media unprepared'), UNPREPARED_WITHIN_MS + 2000, `${name}'s media to be unprepared`);
      const gapMs = Date.parse(String(unprepared.time)) - Date.parse(String(released.time));
      assert.ok(gapMs <= UNPREPARED_WITHIN_MS, `unprepared ${gapMs} ms after its release`);
      assert.equal(gateway.logs.filter(said(name, 'RTSP media still prepared long after its stream was released: something holds it')).length, 0);
      // And its memory is handed back to the system, in the same pass.
      const at = gateway.logs.indexOf(unprepared);
      await gateway.waitForLog((l) => l.msg === 'memory trimmed' && gateway.logs.indexOf(l) > at, 2000, `memory to be trimmed after ${name}'s media was unprepared`);
      // The pipeline itself is freed only with the wrappers JavaScript held of it: V8 is asked
      // to collect (at most every 5 s), and memory is trimmed again after it.
      const collected = await gateway.waitForLog(
        (l) => l.msg === 'collecting garbage: stopped pipelines are freed with their wrappers' && gateway.logs.indexOf(l) > at,
        7000,
        `a garbage collection after ${name}'s media was unprepared`,
      );
      await gateway.waitForLog((l) => l.msg === 'memory trimmed' && gateway.logs.indexOf(l) > gateway.logs.indexOf(collected), 2000, 'memory to be trimmed after the collection');
    } finally {
      reader.close();
    }
  });
}

void test('with no reader left when its publisher goes, the media is unprepared at once; a publisher back within the grace period gets a new one', async () => {
  const graceful = await Gateway.start(['--grace-period', '8000', '--log-level', 'debug']);
  try {
    const name = 'comeback';
    const first = curlPushProc(clip, graceful.pushUrl(name), CONTENT_TYPES.h264);
    await waitFor(async () => (await getStream(graceful.http, name))?.state === 'live', 10_000, `${name} to go live`);
    const reader = await RtspClient.connect('127.0.0.1', graceful.rtspPort);
    await reader.playAll(name);
    await reader.waitForPackets(() => reader.packetCount >= 10, 5000, '10 RTP packets');
    await reader.teardown(name);
    reader.close();
    await first.exited;
    await graceful.waitForLog(said(name, 'RTSP media unprepared'), 4000, `${name}'s media to be unprepared while the stream waits for its publisher`);
    assert.equal((await getStream(graceful.http, name))?.state, 'grace');

    const again = curlPushProc(clip, graceful.pushUrl(name), CONTENT_TYPES.h264);
    await waitFor(async () => (await getStream(graceful.http, name))?.state === 'live', 10_000, `${name} to be live again`);
    const next = await RtspClient.connect('127.0.0.1', graceful.rtspPort);
    try {
      await next.playAll(name);
      await next.waitForPackets(() => next.packetCount >= 10, 5000, 'RTP packets from the returning publisher');
    } finally {
      next.close();
      again.kill('SIGKILL');
    }
  } finally {
    await graceful.stop();
  }
});
