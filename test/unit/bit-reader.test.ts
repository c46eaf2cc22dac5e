import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isPushgateError } from '../../src/core/errors';
import { BitReader, unescapeRbsp } from '../../src/ingest/bit-reader';
import { BitWriter, escapeRbsp } from './helpers/media';
import { seededRandom as prng } from './helpers/random';

function endedEarly(err: unknown): boolean {
  return isPushgateError(err) && err.code === 'INVALID_MEDIA' && /^bitstream ended early/.test(err.message);
}

describe('BitReader', () => {
  it('reads bits most significant first, across byte boundaries', () => {
    const r = new BitReader(Uint8Array.of(0b1010_0110, 0b0111_1000, 0xff));
    assert.equal(r.readBit(), 1);
    assert.equal(r.readBit(), 0);
    assert.equal(r.readBits(3), 0b100);
    assert.equal(r.readBits(9), 0b1_1001_1110);
    assert.equal(r.bitsLeft, 10);
    assert.equal(r.readBits(0), 0);
    assert.equal(r.readBits(10), 0b00_1111_1111);
    assert.equal(r.bitsLeft, 0);
  });

  it('returns 32-bit values as non-negative numbers', () => {
    const r = new BitReader(Uint8Array.of(0xff, 0xff, 0xff, 0xfe, 0x80, 0, 0, 0x01));
    assert.equal(r.readBits(32), 0xfffffffe);
    assert.equal(r.readBits(32), 0x80000001);
  });

  it('decodes Exp-Golomb ue(v) and se(v) codes', () => {
    // 1 | 010 | 011 | 00100 | 00111 -> ue 0, 1, 2, 3, 6
    const ue = new BitReader(Uint8Array.of(0b1010_0110, 0b0100_0011, 0b1000_0000));
    assert.deepEqual([ue.readUE(), ue.readUE(), ue.readUE(), ue.readUE(), ue.readUE()], [0, 1, 2, 3, 6]);
    // codeNum 0, 1, 2, 3, 4 -> se 0, 1, -1, 2, -2
    const se = new BitReader(Uint8Array.of(0b1010_0110, 0b0100_0010, 0b1000_0000));
    assert.deepEqual([se.readSE(), se.readSE(), se.readSE(), se.readSE(), se.readSE()], [0, 1, -1, 2, -2]);
  });

  it('reads the longest Exp-Golomb codes: 32 leading zeros give values up to 2^33 - 2', () => {
    const w = new BitWriter().ue(2 ** 32 - 1).ue(2 ** 33 - 2).se(-(2 ** 32 - 1));
    const r = new BitReader(w.bytes());
    assert.equal(r.readUE(), 2 ** 32 - 1);
    assert.equal(r.readUE(), 2 ** 33 - 2);
    assert.equal(r.readSE(), -(2 ** 32 - 1));
  });

  it('rejects an Exp-Golomb code with more than 32 leading zeros as invalid media', () => {
    const r = new BitReader(new Uint8Array(8));
    assert.throws(() => r.readUE(), (err) => isPushgateError(err) && err.code === 'INVALID_MEDIA' && /Exp-Golomb/.test(err.message));
  });

  it('reads back whatever the writer wrote (random fields)', () => {
    const random = prng(42);
    const fields: { kind: 'u' | 'ue' | 'se'; n: number; value: number }[] = [];
    const w = new BitWriter();
    for (let i = 0; i < 2000; i++) {
      const pick = random();
      if (pick < 0.4) {
        const n = 1 + Math.floor(random() * 32);
        const value = Math.floor(random() * 2 ** n);
        w.u(n, value);
        fields.push({ kind: 'u', n, value });
      } else if (pick < 0.7) {
        const value = Math.floor(random() ** 4 * 100_000);
        w.ue(value);
        fields.push({ kind: 'ue', n: 0, value });
      } else {
        const value = Math.round((random() - 0.5) * 2000);
        w.se(value);
        fields.push({ kind: 'se', n: 0, value });
      }
    }
    const r = new BitReader(w.bytes());
    for (const field of fields) {
      const read = field.kind === 'u' ? r.readBits(field.n) : field.kind === 'ue' ? r.readUE() : r.readSE();
      assert.equal(read, field.value, `${field.kind}(${field.n})`);
    }
    assert.ok(r.bitsLeft < 8);
  });

  it('skips bits, counting what is left', () => {
    const r = new BitReader(new Uint8Array(10));
    r.skipBits(45);
    assert.equal(r.bitsLeft, 35);
    assert.equal(r.position, 45);
    r.skipBits(35);
    assert.equal(r.bitsLeft, 0);
  });

  it('throws INVALID_MEDIA when reading or skipping past the end, without moving', () => {
    const r = new BitReader(Uint8Array.of(0xab));
    r.skipBits(5);
    assert.throws(() => r.readBits(4), endedEarly);
    assert.throws(() => r.skipBits(4), endedEarly);
    assert.equal(r.readBits(3), 0b011, 'a failed read consumes nothing');
    assert.throws(() => r.readBit(), endedEarly);
    assert.throws(() => new BitReader(Uint8Array.of(0x00, 0x01)).readUE(), endedEarly, 'a ue(v) cut short');
  });

  it('refuses bit counts outside 0..32 as a programming error', () => {
    const r = new BitReader(new Uint8Array(8));
    assert.throws(() => r.readBits(33), RangeError);
    assert.throws(() => r.readBits(-1), RangeError);
    assert.throws(() => r.skipBits(1.5), RangeError);
  });
});

describe('unescapeRbsp', () => {
  it('removes the 0x03 after each 00 00 and nothing else', () => {
    const nal = Uint8Array.of(0x67, 0, 0, 3, 1, 0x03, 0, 3, 0, 0, 3, 0, 0, 3, 3, 0, 0, 3);
    assert.deepEqual(Buffer.from(unescapeRbsp(nal)), Buffer.from([0x67, 0, 0, 1, 0x03, 0, 3, 0, 0, 0, 0, 3, 0, 0]));
  });

  it('does not treat the escape byte itself as one of the next two zeros', () => {
    // 00 00 03 | 00 03: the second 03 follows a single zero, so it is data.
    assert.deepEqual(Buffer.from(unescapeRbsp(Uint8Array.of(0, 0, 3, 0, 3))), Buffer.from([0, 0, 0, 3]));
  });

  it('returns the input itself when there is nothing to remove', () => {
    const nal = Uint8Array.of(0x67, 0x64, 0, 0x1f, 0xac, 0, 0, 4);
    assert.equal(unescapeRbsp(nal), nal);
    assert.equal(unescapeRbsp(new Uint8Array(0)).length, 0);
  });

  it('undoes escaping of random RBSP rich in zeros', () => {
    const random = prng(7);
    for (let round = 0; round < 200; round++) {
      const rbsp = Uint8Array.from({ length: 1 + Math.floor(random() * 300) }, () => (random() < 0.6 ? 0 : Math.floor(random() * 4)));
      // An RBSP never ends in 00 (rbsp_stop_one_bit), which is what makes the escaping reversible.
      rbsp[rbsp.length - 1] = 0x80;
      assert.deepEqual(Buffer.from(unescapeRbsp(escapeRbsp(rbsp))), Buffer.from(rbsp));
    }
  });
});
