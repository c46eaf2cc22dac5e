import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BodyDecoder } from '../../src/http/body-decoder';

/** Decodes `wire` fed in pieces of `step` bytes: the body, and whether it was complete. */
function decodeInSteps(contentLength: number | undefined, wire: Buffer, step: number): { body: Buffer; done: boolean } {
  const decoder = new BodyDecoder(contentLength);
  const out: Uint8Array[] = [];
  for (let i = 0; i < wire.byteLength; i += step) out.push(...decoder.decode(wire.subarray(i, i + step)));
  return { body: Buffer.concat(out), done: decoder.done };
}

const chunked = (...parts: (string | Buffer)[]): Buffer => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p)));

void test('a chunked body decodes to the same bytes however its reads are split', () => {
  const a = Buffer.from([0, 0, 0, 1, 0x67, 0x0d, 0x0a, 0x30]);
  const b = Buffer.alloc(300, 0xab);
  const wire = chunked('8\r\n', a, '\r\n', '12C;name=value\r\n', b, '\r\n', '0\r\nX-Trailer: 1\r\n\r\n');
  for (const step of [1, 2, 3, 7, 64, wire.byteLength]) {
    const { body, done } = decodeInSteps(undefined, wire, step);
    assert.deepEqual(body, Buffer.concat([a, b]), `reads of ${step} bytes`);
    assert.ok(done, `complete, reads of ${step} bytes`);
  }
});

void test('bytes after the last chunk are not the body; a body cut short is not done', () => {
  const { body, done } = decodeInSteps(undefined, chunked('3\r\nabc\r\n0\r\n\r\nPOST / HTTP/1.1\r\n'), 5);
  assert.equal(body.toString(), 'abc');
  assert.ok(done);
  const cut = decodeInSteps(undefined, chunked('3\r\nabc\r\n5\r\nde'), 4);
  assert.equal(cut.body.toString(), 'abcde');
  assert.equal(cut.done, false);
});

void test('bare LF line ends are accepted, as by Node and the native ingest', () => {
  const { body, done } = decodeInSteps(undefined, chunked('3\nabc\n0\n\n'), 1);
  assert.equal(body.toString(), 'abc');
  assert.ok(done);
});

void test('a Content-Length body ends at its length', () => {
  const wire = Buffer.from('0123456789extra');
  for (const step of [1, 4, wire.byteLength]) {
    const { body, done } = decodeInSteps(10, wire, step);
    assert.equal(body.toString(), '0123456789');
    assert.ok(done);
  }
  assert.ok(new BodyDecoder(0).done, 'an empty body is complete at once');
});

void test('broken chunk framing is BAD_REQUEST naming what is wrong', () => {
  const cases: [string, RegExp][] = [
    ['zz\r\n', /bad chunk size line "zz"/],
    ['\r\n', /bad chunk size line ""/],
    ['3\r\nabcX', /CRLF expected after chunk data/],
    ['3\r\nabc\rX', /CRLF expected after chunk data/],
    ['10000000000000\r\n', /bad chunk size line/],
    [`1;${'x'.repeat(5000)}`, /chunk size line longer than 4096 bytes/],
    [`0\r\n${'X-A: b\r\n'.repeat(3000)}`, /trailers longer than/],
  ];
  for (const [wire, message] of cases) {
    assert.throws(
      () => decodeInSteps(undefined, Buffer.from(wire, 'latin1'), 1),
      (err: Error & { code?: string }) => err.code === 'BAD_REQUEST' && /^malformed chunked request body: /.test(err.message) && message.test(err.message),
      JSON.stringify(wire.slice(0, 30)),
    );
  }
  // Leading zeros do not make a size too long.
  assert.equal(decodeInSteps(undefined, chunked('00000000000000003\r\nabc\r\n0\r\n\r\n'), 3).body.toString(), 'abc');
});
