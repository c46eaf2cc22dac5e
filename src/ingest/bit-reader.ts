// Reading the bit-level syntax of H.264/H.265 parameter sets (ITU-T H.264 7.2, H.265 7.2).
// Parameter sets are parsed once per stream change, so clarity wins over speed here.

import { PushgateError } from '../core/errors';

/**
 * NAL payload -> RBSP: drops each emulation_prevention_three_byte (the 0x03 in 00 00 03).
 * Returns `nal` itself when there is nothing to drop, which is the common case for SPS.
 */
export function unescapeRbsp(nal: Uint8Array): Uint8Array {
  let out: Uint8Array | undefined;
  let written = 0;
  let copiedUpTo = 0;
  let zeros = 0;
  for (let i = 0; i < nal.length; i++) {
    const byte = nal[i] as number;
    if (zeros >= 2 && byte === 0x03) {
      // Copy lazily in runs: most NAL units have no escapes at all.
      out ??= new Uint8Array(nal.length);
      out.set(nal.subarray(copiedUpTo, i), written);
      written += i - copiedUpTo;
      copiedUpTo = i + 1;
      zeros = 0;
      continue;
    }
    zeros = byte === 0 ? zeros + 1 : 0;
  }
  if (!out) return nal;
  out.set(nal.subarray(copiedUpTo), written);
  written += nal.length - copiedUpTo;
  return out.subarray(0, written);
}

/** MSB-first reader over RBSP bytes. Reading past the end throws INVALID_MEDIA. */
export class BitReader {
  private readonly data: Uint8Array;
  private pos = 0;

  constructor(data: Uint8Array) {
    this.data = data;
  }

  get bitsLeft(): number {
    return this.data.length * 8 - this.pos;
  }

  /** Bits consumed so far. */
  get position(): number {
    return this.pos;
  }

  readBit(): number {
    this.need(1);
    const bit = ((this.data[this.pos >> 3] as number) >> (7 - (this.pos & 7))) & 1;
    this.pos++;
    return bit;
  }

  readFlag(): boolean {
    return this.readBit() === 1;
  }

  /** Unsigned u(n), 0 <= n <= 32. */
  readBits(n: number): number {
    if (!Number.isInteger(n) || n < 0 || n > 32) throw new RangeError(`readBits(${n}): n must be 0..32`);
    this.need(n);
    let value = 0;
    while (n > 0) {
      const offset = this.pos & 7;
      const available = 8 - offset;
      const take = available < n ? available : n;
      const bits = ((this.data[this.pos >> 3] as number) >> (available - take)) & ((1 << take) - 1);
      // Multiply rather than shift: 32-bit values must not turn negative.
      value = value * (1 << take) + bits;
      this.pos += take;
      n -= take;
    }
    return value;
  }

  /** Exp-Golomb ue(v), codes up to 32 leading zeros (values up to 2^33 - 2). */
  readUE(): number {
    let leadingZeros = 0;
    while (this.readBit() === 0) {
      leadingZeros++;
      if (leadingZeros > 32) throw new PushgateError('INVALID_MEDIA', 'Exp-Golomb code longer than 32 bits');
    }
    return 2 ** leadingZeros - 1 + this.readBits(leadingZeros);
  }

  /** Exp-Golomb se(v): 1, -1, 2, -2, ... for codeNum 1, 2, 3, 4, ... */
  readSE(): number {
    const k = this.readUE();
    if (k === 0) return 0; // not -0
    return k % 2 === 1 ? (k + 1) / 2 : -(k / 2);
  }

  skipBits(n: number): void {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`skipBits(${n}): n must be a non-negative integer`);
    this.need(n);
    this.pos += n;
  }

  private need(n: number): void {
    if (n > this.bitsLeft) {
      throw new PushgateError('INVALID_MEDIA', `bitstream ended early: needed ${n} more bits at bit ${this.pos}, ${this.bitsLeft} left`);
    }
  }
}
