// Incremental MPEG-TS demuxer (ISO/IEC 13818-1): finds the program's H.264/H.265 video and AAC
// audio and hands back whole PES payloads with their 90 kHz timestamps. Built for many concurrent
// multi-Mbit/s pushes, so the per-packet path allocates nothing: payload ranges are remembered and
// copied once per PES.

import { PushgateError } from '../core/errors';
import type { VideoCodec } from '../core/media';

export interface TsProgram {
  readonly video: { readonly pid: number; readonly codec: VideoCodec };
  readonly audio?: { readonly pid: number; readonly codec: 'aac' };
}

export interface TsPes {
  readonly kind: 'video' | 'audio';
  /** The PES payload: Annex-B bytes for video, ADTS frames for audio. */
  readonly data: Uint8Array;
  readonly pts90k?: number; // 33-bit values as found in the PES header
  readonly dts90k?: number;
}

export interface MpegTsDemuxerOptions {
  /** Largest PES accepted before the stream is rejected (default 8 MiB). */
  readonly maxPesBytes?: number;
  /** Most bytes skipped while looking for packet sync before the stream is rejected (default 64 KiB). */
  readonly maxUnsyncedBytes?: number;
}

const PACKET = 188;
const SYNC = 0x47;
// Sync bytes required at 188-byte stride before a position is trusted: a lone 0x47 is common in
// payload, four in a row by chance are ~1 in 4e9.
const SYNC_CHECKS = 4;
const MAX_SECTION = 4096; // PSI sections are at most 1024 (PAT/PMT) or 4096 (private) bytes

const VIDEO_CODECS: ReadonlyMap<number, VideoCodec> = new Map([
  [0x1b, 'h264'],
  [0x24, 'h265'],
]);
const OTHER_VIDEO: ReadonlyMap<number, string> = new Map([
  [0x01, 'MPEG-1 video'],
  [0x02, 'MPEG-2 video'],
  [0x10, 'MPEG-4 part 2 video'],
  [0x1f, 'H.264 SVC'],
  [0x20, 'H.264 MVC'],
  [0x21, 'JPEG 2000 video'],
  [0x32, 'JPEG XS video'],
  [0x33, 'H.266/VVC video'],
  [0x42, 'AVS video'],
  [0xd1, 'Dirac video'],
  [0xea, 'VC-1 video'],
]);
const STREAM_TYPE_AAC_ADTS = 0x0f;

/** Reassembly state of one elementary stream's PES packets. */
interface PesStream {
  readonly kind: 'video' | 'audio';
  readonly pid: number;
  /** Last continuity_counter seen, -1 before the first packet. */
  cc: number;
  active: boolean;
  /** Order in which PES were started, so flush emits them in stream order. */
  seq: number;
  // The PES so far as (buffer, start, end) ranges into the pushed chunks: no per-packet objects.
  bufs: Uint8Array[];
  starts: number[];
  ends: number[];
  size: number;
  /** Whole PES size from PES_packet_length; 0 = unbounded (ends at the next PUSI); -1 = not read yet. */
  expected: number;
}

/** Reassembly state of one PID carrying PSI sections (PAT or PMT). */
interface SectionStream {
  readonly pid: number;
  buf: Uint8Array;
  len: number;
  collecting: boolean;
  cc: number;
  /** CRC of the last section acted on: repeats (every ~100 ms) are skipped without parsing. */
  lastCrc: number;
}

export class MpegTsDemuxer {
  private readonly maxPesBytes: number;
  private readonly maxUnsyncedBytes: number;

  private synced = false;
  private everSynced = false;
  private bytesIn = 0;
  /** Bytes discarded since sync was last held. */
  private skipped = 0;
  // While unsynced, the bytes that may start a sync run but need the next chunk to tell.
  private readonly search = new Uint8Array(SYNC_CHECKS * PACKET);
  private searchLen = 0;
  // A packet split across chunks is completed here; a fresh buffer each time since PES ranges point into it.
  private carry: Uint8Array | undefined;
  private carryLen = 0;

  private readonly pat: SectionStream = newSectionStream(0);
  private pmt: SectionStream | undefined;
  private programNumber = -1;
  private currentProgram: TsProgram | undefined;
  private video: PesStream | undefined;
  private audio: PesStream | undefined;
  private pesSeq = 0;

  private out: TsPes[] = [];
  private packets = 0;
  private dropped = 0;

  constructor(options?: MpegTsDemuxerOptions) {
    this.maxPesBytes = options?.maxPesBytes ?? 8 * 1024 * 1024;
    this.maxUnsyncedBytes = options?.maxUnsyncedBytes ?? 64 * 1024;
  }

  /** Known once the first PMT was parsed; follows later PMT versions. */
  get program(): TsProgram | undefined {
    return this.currentProgram;
  }

  /** TS packets processed (after sync), including ones skipped as errored or uninteresting. */
  get packetCount(): number {
    return this.packets;
  }

  /** PES abandoned because packets were lost (continuity gap, sync loss) or they were malformed. */
  get droppedPesCount(): number {
    return this.dropped;
  }

  /**
   * Feed bytes as they arrive (any chunking); returns PES packets completed by this chunk, in stream order.
   * The chunk is referenced (not copied) until the PES it carries completes: don't reuse it.
   */
  push(chunk: Uint8Array): TsPes[] {
    const out: TsPes[] = [];
    this.out = out;
    this.bytesIn += chunk.length;
    let off = 0;
    while (off < chunk.length) off = this.synced ? this.feed(chunk, off) : this.hunt(chunk, off, false);
    return out;
  }

  /** End of input: returns the PES in progress; throws TRUNCATED_MEDIA if the input ended mid TS packet. */
  flush(): TsPes[] {
    const out: TsPes[] = [];
    this.out = out;
    if (!this.synced && this.searchLen > 0) this.hunt(new Uint8Array(0), 0, true);
    if (!this.everSynced && this.bytesIn > 0) throw this.noSync(this.skipped + this.searchLen);
    // Trailing junk after a sync loss carries nothing usable: the PES in progress were already dropped.
    this.searchLen = 0;
    if (this.carryLen > 0) {
      const have = this.carryLen;
      this.carry = undefined;
      this.carryLen = 0;
      throw new PushgateError('TRUNCATED_MEDIA', `MPEG-TS input ended mid packet: last packet has ${have} of ${PACKET} bytes`);
    }
    const open = [this.video, this.audio].filter((s): s is PesStream => s !== undefined && s.active);
    open.sort((a, b) => a.seq - b.seq);
    for (const s of open) this.complete(s);
    return out;
  }

  // ---- packet sync ----

  /**
   * Process synced input from `off`, keeping a trailing partial packet in `carry`. Returns where
   * sync was lost, or d.length.
   */
  private feed(d: Uint8Array, off: number): number {
    if (this.carryLen > 0) {
      const carry = this.carry!;
      const need = PACKET - this.carryLen;
      if (d.length - off < need) {
        carry.set(d.subarray(off), this.carryLen);
        this.carryLen += d.length - off;
        return d.length;
      }
      carry.set(d.subarray(off, off + need), this.carryLen);
      off += need;
      this.carry = undefined;
      this.carryLen = 0;
      this.packet(carry, 0);
    }
    const n = d.length;
    while (off + PACKET <= n) {
      if (d[off] !== SYNC) {
        this.loseSync();
        return off;
      }
      this.packet(d, off);
      off += PACKET;
    }
    if (off < n) {
      if (d[off] !== SYNC) {
        this.loseSync();
        return off;
      }
      this.carry = new Uint8Array(PACKET);
      this.carry.set(d.subarray(off));
      this.carryLen = n - off;
    }
    return n;
  }

  private loseSync(): void {
    // The packet before the loss may have been cut short and spliced with what follows, so nothing
    // assembled so far can be trusted.
    if (this.video?.active) this.drop(this.video);
    if (this.audio?.active) this.drop(this.audio);
    this.synced = false;
  }

  /**
   * Look for a position with SYNC_CHECKS sync bytes at packet stride, in the undecided bytes kept from
   * earlier chunks followed by d[off..]. At end of input (`final`) the bytes that exist must agree and
   * hold at least one whole packet. Returns where synced input resumes in d, or d.length.
   */
  private hunt(d: Uint8Array, off: number, final: boolean): number {
    const tail = this.search;
    const tailLength = this.searchLen;
    const total = tailLength + (d.length - off);
    const at = (i: number): number => (i < tailLength ? tail[i]! : d[off + i - tailLength]!);
    let i = 0;
    for (;;) {
      while (i < total && at(i) !== SYNC) i++;
      if (i >= total) {
        this.searchLen = 0;
        this.skip(total);
        return d.length;
      }
      let verdict: 'sync' | 'no' | 'wait' = 'sync';
      for (let k = 1; k < SYNC_CHECKS; k++) {
        const p = i + k * PACKET;
        if (p >= total) {
          verdict = !final ? 'wait' : i + PACKET <= total ? 'sync' : 'no';
          break;
        }
        if (at(p) !== SYNC) {
          verdict = 'no';
          break;
        }
      }
      if (verdict === 'no') {
        i++;
        continue;
      }
      this.skip(i);
      if (verdict === 'wait') {
        // Less than SYNC_CHECKS packets remain from i, so this fits the fixed search buffer.
        if (i < tailLength) {
          tail.copyWithin(0, i, tailLength);
          tail.set(d.subarray(off), tailLength - i);
        } else {
          tail.set(d.subarray(off + i - tailLength));
        }
        this.searchLen = total - i;
        return d.length;
      }
      this.synced = true;
      this.everSynced = true;
      this.skipped = 0;
      this.searchLen = 0;
      if (i >= tailLength) return off + i - tailLength;
      // Sync starts in the kept bytes. Every packet start among them was verified, so feeding them
      // (a copy: PES ranges will point into it) cannot lose sync; a partial packet lands in carry.
      this.feed(tail.slice(i, tailLength), 0);
      return off;
    }
  }

  private skip(bytes: number): void {
    this.skipped += bytes;
    if (this.skipped > this.maxUnsyncedBytes) throw this.noSync(this.skipped);
  }

  private noSync(bytes: number): PushgateError {
    const limit = Math.min(bytes, this.maxUnsyncedBytes);
    return new PushgateError(
      'INVALID_MEDIA',
      this.everSynced
        ? `MPEG-TS sync lost: no run of 0x47 sync bytes at 188-byte packet stride in ${limit} bytes`
        : `no MPEG-TS sync byte (0x47) pattern found in ${limit} bytes: not an MPEG-TS stream`,
    );
  }

  // ---- packets ----

  private packet(d: Uint8Array, o: number): void {
    this.packets++;
    const b1 = d[o + 1]!;
    if (b1 & 0x80) return; // transport_error_indicator: the demodulator says this packet is damaged
    const pusi = (b1 & 0x40) !== 0;
    const pid = ((b1 & 0x1f) << 8) | d[o + 2]!;
    const b3 = d[o + 3]!;
    if ((b3 & 0x10) === 0) return; // adaptation field only: PCR or stuffing, no payload, no CC step
    if (b3 & 0xc0) return; // scrambled: the payload is unusable without the conditional-access keys
    let start = o + 4;
    let discontinuity = false;
    if (b3 & 0x20) {
      const afLength = d[start]!;
      if (afLength > 0) discontinuity = (d[start + 1]! & 0x80) !== 0;
      start += 1 + afLength;
    }
    const end = o + PACKET;
    const cc = b3 & 0x0f;
    const v = this.video;
    const a = this.audio;
    if (v !== undefined && pid === v.pid) this.pesPacket(v, d, start, end, pusi, cc, discontinuity);
    else if (a !== undefined && pid === a.pid) this.pesPacket(a, d, start, end, pusi, cc, discontinuity);
    else if (pid === 0) this.sectionPacket(this.pat, d, start, end, pusi, cc);
    else if (this.pmt !== undefined && pid === this.pmt.pid) this.sectionPacket(this.pmt, d, start, end, pusi, cc);
  }

  // ---- PES ----

  private pesPacket(
    s: PesStream,
    d: Uint8Array,
    start: number,
    end: number,
    pusi: boolean,
    cc: number,
    discontinuity: boolean,
  ): void {
    // discontinuity_indicator announces a deliberate counter jump (e.g. a spliced source).
    if (s.cc >= 0 && !discontinuity) {
      if (cc === s.cc) return; // a duplicate packet (allowed by the spec): same payload again
      if (cc !== ((s.cc + 1) & 0x0f) && s.active) this.drop(s);
    }
    s.cc = cc;
    if (start > end) {
      // adaptation_field_length runs past the packet: the packet is garbage.
      if (s.active) this.drop(s);
      return;
    }
    if (pusi) {
      if (s.active) this.complete(s);
      s.active = true;
      s.seq = this.pesSeq++;
      s.size = 0;
      s.expected = -1;
    } else if (!s.active) {
      return; // the middle of a PES whose start we never saw (or dropped)
    }
    if (start === end) return;
    const size = s.size + (end - start);
    if (size > this.maxPesBytes) {
      throw new PushgateError(
        'INVALID_MEDIA',
        `MPEG-TS ${s.kind} PES on PID ${s.pid} exceeds ${this.maxPesBytes} bytes`,
      );
    }
    s.bufs.push(d);
    s.starts.push(start);
    s.ends.push(end);
    s.size = size;
    if (s.expected < 0 && size >= 6) {
      const length = (byteAt(s, 4) << 8) | byteAt(s, 5);
      s.expected = length === 0 ? 0 : 6 + length;
    }
    // A bounded PES is emitted as soon as its last byte arrives rather than at the next PUSI, which
    // for audio could be a whole PES duration later.
    if (s.expected > 0 && size >= s.expected) this.complete(s);
  }

  private complete(s: PesStream): void {
    const size = s.expected > 0 ? Math.min(s.size, s.expected) : s.size;
    const incomplete = s.expected > 0 && s.size < s.expected;
    if (incomplete || size < 9 || byteAt(s, 0) !== 0 || byteAt(s, 1) !== 0 || byteAt(s, 2) !== 1) {
      this.drop(s);
      return;
    }
    const flags = byteAt(s, 7) >> 6;
    const headerLength = byteAt(s, 8);
    const payloadStart = 9 + headerLength;
    if (payloadStart > size) {
      this.drop(s);
      return;
    }
    let pts90k: number | undefined;
    let dts90k: number | undefined;
    if (flags & 0x2 && headerLength >= 5) pts90k = readTimestamp(s, 9);
    if (flags === 0x3 && headerLength >= 10) dts90k = readTimestamp(s, 14);
    const data = copyRange(s, payloadStart, size);
    this.reset(s);
    if (data.length === 0) return;
    this.out.push({ kind: s.kind, data, pts90k, dts90k });
  }

  private drop(s: PesStream): void {
    this.dropped++;
    this.reset(s);
  }

  private reset(s: PesStream): void {
    s.active = false;
    s.size = 0;
    s.expected = -1;
    // Release the chunk references so finished input can be collected.
    s.bufs.length = 0;
    s.starts.length = 0;
    s.ends.length = 0;
  }

  // ---- PSI ----

  private sectionPacket(s: SectionStream, d: Uint8Array, start: number, end: number, pusi: boolean, cc: number): void {
    const gap = s.cc >= 0 && cc !== ((s.cc + 1) & 0x0f);
    if (s.cc >= 0 && cc === s.cc) return; // duplicate packet
    s.cc = cc;
    if (gap) {
      s.collecting = false;
      s.len = 0;
    }
    if (start >= end) return;
    if (pusi) {
      const pointer = d[start]!;
      const sectionStart = start + 1 + pointer;
      if (sectionStart > end) {
        s.collecting = false;
        s.len = 0;
        return;
      }
      // Bytes before the pointer finish the section already under way.
      if (s.collecting && s.len > 0 && pointer > 0) this.appendSection(s, d, start + 1, sectionStart);
      s.collecting = true;
      s.len = 0;
      this.appendSection(s, d, sectionStart, end);
    } else if (s.collecting) {
      this.appendSection(s, d, start, end);
    }
  }

  private appendSection(s: SectionStream, d: Uint8Array, from: number, to: number): void {
    const add = to - from;
    if (s.len + add > s.buf.length) {
      if (s.len + add > MAX_SECTION + PACKET) {
        s.collecting = false;
        s.len = 0;
        return;
      }
      const grown = new Uint8Array(MAX_SECTION + PACKET);
      grown.set(s.buf.subarray(0, s.len));
      s.buf = grown;
    }
    s.buf.set(d.subarray(from, to), s.len);
    s.len += add;
    // Several sections may share a packet; 0xFF fills the rest of it.
    while (s.len > 0) {
      const buf = s.buf;
      if (buf[0] === 0xff) {
        s.collecting = false;
        s.len = 0;
        return;
      }
      if (s.len < 3) return;
      const total = 3 + (((buf[1]! & 0x0f) << 8) | buf[2]!);
      if (total > MAX_SECTION) {
        s.collecting = false;
        s.len = 0;
        return;
      }
      if (s.len < total) return;
      this.section(s, buf.subarray(0, total));
      buf.copyWithin(0, total, s.len);
      s.len -= total;
    }
  }

  private section(s: SectionStream, sec: Uint8Array): void {
    // Long-form sections only (PAT, PMT): 8-byte header, CRC_32 last. A bad CRC means damage: skip it.
    if (sec.length < 12 || (sec[1]! & 0x80) === 0 || (sec[5]! & 0x01) === 0) return;
    const crc = readU32(sec, sec.length - 4);
    if (crc === s.lastCrc || crc32(sec, sec.length - 4) !== crc) return;
    if (s === this.pat && sec[0] === 0x00) {
      s.lastCrc = crc;
      this.onPat(sec);
    } else if (s === this.pmt && sec[0] === 0x02 && ((sec[3]! << 8) | sec[4]!) === this.programNumber) {
      // One PID may carry the PMTs of several programs: only the chosen program's counts.
      s.lastCrc = crc;
      this.onPmt(sec);
    }
  }

  private onPat(sec: Uint8Array): void {
    for (let i = 8; i + 4 <= sec.length - 4; i += 4) {
      const programNumber = (sec[i]! << 8) | sec[i + 1]!;
      if (programNumber === 0) continue; // network_PID (NIT), not a program
      const pid = ((sec[i + 2]! & 0x1f) << 8) | sec[i + 3]!;
      if (this.pmt?.pid !== pid) this.pmt = newSectionStream(pid);
      this.programNumber = programNumber;
      return;
    }
  }

  private onPmt(sec: Uint8Array): void {
    const end = sec.length - 4;
    const programInfoLength = ((sec[10]! & 0x0f) << 8) | sec[11]!;
    let video: { pid: number; codec: VideoCodec } | undefined;
    let otherVideo: number | undefined;
    let audio: { pid: number; codec: 'aac' } | undefined;
    for (let i = 12 + programInfoLength; i + 5 <= end; ) {
      const streamType = sec[i]!;
      const pid = ((sec[i + 1]! & 0x1f) << 8) | sec[i + 2]!;
      const codec = VIDEO_CODECS.get(streamType);
      if (codec !== undefined) video ??= { pid, codec };
      else if (OTHER_VIDEO.has(streamType)) otherVideo ??= streamType;
      else if (streamType === STREAM_TYPE_AAC_ADTS) audio ??= { pid, codec: 'aac' };
      i += 5 + (((sec[i + 3]! & 0x0f) << 8) | sec[i + 4]!);
    }
    if (!video) {
      if (otherVideo !== undefined) {
        const hex = `0x${otherVideo.toString(16).padStart(2, '0')}`;
        throw new PushgateError(
          'UNSUPPORTED_CODEC',
          `MPEG-TS video stream_type ${hex} (${OTHER_VIDEO.get(otherVideo)}) is not supported: push H.264 or H.265`,
        );
      }
      throw new PushgateError('UNSUPPORTED_CODEC', 'no H.264/H.265 video in the MPEG-TS program: push H.264 or H.265');
    }
    const previous = this.currentProgram;
    if (
      previous &&
      previous.video.pid === video.pid &&
      previous.video.codec === video.codec &&
      previous.audio?.pid === audio?.pid
    ) {
      return;
    }
    // A new program layout (first PMT or a changed version): PES under way belong to the old one.
    if (this.video?.active) this.drop(this.video);
    if (this.audio?.active) this.drop(this.audio);
    this.currentProgram = audio ? { video, audio } : { video };
    this.video = newPesStream('video', video.pid);
    this.audio = audio ? newPesStream('audio', audio.pid) : undefined;
  }
}

function newPesStream(kind: 'video' | 'audio', pid: number): PesStream {
  return { kind, pid, cc: -1, active: false, seq: 0, bufs: [], starts: [], ends: [], size: 0, expected: -1 };
}

function newSectionStream(pid: number): SectionStream {
  return { pid, buf: new Uint8Array(1024), len: 0, collecting: false, cc: -1, lastCrc: -1 };
}

/** Byte `index` of the PES assembled so far (the header is nearly always inside the first range). */
function byteAt(s: PesStream, index: number): number {
  for (let i = 0; i < s.bufs.length; i++) {
    const start = s.starts[i]!;
    const length = s.ends[i]! - start;
    if (index < length) return s.bufs[i]![start + index]!;
    index -= length;
  }
  return 0;
}

/** Bytes [from, to) of the PES as one new array: the single copy per PES. */
function copyRange(s: PesStream, from: number, to: number): Uint8Array {
  const out = new Uint8Array(to - from);
  let pos = 0; // PES offset of the current range's first byte
  let written = 0;
  for (let i = 0; i < s.bufs.length && pos < to; i++) {
    const start = s.starts[i]!;
    const end = s.ends[i]!;
    const length = end - start;
    const lo = Math.max(from - pos, 0);
    const hi = Math.min(to - pos, length);
    if (hi > lo) {
      out.set(s.bufs[i]!.subarray(start + lo, start + hi), written);
      written += hi - lo;
    }
    pos += length;
  }
  return out;
}

/** A 33-bit PTS/DTS: 3 + 15 + 15 bits split by marker bits. */
function readTimestamp(s: PesStream, at: number): number {
  // The top 3 bits are scaled by multiplication: shifting would overflow 32-bit integers.
  const high = (byteAt(s, at) >> 1) & 0x07;
  const low =
    (byteAt(s, at + 1) << 22) | ((byteAt(s, at + 2) >> 1) << 15) | (byteAt(s, at + 3) << 7) | (byteAt(s, at + 4) >> 1);
  return high * 0x40000000 + low;
}

function readU32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

// CRC-32/MPEG-2 (poly 0x04C11DB7, not reflected, no final xor), as PSI sections carry it.
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    table[i] = c >>> 0;
  }
  return table;
})();

function crc32(b: Uint8Array, length: number): number {
  let crc = 0xffffffff;
  for (let i = 0; i < length; i++) crc = (crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ b[i]!) & 0xff]!;
  return crc >>> 0;
}
