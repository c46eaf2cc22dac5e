// Fuzzing the push endpoint: random bytes, real clips with bits flipped and ranges dropped or
// repeated, truncated streams, broken chunked framing and absurd lengths written over a raw
// socket. Every push must get a clear HTTP status with the JSON error body (or end cleanly);
// nothing may crash or hang; afterwards a reader that was watching another stream lost nothing,
// and no fuzzed stream outlives its grace period.
//
// Deterministic: the seed is printed, and PUSHGATE_FUZZ_SEED=<seed> replays a run.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { seededRandom } from '../unit/helpers/random';
import { CONTENT_TYPES, getStreams, request, type HttpResult, type PushFormat } from './helpers/clients';
import { Gateway } from './helpers/gateway';
import { MediaDir } from './helpers/media';
import { stopAll, waitFor } from './helpers/processes';
import { rawExchange, type RawExchange } from './helpers/raw-http';
import { Witness } from './helpers/witness';

const SEED = Number(process.env.PUSHGATE_FUZZ_SEED ?? Date.now() % 1_000_000);
const IDLE_TIMEOUT_MS = 1500;
const GRACE_MS = 1000;
/** A push must be answered within this (a clip is 1 s of media; the idle timeout; margin). */
const ANSWER_MS = 8000;
/** Pushes at once: below the per-address limit (20), with the witness's publisher. */
const PARALLEL = 8;

let gateway: Gateway;
let media: MediaDir;
let witness: Witness;
const clips = new Map<PushFormat, Buffer>();
const random = seededRandom(SEED);
let pushNo = 0;

before(async () => {
  console.log(`push fuzz seed ${SEED} (replay with PUSHGATE_FUZZ_SEED=${SEED})`);
  media = new MediaDir();
  const [main, h264, h265] = await Promise.all([
    media.clip({ file: 'main.mkv', codec: 'h264', seconds: 10, width: 320, height: 240 }),
    media.clip({ file: 'small.mkv', codec: 'h264', seconds: 1, width: 160, height: 120, gop: 10 }),
    media.clip({ file: 'small265.mkv', codec: 'h265', seconds: 1, width: 160, height: 120, gop: 10 }),
  ]);
  const [rawH264, rawH265, ts] = await Promise.all([media.remux(h264, 'small.h264', 'h264'), media.remux(h265, 'small.hevc', 'hevc'), media.remux(h264, 'small.ts', 'mpegts')]);
  clips.set('h264', readFileSync(rawH264));
  clips.set('hevc', readFileSync(rawH265));
  clips.set('mpegts', readFileSync(ts));
  gateway = await Gateway.start(['--idle-timeout', String(IDLE_TIMEOUT_MS), '--grace-period', String(GRACE_MS), '--header-timeout', '3000']);
  witness = await Witness.ofNewStream(gateway, main, 'main');
});

after(async () => {
  witness?.close();
  if (gateway) await gateway.stop();
  await stopAll();
  media?.remove();
});

const int = (below: number): number => Math.floor(random() * below);

function randomBuffer(length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = int(256);
  return out;
}

/** One mutation of a real clip: bits flipped, a range dropped or repeated, or the end cut off. */
function mutate(clip: Buffer): { data: Buffer; how: string } {
  const kind = int(4);
  if (kind === 0) {
    const data = Buffer.from(clip);
    const flips = 1 + int(40);
    for (let i = 0; i < flips; i++) data[int(data.length)]! ^= 1 << int(8);
    return { data, how: `${flips} bit flips` };
  }
  const start = int(clip.length);
  const length = 1 + int(Math.min(4000, clip.length - start));
  if (kind === 1) return { data: Buffer.concat([clip.subarray(0, start), clip.subarray(start + length)]), how: `${length} bytes dropped at ${start}` };
  if (kind === 2) {
    const range = clip.subarray(start, start + length);
    return { data: Buffer.concat([clip.subarray(0, start + length), range, range, clip.subarray(start + length)]), how: `${length} bytes at ${start} repeated` };
  }
  return { data: clip.subarray(0, start), how: `truncated at ${start} of ${clip.length}` };
}

function fuzzName(): string {
  return `fuzz/${++pushNo}`;
}

/** The answer to a push is 200 with a summary, or an error status with the JSON error body. */
function assertClearAnswer(result: { status: number; text: string }, what: string): void {
  assert.ok(result.status === 200 || (result.status >= 400 && result.status < 600), `${what}: HTTP ${result.status}`);
  let body: { error?: { code?: unknown; message?: unknown }; stream?: unknown };
  try {
    body = JSON.parse(result.text) as typeof body;
  } catch {
    assert.fail(`${what}: HTTP ${result.status} without a JSON body: ${JSON.stringify(result.text.slice(0, 200))}`);
  }
  if (result.status === 200) assert.equal(typeof body.stream, 'string', `${what}: 200 without a push summary`);
  else {
    assert.equal(typeof body.error?.code, 'string', `${what}: error without a code: ${result.text}`);
    assert.notEqual(result.status, 500, `${what}: 500 is a pushgate bug: ${result.text}`);
  }
}

async function pushAll(cases: { data: Buffer; format: PushFormat; how: string }[]): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  for (let i = 0; i < cases.length; i += PARALLEL) {
    await Promise.all(
      cases.slice(i, i + PARALLEL).map(async ({ data, format, how }) => {
        const name = fuzzName();
        const what = `${format} ${how} pushed to ${name} (seed ${SEED})`;
        let result: HttpResult;
        try {
          result = await request('POST', gateway.pushUrl(name), { headers: { 'content-type': CONTENT_TYPES[format] }, body: data, timeoutMs: ANSWER_MS });
        } catch (err) {
          assert.fail(`${what}: ${(err as Error).message}\n${gateway.logTail()}`);
        }
        assertClearAnswer(result, what);
        statuses.set(result.status, (statuses.get(result.status) ?? 0) + 1);
      }),
    );
    assert.ok(gateway.proc.running, `pushgate died\n${gateway.logTail()}`);
  }
  return statuses;
}

void test('random bytes of every declared format get a clear 4xx', async () => {
  const cases = (['h264', 'hevc', 'mpegts'] as const).flatMap((format) => [16, 1000, 50_000].map((size) => ({ data: randomBuffer(size), format, how: `${size} random bytes` })));
  const statuses = await pushAll(cases);
  console.log(`random bytes: ${JSON.stringify(Object.fromEntries(statuses))}`);
  assert.ok(!statuses.has(200), 'random bytes were accepted as media');
  await witness.assertIntact(gateway, 'random-byte pushes');
});

void test('mutated and truncated real clips get an answer and end (H.264, H.265, MPEG-TS)', async () => {
  const cases = (['h264', 'hevc', 'mpegts'] as const).flatMap((format) => Array.from({ length: 8 }, () => ({ format, ...mutate(clips.get(format)!) })));
  const statuses = await pushAll(cases);
  console.log(`mutated clips: ${JSON.stringify(Object.fromEntries(statuses))}`);
  await witness.assertIntact(gateway, 'mutated pushes');
});

/** A chunked push head for a raw socket. */
function chunkedHead(name: string, contentType = 'video/h264'): string {
  return `POST /push/${name} HTTP/1.1\r\nHost: fuzz\r\nContent-Type: ${contentType}\r\nTransfer-Encoding: chunked\r\n\r\n`;
}

/** What a raw request may get: a JSON error answer, or a clean end after the client hung up. */
function assertRawAnswer(result: RawExchange, what: string, expected?: number): void {
  assert.ok(result.closedByServer || result.status !== 0, `${what}: no answer and no close within the wait\n${result.text}`);
  assert.ok(result.status !== 0, `${what}: the connection closed without any answer`);
  if (expected !== undefined) assert.equal(result.status, expected, `${what}: ${result.text}`);
  assertClearAnswer({ status: result.status, text: result.body }, what);
}

function errorCode(result: RawExchange): string {
  return (JSON.parse(result.body) as { error?: { code: string } }).error?.code ?? 'ok';
}

void test('absurd chunk sizes and broken chunked framing get 400 (or an idle/abort answer), never a hang', async () => {
  const clip = clips.get('h264')!;
  const start = clip.subarray(0, 3000);
  const cases: { what: string; pieces: (string | Buffer)[]; expected?: number; endAfter?: boolean }[] = [
    { what: 'chunk size 0xFFFFFFFFFFFF then a few bytes', pieces: [`FFFFFFFFFFFF\r\n`, start] },
    { what: 'chunk size of 20 hex digits (overflow)', pieces: ['FFFFFFFFFFFFFFFFFFFF\r\n', start], expected: 400 },
    { what: 'negative chunk size', pieces: ['-10\r\n', start], expected: 400 },
    { what: 'non-hex chunk size', pieces: ['zz\r\n', start], expected: 400 },
    { what: 'chunk size line without CRLF', pieces: [`${start.length.toString(16)}`, start], expected: 400 },
    { what: 'chunk data without its trailing CRLF', pieces: ['10\r\n', Buffer.alloc(16, 0), 'XX10\r\n'], expected: 400 },
    { what: 'a valid chunk then garbage where the next size belongs', pieces: [`${start.length.toString(16)}\r\n`, start, '\r\n', randomBuffer(64)], expected: 400 },
    { what: 'chunk extension of 100 kB', pieces: [`10;${'x'.repeat(100_000)}\r\n`], expected: 400 },
    { what: 'a chunked body cut mid-chunk with FIN', pieces: [`${(start.length * 2).toString(16)}\r\n`, start], endAfter: true },
  ];
  for (const c of cases) {
    const name = fuzzName();
    const result = await rawExchange(gateway.httpPort, { pieces: [chunkedHead(name), ...c.pieces], endAfter: c.endAfter, waitMs: ANSWER_MS });
    assertRawAnswer(result, `${c.what} (${name})`, c.expected);
    console.log(`${c.what}: ${result.status} ${errorCode(result)}`);
  }
  await witness.assertIntact(gateway, 'broken chunked pushes');
});

void test('absurd Content-Length gets 400, or the push runs until idle or aborted', async () => {
  const start = clips.get('mpegts')!.subarray(0, 188 * 20);
  const head = (name: string, length: string, extra = ''): string =>
    `POST /push/${name} HTTP/1.1\r\nHost: fuzz\r\nContent-Type: video/mp2t\r\nContent-Length: ${length}\r\n${extra}\r\n`;
  const cases: { what: string; length: string; extra?: string; expected?: number; endAfter?: boolean; body?: boolean }[] = [
    { what: 'Content-Length beyond 64 bits', length: '99999999999999999999999', expected: 400 },
    { what: 'negative Content-Length', length: '-1', expected: 400 },
    { what: 'non-numeric Content-Length', length: '12abc', expected: 400 },
    { what: 'two different Content-Lengths', length: '10\r\nContent-Length: 20', expected: 400 },
    { what: 'Content-Length with Transfer-Encoding', length: '10', extra: 'Transfer-Encoding: chunked\r\n', expected: 400 },
    // Lengths the parser accepts: the push starts, then the publisher goes silent (408) or hangs up.
    { what: '1 TB Content-Length, then silence', length: String(1024 ** 4), body: true, expected: 408 },
    { what: 'Content-Length 2^53, then a half-close', length: String(2 ** 53), body: true, endAfter: true },
    { what: 'Content-Length 0', length: '0', expected: 422 },
  ];
  for (const c of cases) {
    const name = fuzzName();
    const result = await rawExchange(gateway.httpPort, { pieces: [head(name, c.length, c.extra), ...(c.body ? [start] : [])], endAfter: c.endAfter, waitMs: ANSWER_MS });
    assertRawAnswer(result, `${c.what} (${name})`, c.expected);
    console.log(`${c.what}: ${result.status} ${errorCode(result)}`);
  }
  await witness.assertIntact(gateway, 'absurd Content-Lengths');
});

void test('every fuzzed stream is gone within the grace period, and the gateway is healthy', async () => {
  await waitFor(async () => (await getStreams(gateway.http)).every((s) => !s.name.startsWith('fuzz/')), GRACE_MS + 3000, 'the fuzzed streams to end', 200);
  const healthz = await request('GET', `${gateway.http}/healthz`);
  assert.equal(healthz.status, 200);
  assert.equal((JSON.parse(healthz.text) as { status: string }).status, 'ok');
  await witness.assertIntact(gateway, 'the whole push fuzz');
  assert.equal(gateway.logs.filter((l) => (l.level ?? 0) >= 60).length, 0, 'a fatal log line');
});
