// Fuzzing the RTSP port: malformed and oversized requests, binary garbage, interleaved '$'
// frames with absurd lengths, and clients that hang up mid-request or mid-SETUP/PLAY. The
// gateway must not crash or grow without bound, a new reader must still be served at once, and a
// reader that was watching loses nothing.
//
// Deterministic: the seed is printed, and PUSHGATE_FUZZ_SEED=<seed> replays a run.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { seededRandom } from '../unit/helpers/random';
import { getStream } from './helpers/clients';
import { Gateway } from './helpers/gateway';
import { MediaDir } from './helpers/media';
import { stopAll, waitFor } from './helpers/processes';
import { rawExchange, type RawExchange } from './helpers/raw-http';
import { RtspClient } from './helpers/rtsp-client';
import { Witness } from './helpers/witness';

const SEED = Number(process.env.PUSHGATE_FUZZ_SEED ?? Date.now() % 1_000_000);
/** How long a fuzz request waits for an answer or a close. */
const WAIT_MS = 1500;

let gateway: Gateway;
let media: MediaDir;
let witness: Witness;
const random = seededRandom(SEED);

before(async () => {
  console.log(`RTSP fuzz seed ${SEED} (replay with PUSHGATE_FUZZ_SEED=${SEED})`);
  media = new MediaDir();
  const clip = await media.clip({ file: 'main.mkv', codec: 'h264', seconds: 10, width: 320, height: 240 });
  gateway = await Gateway.start(['--rtsp-threads', '4']);
  witness = await Witness.ofNewStream(gateway, clip, 'main');
});

after(async () => {
  witness?.close();
  if (gateway) await gateway.stop();
  await stopAll();
  media?.remove();
});

function randomBuffer(length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(random() * 256);
  return out;
}

const url = (path = 'main'): string => `rtsp://127.0.0.1:${gateway.rtspPort}/${path}`;

/** Sends each case on its own connection, a few at a time; returns what came back. */
async function send(cases: { what: string; pieces: (string | Buffer)[]; abortAfter?: boolean }[]): Promise<(RawExchange & { what: string })[]> {
  const results: (RawExchange & { what: string })[] = [];
  for (let i = 0; i < cases.length; i += 8) {
    results.push(
      ...(await Promise.all(cases.slice(i, i + 8).map(async (c) => ({ what: c.what, ...(await rawExchange(gateway.rtspPort, { pieces: c.pieces, abortAfter: c.abortAfter, waitMs: WAIT_MS })) })))),
    );
    assert.ok(gateway.proc.running, `pushgate died after: ${cases.slice(i, i + 8).map((c) => c.what).join('; ')}\n${gateway.logTail()}`);
  }
  return results;
}

/** A new reader is served at once: DESCRIBE of the live stream answers 200 quickly. */
async function assertNewReaderServed(what: string): Promise<void> {
  const client = await RtspClient.connect('127.0.0.1', gateway.rtspPort);
  try {
    const describe = await client.describe('main', 3000);
    assert.equal(describe.status, 200, `a new reader's DESCRIBE after ${what}`);
  } finally {
    client.close();
  }
}

function summary(results: readonly (RawExchange & { what: string })[]): string {
  return results.map((r) => `${r.what}: ${r.status || (r.closedByServer ? 'closed' : 'no answer')}`).join('\n');
}

void test('malformed and oversized requests get an error status or a close, and nothing else changes', async () => {
  const rssBefore = gateway.rssBytes();
  const results = await send([
    { what: 'a 1 MB header line', pieces: [`DESCRIBE ${url()} RTSP/1.0\r\nCSeq: 1\r\nX-Big: ${'a'.repeat(1024 * 1024)}\r\n\r\n`] },
    { what: '4 MB of small headers', pieces: [`DESCRIBE ${url()} RTSP/1.0\r\nCSeq: 1\r\n`, 'X-H: v\r\n'.repeat(512 * 1024), '\r\n'] },
    { what: 'a huge CSeq', pieces: [`OPTIONS ${url()} RTSP/1.0\r\nCSeq: 99999999999999999999999999\r\n\r\n`] },
    { what: 'a negative CSeq', pieces: [`OPTIONS ${url()} RTSP/1.0\r\nCSeq: -5\r\n\r\n`] },
    { what: 'no CSeq', pieces: [`DESCRIBE ${url()} RTSP/1.0\r\n\r\n`] },
    { what: 'an unknown method', pieces: [`FROB ${url()} RTSP/1.0\r\nCSeq: 1\r\n\r\n`] },
    { what: 'a method with a NUL', pieces: [Buffer.from(`DESC\0RIBE ${url()} RTSP/1.0\r\nCSeq: 1\r\n\r\n`, 'latin1')] },
    { what: 'an empty request line', pieces: ['\r\nCSeq: 1\r\n\r\n'] },
    { what: 'HTTP instead of RTSP', pieces: ['GET / HTTP/1.1\r\nHost: x\r\n\r\n'] },
    { what: 'RTSP/9.9', pieces: [`DESCRIBE ${url()} RTSP/9.9\r\nCSeq: 1\r\n\r\n`] },
    { what: 'a URL that is not a URL', pieces: ['DESCRIBE not-a-url RTSP/1.0\r\nCSeq: 1\r\n\r\n'] },
    { what: 'a URL climbing out of the root', pieces: [`DESCRIBE ${url('../../../etc/passwd')} RTSP/1.0\r\nCSeq: 1\r\n\r\n`] },
    { what: 'a URL with a broken IPv6 host', pieces: ['DESCRIBE rtsp://[::1/main RTSP/1.0\r\nCSeq: 1\r\n\r\n'] },
    { what: 'a 200 kB URL', pieces: [`DESCRIBE ${url('a'.repeat(200_000))} RTSP/1.0\r\nCSeq: 1\r\n\r\n`] },
    { what: 'percent-escapes and NULs in the path', pieces: [`DESCRIBE ${url('%00%ff%2e%2e/%zz')} RTSP/1.0\r\nCSeq: 1\r\n\r\n`] },
    { what: 'SETUP of an unknown session', pieces: [`SETUP ${url('main/stream=0')} RTSP/1.0\r\nCSeq: 1\r\nSession: 12345678\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n`] },
    { what: 'SETUP with a garbage Transport', pieces: [`SETUP ${url('main/stream=0')} RTSP/1.0\r\nCSeq: 1\r\nTransport: ${'RTP/AVP;'.repeat(2000)}interleaved=999999-1\r\n\r\n`] },
    { what: 'SETUP of a track that does not exist', pieces: [`SETUP ${url('main/stream=99')} RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n`] },
    { what: 'PLAY without a session', pieces: [`PLAY ${url()} RTSP/1.0\r\nCSeq: 1\r\nRange: npt=abc-\r\n\r\n`] },
    { what: 'Content-Length 4294967295 without a body', pieces: [`SET_PARAMETER ${url()} RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 4294967295\r\n\r\n`] },
    { what: 'Content-Length 2^63 with a body', pieces: [`SET_PARAMETER ${url()} RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 9223372036854775807\r\n\r\n`, randomBuffer(64 * 1024)] },
    { what: 'Content-Length 100 MB with 1 MB of body', pieces: [`ANNOUNCE ${url()} RTSP/1.0\r\nCSeq: 1\r\nContent-Type: application/sdp\r\nContent-Length: 100000000\r\n\r\n`, randomBuffer(1024 * 1024)] },
    { what: 'a negative Content-Length', pieces: [`SET_PARAMETER ${url()} RTSP/1.0\r\nCSeq: 1\r\nContent-Length: -1\r\n\r\nabc`] },
    { what: 'ANNOUNCE of a garbage SDP', pieces: [`ANNOUNCE ${url('main')} RTSP/1.0\r\nCSeq: 1\r\nContent-Type: application/sdp\r\nContent-Length: 300\r\n\r\n`, randomBuffer(300)] },
    { what: 'RECORD', pieces: [`RECORD ${url()} RTSP/1.0\r\nCSeq: 1\r\nSession: 1\r\n\r\n`] },
  ]);
  console.log(summary(results));
  await assertNewReaderServed('malformed requests');
  await witness.assertIntact(gateway, 'malformed RTSP requests');
  const grownMb = (gateway.rssBytes() - rssBefore) / 1024 / 1024;
  console.log(`RSS grew ${grownMb.toFixed(1)} MB over the malformed requests`);
  assert.ok(grownMb < 100, `the gateway kept ${grownMb.toFixed(0)} MB after the malformed requests`);
});

void test('binary garbage and interleaved frames with absurd lengths change nothing', async () => {
  const garbage = Array.from({ length: 16 }, (_, i) => ({ what: `${1 << (i % 8 + 6)} random bytes #${i}`, pieces: [randomBuffer(1 << ((i % 8) + 6))] }));
  const frames = [
    { what: "'$' with length 65535 and 10 bytes", pieces: [Buffer.from([0x24, 0x00, 0xff, 0xff]), randomBuffer(10)] },
    { what: "'$' with length 0, 1000 times", pieces: [Buffer.alloc(4000).fill(Buffer.from([0x24, 0x01, 0x00, 0x00]))] },
    { what: "'$' frames on channel 255", pieces: [Buffer.concat(Array.from({ length: 200 }, () => Buffer.concat([Buffer.from([0x24, 0xff, 0x00, 0x40]), randomBuffer(64)])))] },
    { what: "'$' then a request", pieces: [Buffer.from([0x24, 0x00, 0x00, 0x04, 1, 2, 3, 4]), `OPTIONS ${url()} RTSP/1.0\r\nCSeq: 1\r\n\r\n`] },
    { what: "a request with a '$' frame inside its head", pieces: [`OPTIONS ${url()} RTSP/1.0\r\nCSeq: 1\r\n`, Buffer.from([0x24, 0x00, 0x00, 0x02, 9, 9]), '\r\n'] },
    { what: 'a fake RTCP receiver report on the witness channels', pieces: [Buffer.concat([Buffer.from([0x24, 0x01, 0x00, 0x20]), randomBuffer(32)])] },
  ];
  // Valid requests with random bytes overwritten.
  const mutated = Array.from({ length: 24 }, (_, i) => {
    const request = Buffer.from(`DESCRIBE ${url()} RTSP/1.0\r\nCSeq: ${i}\r\nAccept: application/sdp\r\nUser-Agent: fuzz\r\n\r\n`, 'latin1');
    const hits = 1 + Math.floor(random() * 6);
    for (let k = 0; k < hits; k++) request[Math.floor(random() * request.length)] = Math.floor(random() * 256);
    return { what: `a DESCRIBE with ${hits} random bytes #${i}`, pieces: [request] };
  });
  const results = await send([...garbage, ...frames, ...mutated]);
  console.log(summary(results.filter((r) => r.status !== 0)));
  await assertNewReaderServed('garbage');
  await witness.assertIntact(gateway, 'garbage and interleaved frames');
});

void test('clients that hang up mid-request, mid-SETUP and mid-PLAY leave nothing behind', async () => {
  const readersBefore = (await getStream(gateway.http, 'main'))!.readers;
  const partial = Array.from({ length: 10 }, (_, i) => {
    const request = `DESCRIBE ${url()} RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n\r\n`;
    return { what: `half a DESCRIBE #${i}`, pieces: [request.slice(0, 1 + Math.floor(random() * (request.length - 2)))], abortAfter: true };
  });
  await send(partial);
  // A real exchange cut at each step: after DESCRIBE, after SETUP, right after sending PLAY.
  for (let round = 0; round < 6; round++) {
    const client = await RtspClient.connect('127.0.0.1', gateway.rtspPort);
    const describe = await client.describe('main');
    assert.equal(describe.status, 200);
    const step = round % 3;
    if (step >= 1) assert.equal((await client.setupTcp(`${url()}/stream=0`, 0)).status, 200);
    if (step === 2) void client.play('main').catch(() => {});
    client.close();
  }
  // SETUP sent and the connection dropped before its answer.
  for (let round = 0; round < 4; round++) {
    await send([{ what: `SETUP then hang up #${round}`, pieces: [`SETUP ${url()}/stream=0 RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n`], abortAfter: true }]);
  }
  await assertNewReaderServed('abrupt disconnects');
  await witness.assertIntact(gateway, 'abrupt disconnects');
  // The cut readers' sessions end with their TCP connections: only the witness is counted.
  await waitFor(async () => (await getStream(gateway.http, 'main'))?.readers === readersBefore, 5000, `the readers of main to fall back to ${readersBefore}`, 200);
});
