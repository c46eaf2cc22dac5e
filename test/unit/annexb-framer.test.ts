import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isPushgateError } from '../../src/core/errors';
import type { VideoCodec } from '../../src/core/media';
import { AnnexBFramer, type AccessUnit } from '../../src/ingest/annexb-framer';
import { encode, joinNals, nalTypeOf, probePackets, splitNals, type EncodeOptions } from './helpers/media';
import { randomChunks } from './helpers/random';

function frameAll(codec: VideoCodec, chunks: readonly Uint8Array[], options?: ConstructorParameters<typeof AnnexBFramer>[1]): AccessUnit[] {
  const framer = new AnnexBFramer(codec, options);
  const units = chunks.flatMap((chunk, i) => framer.push(chunk, i));
  units.push(...framer.flush());
  assert.equal(framer.unitCount, units.length);
  return units;
}

function invalidMedia(pattern: RegExp): (err: unknown) => boolean {
  return (err) => isPushgateError(err) && err.code === 'INVALID_MEDIA' && pattern.test(err.message);
}

/** The NAL types of an AU, in order (empty NAL units inside an AU are passed through, not listed). */
function typesOf(codec: VideoCodec, unit: AccessUnit): number[] {
  return splitNals(unit.data)
    .filter((nal) => nal.payload.length > 0)
    .map((nal) => nalTypeOf(codec, nal.payload));
}

function startCode4(nal: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([0, 0, 0, 1]), nal]);
}

for (const codec of ['h264', 'h265'] as const) {
  const name = codec === 'h264' ? 'H.264' : 'H.265';
  const stream = (options: Omit<EncodeOptions, 'codec'> = {}): Buffer => encode({ codec, ...options });
  const spsType = codec === 'h264' ? 7 : 33;

  describe(`AnnexBFramer (${name})`, () => {
    it('returns one access unit per encoded frame, keyframes exactly at GOP starts', () => {
      const data = stream({ frames: 30, gop: 10 });
      const units = frameAll(codec, [data]);
      assert.equal(units.length, 30);
      assert.equal(units.filter((u) => u.keyframe).length, 3);
      assert.equal(units[0]?.keyframe, true);
    });

    it('agrees with ffmpeg\'s own parser on access unit count and keyframe flags', () => {
      const data = stream({ frames: 40, gop: 12 });
      const units = frameAll(codec, [data]);
      const packets = probePackets(codec, data);
      assert.deepEqual(
        units.map((u) => u.keyframe),
        packets.map((p) => p.keyframe),
      );
      if (codec === 'h264') {
        // ffmpeg's HEVC parser hands the zero_byte of a 4-byte start code to the previous packet, so sizes only match for H.264.
        assert.deepEqual(
          units.map((u) => u.data.length),
          packets.map((p) => p.size),
        );
      }
    });

    it('reproduces the input byte for byte when the access units are concatenated', () => {
      const data = stream();
      assert.deepEqual(Buffer.concat(frameAll(codec, [data]).map((u) => u.data)), data);
    });

    it('lists the parameter sets with 4-byte start codes and parses the track on every keyframe', () => {
      const units = frameAll(codec, [stream({ width: 1918, height: 1078, frames: 20, gop: 10 })]);
      for (const unit of units) {
        const expected = splitNals(unit.data)
          .filter((nal) => {
            const type = nalTypeOf(codec, nal.payload);
            return codec === 'h264' ? type === 7 || type === 8 : type >= 32 && type <= 34;
          })
          .map((nal) => startCode4(nal.payload));
        assert.deepEqual(unit.parameterSets, expected);
        assert.equal(unit.parameterSets.length > 0, unit.keyframe, 'the encoder repeats headers before each keyframe');
        if (unit.keyframe) {
          assert.deepEqual(unit.track, { kind: 'video', codec, width: 1918, height: 1078, frameRate: 25, profile: codec === 'h264' ? 'High@4.0' : 'Main@L4' });
        } else {
          assert.equal(unit.track, undefined);
        }
      }
      assert.equal(units[0]?.parameterSets.length, codec === 'h264' ? 2 : 3);
    });

    it('keeps pictures coded as several slices in one access unit', () => {
      const units = frameAll(codec, [stream({ params: 'slices=4', frames: 12 })]);
      assert.equal(units.length, 12);
      const vcl = typesOf(codec, units[5] as AccessUnit).filter((t) => (codec === 'h264' ? t >= 1 && t <= 5 : t < 32));
      assert.equal(vcl.length, 4);
    });

    it('starts each access unit at its access unit delimiter when the stream has them', () => {
      const bsf = codec === 'h264' ? 'h264_metadata=aud=insert' : 'hevc_metadata=aud=insert';
      const units = frameAll(codec, [stream({ args: ['-bsf:v', bsf], frames: 15 })]);
      assert.equal(units.length, 15);
      const aud = codec === 'h264' ? 9 : 35;
      for (const unit of units) {
        const types = typesOf(codec, unit);
        assert.equal(types[0], aud);
        assert.equal(types.filter((t) => t === aud).length, 1);
      }
    });

    it('gives byte-identical access units however the bytes are chunked', () => {
      const data = stream({ frames: 20 });
      const reference = frameAll(codec, [data]);
      for (const [seed, maxChunk] of [[1, 7], [2, 188], [3, 1500], [4, 65536], [5, 3]] as const) {
        const units = frameAll(codec, randomChunks(data, seed, maxChunk));
        assert.deepEqual(units.map((u) => u.data), reference.map((u) => u.data), `seed ${seed}, chunks up to ${maxChunk} bytes`);
        assert.deepEqual(units.map((u) => u.keyframe), reference.map((u) => u.keyframe));
        assert.deepEqual(units.map((u) => u.parameterSets), reference.map((u) => u.parameterSets));
        assert.deepEqual(units.map((u) => u.track), reference.map((u) => u.track));
      }
    });

    it('frames a small stream fed one byte at a time, returning each AU as soon as the next one starts', () => {
      const data = stream({ width: 64, height: 64, frames: 6 });
      const reference = frameAll(codec, [data]);
      const framer = new AnnexBFramer(codec);
      const units: AccessUnit[] = [];
      for (let i = 0; i < data.length; i++) {
        const done = framer.push(data.subarray(i, i + 1), i);
        for (const unit of done) {
          // The AU is complete once the first bytes of the next one have been seen, not later.
          const next = reference[units.length + 1];
          assert.ok(next, 'only the last AU waits for flush()');
          const nextStart = (unit.tag ?? 0) + unit.data.length; // AUs tile the stream
          assert.ok(i - nextStart < 8, `AU returned ${i - nextStart} bytes after the next one began`);
          units.push(unit);
        }
      }
      units.push(...framer.flush());
      assert.deepEqual(units.map((u) => u.data), reference.map((u) => u.data));
    });

    it('tags each access unit with the chunk in which its first byte arrived', () => {
      const data = stream({ frames: 20 });
      const chunks = randomChunks(data, 7, 900);
      const chunkStarts: number[] = [];
      chunks.reduce((offset, chunk) => (chunkStarts.push(offset), offset + chunk.length), 0);
      const units = frameAll(codec, chunks);
      let offset = 0;
      for (const unit of units) {
        const expected = chunkStarts.findLastIndex((start) => start <= offset);
        assert.equal(unit.tag, expected, `AU at byte ${offset}`);
        offset += unit.data.length;
      }
      assert.equal(frameAll(codec, [data.subarray(0, 100), data.subarray(100)])[0]?.tag, 0);
    });

    it('accepts 3-byte start codes and drops trailing zero bytes between NAL units', () => {
      const data = stream({ frames: 10 });
      const nals = splitNals(data).map((n) => n.payload);
      const reference = frameAll(codec, [data]);
      const threeByte = frameAll(codec, [joinNals(nals, 3)]);
      assert.equal(threeByte.length, 10);
      assert.deepEqual(
        threeByte.map((u) => splitNals(u.data).map((n) => n.payload)),
        reference.map((u) => splitNals(u.data).map((n) => n.payload)),
      );
      // trailing_zero_8bits after every NAL unit, 3-byte start codes, then trailing zeros at the end.
      const padded = Buffer.concat([...nals.flatMap((nal) => [Buffer.from([0, 0, 1]), nal, Buffer.alloc(5)])]);
      const units = frameAll(codec, randomChunks(padded, 9, 64));
      assert.equal(units.length, 10);
      for (const unit of units) assert.notEqual(unit.data[unit.data.length - 1], 0, 'an AU ends with its last NAL byte');
      assert.deepEqual(
        units.map((u) => splitNals(u.data).map((n) => n.payload)),
        reference.map((u) => splitNals(u.data).map((n) => n.payload)),
      );
    });

    it('skips a little leading garbage, like the tail of a NAL unit from a join mid-stream', () => {
      const data = stream({ frames: 10 });
      const garbage = Buffer.alloc(60_000, 0x5a);
      const units = frameAll(codec, randomChunks(Buffer.concat([garbage, data]), 11, 4096));
      assert.deepEqual(units.map((u) => u.data), frameAll(codec, [data]).map((u) => u.data));
    });

    it(`rejects input without a start code in the first 64 KiB as not ${name}`, () => {
      const text = Buffer.from('<html><body>this is not a video stream</body></html>\n'.repeat(2000));
      const message = new RegExp(`^no ${name.replace('.', '\\.')} start code in the first 65536 bytes: not an Annex-B ${name.replace('.', '\\.')} stream$`);
      assert.throws(() => frameAll(codec, [text]), invalidMedia(message));
      // Also when it trickles in: the limit is checked as bytes arrive, not only per chunk.
      const framer = new AnnexBFramer(codec);
      assert.throws(() => {
        for (const chunk of randomChunks(text, 13, 100)) framer.push(chunk);
      }, invalidMedia(message));
      assert.throws(() => framer.push(Buffer.from([0, 0, 1])), invalidMedia(message), 'a failed framer keeps failing');
    });

    it('honours a custom leading garbage limit', () => {
      const data = Buffer.concat([Buffer.alloc(101, 0xff), stream({ frames: 2 })]);
      assert.equal(frameAll(codec, [data], { maxLeadingGarbageBytes: 101 }).length, 2);
      assert.throws(() => frameAll(codec, [data], { maxLeadingGarbageBytes: 100 }), invalidMedia(/first 100 bytes/));
    });

    it('rejects an MPEG-TS stream pushed as raw video (its PES start code has forbidden_zero_bit set)', () => {
      const ts = stream({ frames: 5, mpegts: true });
      assert.equal(ts[0], 0x47, 'TS sync byte');
      assert.throws(() => frameAll(codec, [ts]), invalidMedia(/forbidden_zero_bit/));
    });

    it('rejects an access unit larger than maxUnitBytes, whole or still arriving', () => {
      const data = stream({ width: 640, height: 360, frames: 3 });
      const largest = Math.max(...frameAll(codec, [data]).map((u) => u.data.length));
      assert.equal(frameAll(codec, [data], { maxUnitBytes: largest }).length, 3);
      assert.throws(() => frameAll(codec, [data], { maxUnitBytes: largest - 1 }), invalidMedia(/access unit of more than/));
      const framer = new AnnexBFramer(codec, { maxUnitBytes: 1000 });
      assert.throws(() => {
        for (const chunk of randomChunks(data, 17, 300)) framer.push(chunk);
      }, invalidMedia(/more than 1000 bytes/));
    });

    it('rejects a start code followed by megabytes without another one, before flush()', () => {
      const framer = new AnnexBFramer(codec, { maxUnitBytes: 1 << 20 });
      framer.push(stream({ frames: 1 }));
      const noise = Buffer.alloc(64 * 1024, 0x7f);
      assert.throws(() => {
        for (let i = 0; i < 20; i++) framer.push(noise);
      }, invalidMedia(/NAL unit of more than 1048576 bytes/));
    });

    it('rejects a truncated SPS, naming the problem', () => {
      const nals = splitNals(stream({ frames: 2 })).map((n) => n.payload);
      const broken = nals.map((nal) => (nalTypeOf(codec, nal) === spsType ? nal.subarray(0, 6) : nal));
      assert.throws(() => frameAll(codec, [joinNals(broken)]), invalidMedia(new RegExp(`^invalid ${name.replace('.', '\\.')} SPS: bitstream ended early`)));
    });

    it('completes the last access unit on flush() and can frame PES-aligned units one by one', () => {
      const data = stream({ frames: 12 });
      const reference = frameAll(codec, [data]);
      const framer = new AnnexBFramer(codec);
      const units = reference.flatMap((unit, i) => [...framer.push(unit.data, i), ...framer.flush()]);
      assert.deepEqual(units.map((u) => u.data), reference.map((u) => u.data));
      assert.deepEqual(units.map((u) => u.tag), reference.map((_, i) => i));
      assert.equal(framer.unitCount, 12);
      assert.deepEqual(framer.flush(), [], 'nothing is pending after a flush');
    });

    it('drops stray bytes between flushed units, up to the garbage limit', () => {
      const reference = frameAll(codec, [stream({ frames: 4 })]);
      const framer = new AnnexBFramer(codec, { maxLeadingGarbageBytes: 1000 });
      const units = reference.flatMap((unit) => [...framer.push(Buffer.alloc(900, 0xee)), ...framer.push(unit.data), ...framer.flush()]);
      assert.deepEqual(units.map((u) => u.data), reference.map((u) => u.data));
      assert.throws(
        () => framer.push(Buffer.alloc(1004, 0xee)),
        invalidMedia(new RegExp(`more than 1000 bytes without an ${name.replace('.', '\\.')} start code after a flushed access unit`)),
      );
    });

    it('carries parameter sets flushed on their own into the next picture', () => {
      const nals = splitNals(stream({ frames: 2 })).map((n) => n.payload);
      const firstVcl = nals.findIndex((nal) => (codec === 'h264' ? nalTypeOf(codec, nal) <= 5 : nalTypeOf(codec, nal) < 32));
      const headers = joinNals(nals.slice(0, firstVcl));
      const rest = joinNals(nals.slice(firstVcl));
      const framer = new AnnexBFramer(codec);
      assert.deepEqual(framer.push(headers, 1), []);
      assert.deepEqual(framer.flush(), [], 'headers alone are not a picture');
      const units = [...framer.push(rest, 2), ...framer.flush()];
      assert.equal(units.length, 2);
      assert.deepEqual(units[0]?.data, Buffer.concat([headers, frameAll(codec, [rest])[0]?.data ?? Buffer.alloc(0)]));
      assert.equal(units[0]?.tag, 1);
      assert.equal(units[0]?.keyframe, true);
      assert.equal(units[0]?.parameterSets.length, codec === 'h264' ? 2 : 3);
      assert.equal(units[0]?.track?.width, 320);
    });
  });
}

describe('AnnexBFramer details', () => {
  it('treats a NAL unit with forbidden_zero_bit set as invalid media', () => {
    const framer = new AnnexBFramer('h264');
    assert.throws(() => framer.push(Buffer.from([0, 0, 0, 1, 0x85, 0x88, 0, 0, 1, 0x09, 0xf0])), invalidMedia(/^H\.264 NAL unit at byte 4 has forbidden_zero_bit set/));
  });

  it('keeps interlaced (MBAFF) frames one access unit each', () => {
    const units = frameAll('h264', [encode({ codec: 'h264', width: 720, height: 576, frames: 10, params: 'interlaced=1' })]);
    assert.equal(units.length, 10);
    assert.equal(units[0]?.track?.height, 576);
  });

  it('opens a new H.265 access unit only for base-layer NAL units', () => {
    // Layer-1 slices and SEI after a base-layer picture belong to the same access unit (multi-layer HEVC).
    const idr = [0x26, 0x01, 0x80, 0x11];
    const layer1Slice = [0x26, 0x09, 0x80, 0x22];
    const layer1Sei = [0x4e, 0x09, 0x01, 0x80];
    const trail = [0x02, 0x01, 0x80, 0x33];
    const bytes = joinNals([idr, layer1Sei, layer1Slice, trail, layer1Slice].map((b) => Buffer.from(b)));
    const units = frameAll('h265', [bytes]);
    assert.deepEqual(units.map((u) => typesOf('h265', u)), [[19, 39, 19], [1, 19]]);
    assert.deepEqual(units.map((u) => u.keyframe), [true, true]);
  });

  it('does not split an H.264 picture at data partitions B and C', () => {
    // Partition A opens the picture (first_mb_in_slice 0); B and C start with slice_id, which may also be ue(0).
    const bytes = joinNals([[0x22, 0x80], [0x23, 0x80], [0x24, 0x80], [0x22, 0x80], [0x23, 0x80]].map((b) => Buffer.from(b)));
    assert.deepEqual(frameAll('h264', [bytes]).map((u) => typesOf('h264', u)), [[2, 3, 4], [2, 3]]);
  });

  it('ignores empty NAL units between start codes, even when bytes arrive one at a time', () => {
    // 00 00 01 00 00 01: the zeros after the first start code are the next start code, not a
    // NAL header (in H.265, 00 00 would read as a TRAIL_N slice and split the picture).
    const cases = [
      ['h264', [0, 0, 1, 0, 0, 0, 1, 0x06, 0x05, 0x80, 0, 0, 1, 0, 0, 1, 0x65, 0x88, 0, 0, 1, 0x41, 0x9a, 0, 0, 1], [[6, 5], [1]]],
      ['h265', [0, 0, 1, 0, 0, 0, 1, 0x26, 0x01, 0xaf, 0, 0, 1, 0, 0, 1, 0x02, 0x01, 0x00, 0x11, 0, 0, 0, 1, 0x02, 0x01, 0x80, 0, 0, 1], [[19, 1], [1]]],
    ] as const;
    for (const [codec, bytes, expected] of cases) {
      const data = Buffer.from(bytes);
      for (const chunks of [[data], randomChunks(data, 1, 1)]) {
        const units = frameAll(codec, chunks);
        assert.deepEqual(units.map((u) => typesOf(codec, u)), expected, codec);
        assert.deepEqual(units[0]?.data.subarray(0, 4), Buffer.from([0, 0, 0, 1]), 'the empty NAL is not part of the first AU');
      }
    }
  });

  it('does not emit anything for an empty push or an empty flush', () => {
    const framer = new AnnexBFramer('h265');
    assert.deepEqual(framer.push(new Uint8Array(0)), []);
    assert.deepEqual(framer.flush(), []);
    assert.equal(framer.unitCount, 0);
  });
});
