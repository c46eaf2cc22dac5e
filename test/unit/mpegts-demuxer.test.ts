import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { isPushgateError, type ErrorCode } from '../../src/core/errors';
import { parseAdtsHeader } from '../../src/ingest/adts';
import { MpegTsDemuxer, type TsPes } from '../../src/ingest/mpegts-demuxer';
import {
  FPS,
  PACKET,
  TsWriter,
  adtsFrameLengths,
  concat,
  demux,
  demuxChunks,
  encodeTs,
  fixedChunks,
  midPesPacket,
  packetAt,
  packetInfo,
  patSection,
  pmtSection,
  randomBytes,
  randomChunks,
  withoutPackets,
} from './helpers/ts-media';

const SECONDS = 2;
const FRAMES = SECONDS * FPS;
const TICKS_PER_FRAME = 90000 / FPS;
// ffmpeg's mpegts muxer defaults.
const VIDEO_PID = 0x100;
const AUDIO_PID = 0x101;

const h264Aac = (): Uint8Array => encodeTs({ video: 'h264', audio: 'aac', seconds: SECONDS });
const small = (): Uint8Array => encodeTs({ video: 'h264', audio: 'aac', seconds: 0.5, size: '160x90' });

/** A comparable digest of PES output: equal lists mean byte-identical payloads and timestamps. */
function summary(pes: readonly TsPes[]): string[] {
  return pes.map(
    (p) => `${p.kind} pts=${p.pts90k} dts=${p.dts90k} ${p.data.length}B ${createHash('sha1').update(p.data).digest('hex')}`,
  );
}

function ofKind(pes: readonly TsPes[], kind: TsPes['kind']): TsPes[] {
  return pes.filter((p) => p.kind === kind);
}

function throwsCode(fn: () => unknown, code: ErrorCode, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isPushgateError(err), `expected a PushgateError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (message) assert.match(err.message, message);
    return true;
  });
}

/** True when `part` is `whole` with some entries left out (order kept). */
function isSubsequence(part: readonly string[], whole: readonly string[]): boolean {
  let j = 0;
  for (const item of part) {
    while (j < whole.length && whole[j] !== item) j++;
    if (j === whole.length) return false;
    j++;
  }
  return true;
}

void describe('MpegTsDemuxer on ffmpeg output', () => {
  void it('detects the H.264 video and AAC audio of the program with their PIDs', () => {
    const { demuxer } = demux(h264Aac());
    assert.deepEqual(demuxer.program, {
      video: { pid: VIDEO_PID, codec: 'h264' },
      audio: { pid: AUDIO_PID, codec: 'aac' },
    });
  });

  void it('knows the program before any PES completes', () => {
    const demuxer = new MpegTsDemuxer();
    const data = h264Aac();
    // ffmpeg writes PAT and PMT in the first packets.
    assert.deepEqual(demuxer.push(data.subarray(0, 4 * PACKET)), []);
    assert.equal(demuxer.program?.video.codec, 'h264');
  });

  void it('returns one video PES per encoded frame, each starting with an Annex-B start code', () => {
    const video = ofKind(demux(h264Aac()).pes, 'video');
    assert.equal(video.length, FRAMES);
    for (const p of video) assert.deepEqual([...p.data.subarray(0, 4)], [0, 0, 0, 1]);
  });

  void it('reads video PTS that advance by 3000 ticks per frame at 30 fps, without DTS when there are no B-frames', () => {
    const video = ofKind(demux(h264Aac()).pes, 'video');
    for (let i = 1; i < video.length; i++) {
      assert.equal(video[i]!.pts90k! - video[i - 1]!.pts90k!, TICKS_PER_FRAME);
      assert.equal(video[i]!.dts90k, undefined);
    }
  });

  void it('reads DTS next to PTS when B-frames reorder pictures', () => {
    const video = ofKind(demux(encodeTs({ video: 'h264', audio: 'none', seconds: 1, bframes: 2 })).pes, 'video');
    assert.equal(video.length, FPS);
    assert.ok(video.some((p) => p.dts90k !== undefined && p.dts90k !== p.pts90k));
    // ffmpeg leaves DTS out where it equals PTS.
    const dts = video.map((p) => p.dts90k ?? p.pts90k!);
    for (let i = 1; i < dts.length; i++) assert.equal(dts[i]! - dts[i - 1]!, TICKS_PER_FRAME);
    for (const p of video) assert.ok(p.pts90k! >= (p.dts90k ?? p.pts90k!));
  });

  void it('returns audio PES made of whole ADTS frames with the encoded rate and a mono channel', () => {
    const audio = ofKind(demux(h264Aac()).pes, 'audio');
    assert.ok(audio.length > 0);
    let frames = 0;
    for (const p of audio) {
      assert.ok(p.pts90k !== undefined);
      frames += adtsFrameLengths(p.data, parseAdtsHeader).length;
      const header = parseAdtsHeader(p.data);
      assert.deepEqual([header?.sampleRate, header?.channels, header?.profile], [48000, 1, 1]); // 1 = AAC-LC
    }
    // 2 s of 1024-sample frames at 48 kHz, plus the encoder's priming frames.
    assert.ok(frames >= 93 && frames <= 97, `${frames} ADTS frames`);
    for (let i = 1; i < audio.length; i++) assert.ok(audio[i]!.pts90k! > audio[i - 1]!.pts90k!);
  });

  void it('reports two channels for stereo AAC', () => {
    const audio = ofKind(demux(encodeTs({ video: 'h264', audio: 'aac', channels: 2, seconds: 1 })).pes, 'audio');
    assert.ok(audio.length > 0);
    for (const p of audio) assert.equal(parseAdtsHeader(p.data)?.channels, 2);
  });

  void it('detects H.265 video and returns one PES per frame', () => {
    const { pes, demuxer } = demux(encodeTs({ video: 'h265', audio: 'aac', seconds: 1 }));
    assert.deepEqual(demuxer.program, { video: { pid: VIDEO_PID, codec: 'h265' }, audio: { pid: AUDIO_PID, codec: 'aac' } });
    const video = ofKind(pes, 'video');
    assert.equal(video.length, FPS);
    // x265 uses B-frames: decode order is what advances by a frame each PES.
    const dts = video.map((p) => p.dts90k ?? p.pts90k!);
    for (let i = 1; i < dts.length; i++) assert.equal(dts[i]! - dts[i - 1]!, TICKS_PER_FRAME);
    assert.ok(ofKind(pes, 'audio').length > 0);
  });

  void it('detects a video-only program and returns no audio', () => {
    const { pes, demuxer } = demux(encodeTs({ video: 'h264', audio: 'none', seconds: 1 }));
    assert.deepEqual(demuxer.program, { video: { pid: VIDEO_PID, codec: 'h264' } });
    assert.equal(ofKind(pes, 'video').length, FPS);
    assert.equal(ofKind(pes, 'audio').length, 0);
  });

  void it('ignores audio it cannot serve (MPEG audio) without an error', () => {
    const { pes, demuxer } = demux(encodeTs({ video: 'h264', audio: 'mp2', seconds: 1 }));
    assert.deepEqual(demuxer.program, { video: { pid: VIDEO_PID, codec: 'h264' } });
    assert.equal(ofKind(pes, 'audio').length, 0);
    assert.equal(ofKind(pes, 'video').length, FPS);
  });

  void it('counts every 188-byte packet', () => {
    const data = h264Aac();
    assert.equal(demux(data).demuxer.packetCount, data.length / PACKET);
  });

  void it('emits a PES that declares its length as soon as its last packet arrives, and unbounded video at the next PES or flush', () => {
    const data = small();
    const packets = packetInfo(data);
    // What ffmpeg writes: PES_packet_length 0 for video, the real length for audio.
    const demuxer = new MpegTsDemuxer();
    let audioSeen = 0;
    for (const info of packets) {
      const out = demuxer.push(packetAt(data, info.index));
      for (const p of out) {
        if (p.kind === 'audio') {
          audioSeen++;
          assert.equal(info.pid, AUDIO_PID, 'audio PES came out of its own last packet');
        } else {
          assert.ok(info.pid === VIDEO_PID && info.pusi, 'video PES came out when the next one started');
        }
      }
    }
    const rest = demuxer.flush();
    assert.ok(audioSeen > 0);
    assert.deepEqual(rest.map((p) => p.kind), ['video']);
  });
});

void describe('MpegTsDemuxer input handling', () => {
  void it('returns the same PES for any chunking of the input', () => {
    const data = h264Aac();
    const reference = summary(demux(data).pes);
    for (const [seed, maxChunk] of [[1, 7], [2, 190], [3, 1500], [4, 65536]] as const) {
      assert.deepEqual(summary(demuxChunks(randomChunks(data, seed, maxChunk)).pes), reference, `seed ${seed}, chunks <= ${maxChunk}`);
    }
    assert.deepEqual(summary(demuxChunks(fixedChunks(data, PACKET)).pes), reference, 'one packet per chunk');
  });

  void it('returns the same PES when fed one byte at a time', () => {
    const data = small();
    assert.deepEqual(summary(demuxChunks(fixedChunks(data, 1)).pes), summary(demux(data).pes));
  });

  void it('skips junk before the first packet', () => {
    const data = small();
    const reference = summary(demux(data).pes);
    const junk = randomBytes(5000, 7);
    assert.deepEqual(summary(demux(concat(junk, data)).pes), reference);
    assert.deepEqual(summary(demuxChunks(randomChunks(concat(junk, data), 8, 300)).pes), reference);
  });

  void it('is not fooled by a few 0x47 bytes at packet stride in the junk', () => {
    const data = small();
    const junk = randomBytes(1000, 9).map((b) => (b === 0x47 ? 0 : b));
    junk[10] = junk[10 + PACKET] = junk[10 + 2 * PACKET] = 0x47;
    assert.deepEqual(summary(demux(concat(junk, data)).pes), summary(demux(data).pes));
  });

  void it('rejects bytes that are not MPEG-TS with INVALID_MEDIA once 64 KiB hold no sync', () => {
    const demuxer = new MpegTsDemuxer();
    throwsCode(() => {
      for (const chunk of fixedChunks(randomBytes(200_000, 11), 4096)) demuxer.push(chunk);
    }, 'INVALID_MEDIA', /not an MPEG-TS stream/);
  });

  void it('rejects a short non-MPEG-TS input with INVALID_MEDIA at flush', () => {
    const demuxer = new MpegTsDemuxer();
    demuxer.push(new TextEncoder().encode('{"hello": "this is JSON, not video"}'));
    throwsCode(() => demuxer.flush(), 'INVALID_MEDIA', /0x47/);
  });

  void it('honours a smaller maxUnsyncedBytes', () => {
    const demuxer = new MpegTsDemuxer({ maxUnsyncedBytes: 1000 });
    throwsCode(() => demuxer.push(concat(randomBytes(3000, 12).map((b) => (b === 0x47 ? 0 : b)), small())), 'INVALID_MEDIA');
  });

  void it('throws TRUNCATED_MEDIA at flush when the input ends mid packet', () => {
    const data = small();
    const demuxer = new MpegTsDemuxer();
    demuxer.push(data.subarray(0, data.length - 100));
    throwsCode(() => demuxer.flush(), 'TRUNCATED_MEDIA', /88 of 188/);
  });

  void it('resynchronises after garbage mid-stream, dropping only the PES the garbage cut into', () => {
    const data = h264Aac();
    const reference = summary(demux(data).pes);
    const cut = Math.floor(data.length / PACKET / 2) * PACKET;
    const junk = randomBytes(3000, 13);
    const { pes, demuxer } = demux(concat(data.subarray(0, cut), junk, data.subarray(cut)));
    const got = summary(pes);
    assert.ok(isSubsequence(got, reference), 'everything returned is intact');
    assert.ok(demuxer.droppedPesCount >= 1 && demuxer.droppedPesCount <= 2, `dropped ${demuxer.droppedPesCount}`);
    assert.equal(got.length, reference.length - demuxer.droppedPesCount);
  });

  void it('gives up with INVALID_MEDIA when sync is lost for more than maxUnsyncedBytes', () => {
    const data = small();
    const cut = 20 * PACKET;
    const junk = randomBytes(70_000, 14).map((b) => (b === 0x47 ? 0 : b));
    throwsCode(() => demux(concat(data.subarray(0, cut), junk, data.subarray(cut))), 'INVALID_MEDIA', /sync lost/);
  });

  void it('drops a PES that lost a packet (continuity gap) and counts it', () => {
    const data = h264Aac();
    const reference = summary(demux(data).pes);
    const { pes, demuxer } = demux(withoutPackets(data, [midPesPacket(data, VIDEO_PID)]));
    assert.equal(demuxer.droppedPesCount, 1);
    assert.equal(ofKind(pes, 'video').length, FRAMES - 1);
    assert.ok(isSubsequence(summary(pes), reference));
  });

  void it('skips packets flagged with transport_error_indicator', () => {
    const data = h264Aac().slice();
    const index = midPesPacket(data, VIDEO_PID);
    data[index * PACKET + 1]! |= 0x80;
    const { pes, demuxer } = demux(data);
    // The flagged packet's payload is missing, so its PES is dropped rather than returned corrupt.
    assert.equal(demuxer.droppedPesCount, 1);
    assert.equal(ofKind(pes, 'video').length, FRAMES - 1);
  });

  void it('discards a duplicated packet (same continuity counter)', () => {
    const data = h264Aac();
    const index = midPesPacket(data, VIDEO_PID);
    const doubled = concat(data.subarray(0, (index + 1) * PACKET), packetAt(data, index), data.subarray((index + 1) * PACKET));
    const { pes, demuxer } = demux(doubled);
    assert.deepEqual(summary(pes), summary(demux(data).pes));
    assert.equal(demuxer.droppedPesCount, 0);
  });

  void it('rejects a PES larger than maxPesBytes with INVALID_MEDIA', () => {
    throwsCode(() => demuxChunks([h264Aac()], new MpegTsDemuxer({ maxPesBytes: 2000 })), 'INVALID_MEDIA', /exceeds 2000 bytes/);
  });
});

void describe('MpegTsDemuxer codec checks', () => {
  void it('rejects MPEG-2 video with UNSUPPORTED_CODEC naming the stream_type', () => {
    const data = encodeTs({ video: 'mpeg2video', audio: 'aac', seconds: 0.2 });
    throwsCode(() => demux(data), 'UNSUPPORTED_CODEC', /stream_type 0x02 \(MPEG-2 video\).*H\.264 or H\.265/);
  });

  void it('rejects MPEG-4 part 2 video with UNSUPPORTED_CODEC', () => {
    const data = encodeTs({ video: 'mpeg4', audio: 'none', seconds: 0.2 });
    throwsCode(() => demux(data), 'UNSUPPORTED_CODEC', /stream_type 0x10/);
  });

  void it('rejects a program without video with UNSUPPORTED_CODEC', () => {
    const data = encodeTs({ video: 'none', audio: 'aac', seconds: 0.2 });
    throwsCode(() => demux(data), 'UNSUPPORTED_CODEC', /no H\.264\/H\.265 video/);
  });
});

void describe('MpegTsDemuxer on hand-built packets', () => {
  const PMT_PID = 0x1000;
  const V = 0x44;
  const A = 0x45;

  function header(w: TsWriter, pmt: Uint8Array, pointer = 0): Uint8Array {
    return concat(w.section(0, patSection(PMT_PID)), w.section(PMT_PID, pmt, pointer));
  }

  void it('parses a PMT that spans two packets after a non-zero pointer_field', () => {
    const w = new TsWriter();
    // 300 bytes of program descriptors (tag 0xFF, private) push the PMT past one packet.
    const info = concat(Uint8Array.of(0xff, 148), new Uint8Array(148), Uint8Array.of(0xff, 148), new Uint8Array(148));
    const pmt = pmtSection([{ type: 0x24, pid: V }, { type: 0x0f, pid: A }], { programInfo: info });
    const data = header(w, pmt, 5);
    assert.equal(data.length, 3 * PACKET);
    const { demuxer } = demuxChunks(fixedChunks(data, 100));
    assert.deepEqual(demuxer.program, { video: { pid: V, codec: 'h265' }, audio: { pid: A, codec: 'aac' } });
  });

  void it('picks the first H.264/H.265 and AAC streams, passing over others in the PMT', () => {
    const w = new TsWriter();
    const pmt = pmtSection([
      { type: 0x06, pid: 0x50 }, // private data (e.g. subtitles)
      { type: 0x03, pid: 0x51 }, // MPEG audio
      { type: 0x02, pid: 0x52 }, // MPEG-2 video next to a supported one: not an error
      { type: 0x1b, pid: V },
      { type: 0x0f, pid: A },
      { type: 0x24, pid: 0x53 },
    ]);
    const { demuxer } = demux(header(w, pmt));
    assert.deepEqual(demuxer.program, { video: { pid: V, codec: 'h264' }, audio: { pid: A, codec: 'aac' } });
  });

  void it('ignores a PMT whose CRC does not match', () => {
    const w = new TsWriter();
    const bad = pmtSection([{ type: 0x02, pid: V }], { badCrc: true });
    const good = pmtSection([{ type: 0x1b, pid: V }]);
    const demuxer = new MpegTsDemuxer();
    // Null packets behind, because sync is only trusted once 4 packets are in.
    demuxer.push(concat(header(w, bad), w.nullPackets(4)));
    assert.equal(demuxer.program?.video.codec, undefined);
    demuxer.push(w.section(PMT_PID, good));
    assert.equal(demuxer.program?.video.codec, 'h264');
  });

  void it('reads 33-bit PTS/DTS, payloads across packets, adaptation stuffing and adaptation-only packets', () => {
    const w = new TsWriter();
    const pmt = pmtSection([{ type: 0x1b, pid: V }, { type: 0x0f, pid: A }]);
    const big = randomBytes(1000, 21);
    const data = concat(
      header(w, pmt),
      w.pes(V, 0xe0, big, { pts: 2 ** 33 - 1, dts: 2 ** 32 + 5, bounded: false }),
      w.adaptationOnly(V),
      w.pes(A, 0xc0, Uint8Array.of(1, 2, 3), { pts: 12345, bounded: true }),
      w.pes(V, 0xe0, Uint8Array.of(9), { bounded: false }),
    );
    const { pes, demuxer } = demuxChunks(randomChunks(data, 22, 100));
    assert.deepEqual(pes, [
      { kind: 'audio', data: Uint8Array.of(1, 2, 3), pts90k: 12345, dts90k: undefined },
      { kind: 'video', data: big, pts90k: 2 ** 33 - 1, dts90k: 2 ** 32 + 5 },
      { kind: 'video', data: Uint8Array.of(9), pts90k: undefined, dts90k: undefined },
    ]);
    assert.equal(demuxer.droppedPesCount, 0);
  });

  void it('accepts a counter jump announced by discontinuity_indicator', () => {
    const w = new TsWriter();
    const pmt = pmtSection([{ type: 0x1b, pid: V }]);
    const payload = randomBytes(300, 23);
    const packets = w.pes(V, 0xe0, payload, { pts: 0, bounded: false });
    // Mark the second (last) packet of the PES as a discontinuity and give it an unrelated counter.
    const second = packets.subarray(PACKET, 2 * PACKET);
    assert.equal(second[3]! & 0x20, 0x20, 'the packet has an adaptation field to flag');
    second[3] = (second[3]! & 0xf0) | ((second[3]! + 7) & 0x0f);
    second[5]! |= 0x80;
    const { pes, demuxer } = demux(concat(header(w, pmt), packets));
    assert.equal(demuxer.droppedPesCount, 0);
    assert.deepEqual(pes.map((p) => p.data), [payload]);
  });

  void it('drops a bounded PES cut short by the next PES start', () => {
    const w = new TsWriter();
    const pmt = pmtSection([{ type: 0x1b, pid: V }, { type: 0x0f, pid: A }]);
    const full = w.pes(A, 0xc0, randomBytes(500, 24), { pts: 0, bounded: true });
    // Lose the last packet, then patch the counters of what follows so no gap is visible.
    const cutShort = full.subarray(0, 2 * PACKET);
    const next = w.pes(A, 0xc0, Uint8Array.of(7), { pts: 3000, bounded: true });
    next[3] = (next[3]! & 0xf0) | ((cutShort[PACKET + 3]! + 1) & 0x0f);
    const { pes, demuxer } = demux(concat(header(w, pmt), cutShort, next));
    assert.deepEqual(pes.map((p) => [...p.data]), [[7]]);
    assert.equal(demuxer.droppedPesCount, 1);
  });
});
