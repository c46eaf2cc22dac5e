import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { sniffFormat } from '../../src/ingest/format-sniffer';

function encode(args: string[]): Buffer {
  return execFileSync('ffmpeg', ['-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-frames:v', '5', ...args, '-'], {
    maxBuffer: 64 * 1024 * 1024,
  });
}

void test('what ffmpeg sends for -f h264, -f hevc and -f mpegts is recognised from its first bytes', () => {
  assert.equal(sniffFormat(encode(['-c:v', 'libx264', '-f', 'h264'])), 'h264');
  assert.equal(sniffFormat(encode(['-c:v', 'libx264', '-bsf:v', 'h264_metadata=aud=insert', '-f', 'h264'])), 'h264');
  assert.equal(sniffFormat(encode(['-c:v', 'libx265', '-x265-params', 'log-level=error', '-f', 'hevc'])), 'h265');
  assert.equal(sniffFormat(encode(['-c:v', 'libx264', '-f', 'mpegts'])), 'mpegts');
});

void test('a head too short to decide asks for more bytes', () => {
  assert.equal(sniffFormat(Uint8Array.of(0, 0)), 'more');
  assert.equal(sniffFormat(Uint8Array.of(0x47, 0, 0)), 'more');
  assert.equal(sniffFormat(Uint8Array.of(0, 0, 0, 1)), 'more');
});

void test('bytes that are none of the supported formats are not recognised', () => {
  assert.equal(sniffFormat(Buffer.from('{"hello":"world"}')), undefined);
  assert.equal(sniffFormat(Buffer.concat([Buffer.from('GIF89a'), Buffer.alloc(1000, 7)])), undefined, 'starts with 0x47 like TS, but no sync pattern');
  assert.equal(sniffFormat(Uint8Array.of(0, 0, 0, 1, 0x65, 0x88)), undefined, 'a slice first is not how a stream starts');
});
