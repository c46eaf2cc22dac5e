// A reader that stops reading (its TCP window full) must not slow the publisher or the other
// readers. gst-rtsp-server 1.22 queues packets for a TCP reader that cannot take them in a
// per-transport backlog, and drops the reader from the stream once that backlog holds more than
// 10 s of media and more than 100 packets (rtsp-stream-transport.c, MAX_BACKLOG_DURATION and
// MAX_BACKLOG_SIZE; rtsp-stream.c logs "Dropping slow transport"). Its session gets no
// keep-alives once its socket is full and is reaped after --session-timeout (here that comes
// first); its connection is then closed --session-timeout later (pgsessions closes connections
// that have had no session that long), which the reader sees once it has read what was queued
// for it.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { getStream } from './helpers/clients';
import { Gateway } from './helpers/gateway';
import { MediaDir } from './helpers/media';
import { sleep, stopAll, waitFor } from './helpers/processes';
import { Witness } from './helpers/witness';

const SESSION_TIMEOUT_S = 3;
/** Backlog bound (10 s) + time to fill the socket buffers + session timeout + reaping, with margin. */
const DROP_BOUND_MS = 10_000 + 8_000 + SESSION_TIMEOUT_S * 1000 + 3_000;
/** From the session being reaped to its connection being closed: post-session-timeout counts whole seconds. */
const CLOSE_BOUND_MS = (SESSION_TIMEOUT_S + 2) * 1000 + 1_000;

let gateway: Gateway;
let media: MediaDir;
let witness: Witness;
const sockets: net.Socket[] = [];

before(async () => {
  media = new MediaDir();
  const clip = await media.clip({ file: 'cam.mkv', codec: 'h264', seconds: 60, width: 640, height: 360, bitrate: '4M' });
  gateway = await Gateway.start(['--session-timeout', String(SESSION_TIMEOUT_S)]);
  witness = await Witness.ofNewStream(gateway, clip, 'cam');
});

after(async () => {
  witness?.close();
  for (const socket of sockets) socket.destroy();
  if (gateway) await gateway.stop();
  await stopAll();
  media?.remove();
});

/** DESCRIBE, SETUP (interleaved) and PLAY by hand, then never read again. */
async function stalledReader(name: string): Promise<{ socket: net.Socket; closed: Promise<void>; drained: () => number }> {
  const socket = net.connect({ host: '127.0.0.1', port: gateway.rtspPort });
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let text = '';
  const onData = (chunk: Buffer): void => {
    text += chunk.toString('latin1');
  };
  socket.on('data', onData);
  const ask = async (lines: string[]): Promise<string> => {
    text = '';
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    await waitFor(() => /\r\n\r\n/.test(text) && (!/Content-Length: (\d+)/i.test(text) || text.split('\r\n\r\n')[1]!.length >= Number(/Content-Length: (\d+)/i.exec(text)![1])), 5000, 'an RTSP response');
    assert.match(text, /^RTSP\/1\.0 200/, text);
    return text;
  };
  const url = `rtsp://127.0.0.1:${gateway.rtspPort}/${name}`;
  const sdp = await ask([`DESCRIBE ${url} RTSP/1.0`, 'CSeq: 1', 'Accept: application/sdp']);
  const control = /a=control:(stream=\d+)/.exec(sdp)![1]!;
  const setup = await ask([`SETUP ${url}/${control} RTSP/1.0`, 'CSeq: 2', 'Transport: RTP/AVP/TCP;unicast;interleaved=0-1']);
  const session = /Session: ([^;\r\n]+)/.exec(setup)![1]!;
  socket.write(`PLAY ${url} RTSP/1.0\r\nCSeq: 3\r\nSession: ${session}\r\nRange: npt=0.000-\r\n\r\n`);
  await sleep(200);
  socket.off('data', onData);
  socket.pause(); // stop reading: the kernel buffers fill and the window closes
  let drained = 0;
  socket.on('data', (chunk: Buffer) => {
    drained += chunk.length;
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, closed, drained: () => drained };
}

let stalled: Awaited<ReturnType<typeof stalledReader>> | undefined;

void test('a stalled TCP reader slows nobody and is dropped within the documented bound', async () => {
  const startedAt = performance.now();
  stalled = await stalledReader('cam');
  const framesAtStart = (await getStream(gateway.http, 'cam'))!.framesIn;
  // The stalled reader goes from the stream's readers once its session is reaped.
  await waitFor(async () => (await getStream(gateway.http, 'cam'))?.readers === 1, DROP_BOUND_MS, 'the stalled reader to be dropped', 500);
  const droppedAfterMs = performance.now() - startedAt;
  assert.ok(!witness.client.closed, `the witness was dropped, not the stalled reader (after ${droppedAfterMs.toFixed(0)} ms)`);
  // The publisher went on at its real rate (30 fps) meanwhile.
  const frames = (await getStream(gateway.http, 'cam'))!.framesIn - framesAtStart;
  const expected = (droppedAfterMs / 1000) * 30;
  assert.ok(frames > expected * 0.9, `the publisher was slowed: ${frames} frames in ${droppedAfterMs.toFixed(0)} ms (expected about ${expected.toFixed(0)})`);
  await witness.assertIntact(gateway, 'a stalled reader');
  console.log(`stalled reader dropped after ${(droppedAfterMs / 1000).toFixed(1)} s (bound ${DROP_BOUND_MS / 1000} s)`);
});

// Regression test. The reaped reader's last packets are still queued for it, and gst-rtsp-server
// sends them when it reads again. If anything still holds that reader's session media past its
// session (node-gtk wrappers did, when sessions were counted from JavaScript), the media's
// transport is still in the stream and its keep-alive touches the freed session
// (gst_rtsp_session_touch CRITICALs): the heap is corrupted, and the witness's connection was
// closed at that very moment, or the process crashed.
void test('the dropped reader drains, then its connection is closed; the other readers keep playing', async () => {
  assert.ok(stalled, 'the previous test left a stalled reader');
  stalled.socket.resume();
  const ended = await Promise.race([stalled.closed.then(() => true), sleep(CLOSE_BOUND_MS).then(() => false)]);
  assert.ok(ended, `the dropped reader's connection was not closed within ${CLOSE_BOUND_MS} ms of it reading again`);
  assert.ok(stalled.drained() > 0, 'the dropped reader got none of what was queued for it');
  await sleep(1000);
  assert.ok(!witness.client.closed, `the witness's connection was closed with the dropped reader's\n${gateway.logTail()}`);
  await witness.assertIntact(gateway, 'the dropped reader draining');
  const criticals = gateway.otherOutput.filter((line) => /CRITICAL/.test(line));
  assert.deepEqual(criticals, [], 'GStreamer reported a broken invariant');
});
