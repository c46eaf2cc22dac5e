// Cuts an Annex-B H.264/H.265 byte stream, chunked any way the network likes, into access
// units (one picture each) following ITU-T H.264 7.4.1.2.3 / H.265 7.4.2.4.4.
//
// All positions are absolute stream offsets, so dropping consumed bytes from the front of the
// buffer moves nothing but `base`. Start codes are found by searching for their final 0x01 with
// Buffer#indexOf (memchr speed) and looking back for the two zeros, which lets each search
// resume exactly where the previous one stopped, even when a start code straddles chunks.

import { PushgateError } from '../core/errors';
import type { VideoCodec, VideoTrack } from '../core/media';
import { h264NalType, isH264Keyframe, isH264ParameterSet, isH264Vcl, H264NalType, parseH264Sps, startsH264AccessUnit } from './h264';
import {
  h265LayerId,
  h265NalType,
  isH265Keyframe,
  isH265ParameterSet,
  isH265Vcl,
  H265NalType,
  parseH265Sps,
  startsH265AccessUnit,
} from './h265';

export interface AccessUnit {
  /** The whole access unit as Annex-B bytes, start codes included. */
  readonly data: Uint8Array;
  /** IDR (H.264 type 5) / IRAP (H.265 types 16..23) present. */
  readonly keyframe: boolean;
  /** SPS/PPS (and VPS for H.265) NAL units found in this AU, each with a 4-byte start code prepended. */
  readonly parameterSets: readonly Uint8Array[];
  /** The track described by an SPS in this AU, when one was present and parsed. */
  readonly track?: VideoTrack;
  /** The tag passed to push() with the chunk in which this AU's first byte arrived. */
  readonly tag: number | undefined;
}

export interface AnnexBFramerOptions {
  /** Largest NAL unit or access unit accepted, in bytes. Default 8 MiB. */
  maxUnitBytes?: number;
  /** Bytes tolerated before the first start code. Default 64 KiB. */
  maxLeadingGarbageBytes?: number;
}

/** What differs between the two codecs, as far as framing is concerned. */
interface NalSyntax {
  readonly name: string;
  readonly headerBytes: number;
  nalType(header0: number): number;
  /** nuh_layer_id; always 0 for H.264. */
  layerId(header0: number, header1: number): number;
  isVcl(type: number): boolean;
  /** VCL types whose first payload bit says "first slice of a picture". */
  hasFirstSliceBit(type: number): boolean;
  isKeyframe(type: number): boolean;
  isParameterSet(type: number): boolean;
  isSps(type: number): boolean;
  startsAccessUnit(type: number): boolean;
  parseSps(nal: Uint8Array): VideoTrack;
}

const H264_SYNTAX: NalSyntax = {
  name: 'H.264',
  headerBytes: 1,
  nalType: h264NalType,
  layerId: () => 0,
  isVcl: isH264Vcl,
  // first_mb_in_slice is ue(v), so a leading 1 bit means 0. Data partitions B and C start
  // with slice_id instead and never open a picture.
  hasFirstSliceBit: (type) => type === H264NalType.SLICE || type === H264NalType.SLICE_DPA || type === H264NalType.IDR,
  isKeyframe: isH264Keyframe,
  isParameterSet: isH264ParameterSet,
  isSps: (type) => type === H264NalType.SPS,
  startsAccessUnit: startsH264AccessUnit,
  parseSps: parseH264Sps,
};

const H265_SYNTAX: NalSyntax = {
  name: 'H.265',
  headerBytes: 2,
  nalType: h265NalType,
  layerId: h265LayerId,
  isVcl: isH265Vcl,
  hasFirstSliceBit: isH265Vcl, // first_slice_segment_in_pic_flag opens every slice segment header
  isKeyframe: isH265Keyframe,
  isParameterSet: isH265ParameterSet,
  isSps: (type) => type === H265NalType.SPS,
  startsAccessUnit: startsH265AccessUnit,
  parseSps: parseH265Sps,
};

const DEFAULT_MAX_UNIT_BYTES = 8 * 1024 * 1024;
const DEFAULT_MAX_LEADING_GARBAGE_BYTES = 64 * 1024;
const INITIAL_CAPACITY = 64 * 1024;
const START_CODE_4 = Uint8Array.of(0, 0, 0, 1);

/** Non-VCL NAL units left over by a flush(), waiting for the picture they belong to. */
interface Carry {
  readonly data: Uint8Array;
  readonly parameterSets: readonly Uint8Array[];
  readonly track: VideoTrack | undefined;
  readonly tag: number | undefined;
}

/**
 * Incremental Annex-B access-unit framer. Not reusable after it has thrown: every later call
 * rethrows the first error.
 */
export class AnnexBFramer {
  private readonly syntax: NalSyntax;
  private readonly maxUnitBytes: number;
  private readonly maxLeadingGarbageBytes: number;

  // Pending bytes: buf[0 .. len) holds stream offsets [base .. base + len).
  private buf: Buffer = Buffer.allocUnsafe(0);
  private len = 0;
  private base = 0;
  /** Where the next search for a start code's 0x01 byte resumes. */
  private scanPos = 0;

  /** Set once any start code was seen: garbage before it gets the "not Annex-B" message. */
  private started = false;
  /** Where the current run of bytes outside any NAL unit began (stream start or last flush). */
  private garbageFrom = 0;

  // The NAL unit in progress (-1: none, i.e. before a start code).
  private nalStart = -1;
  private nalStartCode = -1;
  private nalTag: number | undefined;
  private nalType = -1;
  private nalClassified = false;

  // The access unit in progress (-1: none yet).
  private auStart = -1;
  private auEnd = -1;
  private auTag: number | undefined;
  private auHasVcl = false;
  private auKeyframe = false;
  private auParameterSets: Uint8Array[] = [];
  private auTrack: VideoTrack | undefined;
  private carry: Carry | undefined;

  /** Chunk start offsets and their tags, oldest first, pruned to what a future AU can need. */
  private readonly chunkTags: { start: number; tag: number | undefined }[] = [];

  /** The last SPS parsed and its result: SPS repeat at every keyframe, usually unchanged. */
  private lastSps: Buffer | undefined;
  private lastTrack: VideoTrack | undefined;

  private failure: Error | undefined;
  private units = 0;

  constructor(codec: VideoCodec, options: AnnexBFramerOptions = {}) {
    this.syntax = codec === 'h264' ? H264_SYNTAX : H265_SYNTAX;
    this.maxUnitBytes = options.maxUnitBytes ?? DEFAULT_MAX_UNIT_BYTES;
    this.maxLeadingGarbageBytes = options.maxLeadingGarbageBytes ?? DEFAULT_MAX_LEADING_GARBAGE_BYTES;
  }

  /** Total AUs returned so far. */
  get unitCount(): number {
    return this.units;
  }

  /** Feed bytes as they arrive (any chunking, start codes may straddle chunks); returns the AUs completed by this chunk. */
  push(chunk: Uint8Array, tag?: number): AccessUnit[] {
    return this.guard(() => {
      const out: AccessUnit[] = [];
      if (chunk.length === 0) return out;
      this.chunkTags.push({ start: this.base + this.len, tag });
      this.append(chunk);
      this.scan(out);
      this.checkPending();
      this.pruneChunkTags();
      return out;
    });
  }

  /**
   * Completes the AU in progress: call when the unit is known to be complete (end of a PES packet or end of stream).
   * NAL units without a picture (parameter sets or SEI alone) are not an AU: they are held and
   * prepended to the next one. After a flush the next bytes must begin with a start code.
   */
  flush(): AccessUnit[] {
    return this.guard(() => {
      const out: AccessUnit[] = [];
      if (this.nalStart >= 0) this.endNal(this.trimTrailingZeros(this.base + this.len), out);
      if (this.auStart >= 0) {
        if (this.auHasVcl) {
          this.emit(out);
        } else if (this.auEnd > this.auStart) {
          // Parameter sets or SEI alone are not a picture: keep them for the next one.
          this.carry = this.mergeCarry();
        }
      }
      this.resetAccessUnit();
      this.nalStart = -1;
      this.nalStartCode = -1;
      this.nalClassified = false;
      // Whatever follows must begin with a start code again.
      this.base += this.len;
      this.len = 0;
      this.scanPos = this.base;
      this.garbageFrom = this.base;
      this.chunkTags.length = 0;
      return out;
    });
  }

  private guard<T>(work: () => T): T {
    if (this.failure !== undefined) throw this.failure;
    try {
      return work();
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
      throw this.failure;
    }
  }

  /** Appends a chunk, first dropping consumed bytes; grows geometrically so appends stay amortized O(1). */
  private append(chunk: Uint8Array): void {
    const keepFrom = this.firstNeededOffset();
    const drop = keepFrom - this.base;
    const keep = this.len - drop;
    const needed = keep + chunk.length;
    if (this.len + chunk.length > this.buf.length) {
      const capacity = Math.max(INITIAL_CAPACITY, needed * 2);
      // Shift in place when that leaves half the buffer free; reallocate to grow, or to shrink
      // back after an unusually large unit.
      if (needed <= this.buf.length / 2 && this.buf.length <= 4 * capacity) {
        this.buf.copyWithin(0, drop, this.len);
      } else {
        const grown = Buffer.allocUnsafe(capacity);
        this.buf.copy(grown, 0, drop, this.len);
        this.buf = grown;
      }
      this.base = keepFrom;
      this.len = keep;
    }
    this.buf.set(chunk, this.len);
    this.len += chunk.length;
  }

  /** The earliest stream offset a future AU, NAL or start code can still need. */
  private firstNeededOffset(): number {
    if (this.auStart >= 0) return this.auStart;
    if (this.nalStart >= 0) return this.nalStartCode;
    // Outside any NAL: only the bytes that could begin a straddling start code.
    return Math.max(this.base, this.base + this.len - 3);
  }

  private scan(out: AccessUnit[]): void {
    // A view bounded by len: indexOf must not wander into the unused tail of the buffer.
    const buf = this.buf.subarray(0, this.len);
    const base = this.base;
    const end = base + this.len;
    for (;;) {
      // Find the next 00 00 01: the 0x01 at `one` with two zeros before it.
      let one = -1;
      let from = this.scanPos - base;
      while (from < this.len) {
        const i = buf.indexOf(1, from);
        if (i < 0) break;
        if (i >= 2 && buf[i - 1] === 0 && buf[i - 2] === 0) {
          one = i;
          break;
        }
        from = i + 1;
      }
      if (one < 0) {
        this.scanPos = end;
        // Decide about the open NAL now rather than at its end, so an AU is returned as soon as
        // the next one begins. Trailing zeros are off limits: they may be the next start code.
        if (this.nalStart >= 0 && !this.nalClassified) this.classify(this.trimTrailingZeros(end), false, out);
        return;
      }
      this.scanPos = base + one + 1;

      // A zero before 00 00 01 is the zero_byte of a 4-byte start code, as long as it is not
      // part of an earlier start code (only possible while no NAL is open).
      const floor = this.nalStart >= 0 ? this.nalStart - base : 0;
      const startCode = base + (one - 3 >= floor && buf[one - 3] === 0 ? one - 3 : one - 2);

      if (this.nalStart >= 0) {
        this.endNal(this.trimTrailingZeros(startCode), out);
      } else {
        this.checkGarbage(startCode - this.garbageFrom, true);
      }
      this.started = true;
      this.nalStartCode = startCode;
      this.nalStart = base + one + 1;
      this.nalTag = this.tagAt(startCode);
      this.nalClassified = false;
      this.nalType = -1;
    }
  }

  /** NAL units end before any trailing_zero_8bits: zeros there belong to no NAL unit. */
  private trimTrailingZeros(endOffset: number): number {
    let end = endOffset - this.base;
    const start = this.nalStart - this.base;
    while (end > start && this.buf[end - 1] === 0) end--;
    return this.base + end;
  }

  /**
   * Decides from the NAL header (and the first slice bit) whether the NAL in progress opens a
   * new access unit, emitting the finished one if so. With `ended` false it may need to wait
   * for more bytes; with `ended` true, `limit` is the NAL's end and a decision is forced.
   */
  private classify(limit: number, ended: boolean, out: AccessUnit[]): void {
    const syntax = this.syntax;
    const at = this.nalStart - this.base;
    if (this.nalStart + syntax.headerBytes > limit) {
      if (ended) this.nalClassified = true; // shorter than its header: nothing to frame
      return;
    }
    const header0 = this.buf[at] as number;
    if (header0 & 0x80) {
      throw new PushgateError(
        'INVALID_MEDIA',
        `${syntax.name} NAL unit at byte ${this.nalStart} has forbidden_zero_bit set: not an Annex-B ${syntax.name} stream or corrupted data`,
      );
    }
    const type = syntax.nalType(header0);
    const baseLayer = syntax.headerBytes === 1 || syntax.layerId(header0, this.buf[at + 1] as number) === 0;
    const vcl = syntax.isVcl(type);
    let opens: boolean;
    if (vcl) {
      let firstSlice = false;
      if (syntax.hasFirstSliceBit(type)) {
        if (this.nalStart + syntax.headerBytes + 1 > limit) {
          if (!ended) return; // the deciding bit has not arrived yet
        } else {
          firstSlice = ((this.buf[at + syntax.headerBytes] as number) & 0x80) !== 0;
        }
      }
      opens = firstSlice && baseLayer;
    } else {
      opens = baseLayer && syntax.startsAccessUnit(type);
    }

    if (opens && this.auHasVcl) this.emit(out);
    if (this.auStart < 0) {
      this.auStart = this.nalStartCode;
      this.auEnd = this.nalStartCode;
      this.auTag = this.nalTag;
    }
    if (vcl) {
      this.auHasVcl = true;
      if (syntax.isKeyframe(type)) this.auKeyframe = true;
    }
    this.nalType = type;
    this.nalClassified = true;
  }

  /** The NAL in progress ends at `end` (exclusive, trailing zeros excluded). */
  private endNal(end: number, out: AccessUnit[]): void {
    if (!this.nalClassified) this.classify(end, true, out);
    const size = end - this.nalStart;
    if (size < this.syntax.headerBytes || this.auStart < 0) return; // empty or header-less: dropped
    this.auEnd = end;
    if (end - this.auStart > this.maxUnitBytes) this.tooLarge('access unit', end - this.auStart);

    const type = this.nalType;
    if (!this.syntax.isParameterSet(type)) return;
    const nal = this.buf.subarray(this.nalStart - this.base, end - this.base);
    const withStartCode = Buffer.allocUnsafe(4 + nal.length);
    withStartCode.set(START_CODE_4, 0);
    withStartCode.set(nal, 4);
    this.auParameterSets.push(withStartCode);
    if (this.syntax.isSps(type)) this.auTrack = this.parseSps(nal);
  }

  private parseSps(nal: Buffer): VideoTrack {
    if (this.lastSps && this.lastTrack && this.lastSps.equals(nal)) return this.lastTrack;
    const track = this.syntax.parseSps(nal); // throws INVALID_MEDIA naming the problem
    this.lastSps = Buffer.from(nal);
    this.lastTrack = track;
    return track;
  }

  private emit(out: AccessUnit[]): void {
    const size = this.auEnd - this.auStart;
    if (size > this.maxUnitBytes) this.tooLarge('access unit', size);
    const carry = this.carry;
    const prefix = carry ? carry.data.length : 0;
    if (prefix + size > this.maxUnitBytes) this.tooLarge('access unit', prefix + size);
    const data = Buffer.allocUnsafe(prefix + size);
    if (carry) data.set(carry.data, 0);
    this.buf.copy(data, prefix, this.auStart - this.base, this.auEnd - this.base);
    const track = this.auTrack ?? carry?.track;
    out.push({
      data,
      keyframe: this.auKeyframe,
      parameterSets: carry ? [...carry.parameterSets, ...this.auParameterSets] : this.auParameterSets,
      ...(track ? { track } : {}),
      tag: carry ? carry.tag : this.auTag,
    });
    this.carry = undefined;
    this.units++;
    this.resetAccessUnit();
  }

  private mergeCarry(): Carry {
    const own = this.buf.subarray(this.auStart - this.base, this.auEnd - this.base);
    const previous = this.carry;
    const size = own.length + (previous ? previous.data.length : 0);
    if (size > this.maxUnitBytes) this.tooLarge('access unit', size);
    return {
      data: previous ? Buffer.concat([previous.data, own]) : Buffer.from(own),
      parameterSets: previous ? [...previous.parameterSets, ...this.auParameterSets] : this.auParameterSets,
      track: this.auTrack ?? previous?.track,
      tag: previous ? previous.tag : this.auTag,
    };
  }

  private resetAccessUnit(): void {
    this.auStart = -1;
    this.auEnd = -1;
    this.auTag = undefined;
    this.auHasVcl = false;
    this.auKeyframe = false;
    this.auParameterSets = [];
    this.auTrack = undefined;
  }

  /** After a chunk: bound what is buffered, whether inside a unit or before any start code. */
  private checkPending(): void {
    const end = this.base + this.len;
    if (this.nalStart >= 0) {
      if (end - this.nalStartCode > this.maxUnitBytes) this.tooLarge('NAL unit', end - this.nalStartCode);
      if (this.auStart >= 0 && end - this.auStart > this.maxUnitBytes) this.tooLarge('access unit', end - this.auStart);
    } else {
      // The last 3 bytes may still become the zeros of a start code.
      this.checkGarbage(end - 3 - this.garbageFrom, false);
    }
  }

  private checkGarbage(garbage: number, found: boolean): void {
    if (garbage <= this.maxLeadingGarbageBytes) return;
    const name = this.syntax.name;
    if (!this.started) {
      throw new PushgateError(
        'INVALID_MEDIA',
        `no ${name} start code in the first ${this.maxLeadingGarbageBytes} bytes: not an Annex-B ${name} stream`,
      );
    }
    throw new PushgateError(
      'INVALID_MEDIA',
      `${found ? garbage : `more than ${this.maxLeadingGarbageBytes}`} bytes without an ${name} start code after a flushed access unit`,
    );
  }

  private tooLarge(what: string, size: number): never {
    throw new PushgateError(
      'INVALID_MEDIA',
      `${this.syntax.name} ${what} of more than ${this.maxUnitBytes} bytes (${size} so far): corrupt stream or missing start codes`,
    );
  }

  /** The tag of the chunk holding stream offset `offset`. */
  private tagAt(offset: number): number | undefined {
    for (let i = this.chunkTags.length - 1; i >= 0; i--) {
      const entry = this.chunkTags[i];
      if (entry && entry.start <= offset) return entry.tag;
    }
    return undefined;
  }

  private pruneChunkTags(): void {
    // A future start code begins at scanPos - 3 at the earliest (a 4-byte one whose 0x01 has not arrived).
    const earliest = this.scanPos - 3;
    let drop = 0;
    while (drop + 1 < this.chunkTags.length && (this.chunkTags[drop + 1] as { start: number }).start <= earliest) drop++;
    if (drop > 0) this.chunkTags.splice(0, drop);
  }
}
