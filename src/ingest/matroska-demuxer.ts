// Matroska/WebM read as it arrives, chunked any way the network likes: the EBML elements a live
// stream needs (Segment, Info, Tracks, Cluster, SimpleBlock, BlockGroup), everything else
// skipped without being buffered. Segments and Clusters of unknown size, as MediaRecorder and
// `ffmpeg -live 1` write them, end where an element that cannot be their child begins.
//
// Knows nothing of codecs: tracks come out as declared (codec ID, CodecPrivate, sizes) and
// blocks as their frames with presentation times in ns. matroska-ingester.ts does the rest.
import { PushgateError } from '../core/errors';

export interface MatroskaTrack {
  readonly number: number;
  readonly type: 'video' | 'audio' | 'other';
  /** e.g. V_MPEG4/ISO/AVC, V_MPEGH/ISO/HEVC, A_OPUS, A_AAC, V_VP8. */
  readonly codecId: string;
  readonly codecPrivate?: Uint8Array;
  /** ns per frame, when the muxer declared it. */
  readonly defaultDurationNs?: number;
  readonly width?: number;
  readonly height?: number;
  readonly sampleRate?: number;
  readonly channels?: number;
}

export interface MatroskaBlock {
  readonly track: number;
  /** Presentation time of the first frame, ns from the segment's origin. */
  readonly timeNs: number;
  /** SimpleBlock's keyframe flag, or a BlockGroup without ReferenceBlock. */
  readonly keyframe: boolean;
  /** One frame, or several when the block is laced. Copies: they outlive the demuxer's buffer. */
  readonly frames: readonly Uint8Array[];
}

export type MatroskaEvent = { readonly kind: 'tracks'; readonly tracks: readonly MatroskaTrack[] } | { readonly kind: 'block'; readonly block: MatroskaBlock };

export interface MatroskaDemuxerOptions {
  /** Largest element read whole (a block, CodecPrivate). Default 16 MiB. */
  readonly maxElementBytes?: number;
}

const ID = {
  EBML: 0x1a45dfa3,
  SEGMENT: 0x18538067,
  SEEK_HEAD: 0x114d9b74,
  INFO: 0x1549a966,
  TIMECODE_SCALE: 0x2ad7b1,
  TRACKS: 0x1654ae6b,
  TRACK_ENTRY: 0xae,
  TRACK_NUMBER: 0xd7,
  TRACK_TYPE: 0x83,
  CODEC_ID: 0x86,
  CODEC_PRIVATE: 0x63a2,
  DEFAULT_DURATION: 0x23e383,
  VIDEO: 0xe0,
  PIXEL_WIDTH: 0xb0,
  PIXEL_HEIGHT: 0xba,
  AUDIO: 0xe1,
  SAMPLING_FREQUENCY: 0xb5,
  CHANNELS: 0x9f,
  CLUSTER: 0x1f43b675,
  TIMECODE: 0xe7,
  SIMPLE_BLOCK: 0xa3,
  BLOCK_GROUP: 0xa0,
  BLOCK: 0xa1,
  REFERENCE_BLOCK: 0xfb,
  CUES: 0x1c53bb6b,
  TAGS: 0x1254c367,
  CHAPTERS: 0x1043a770,
  ATTACHMENTS: 0x1941a469,
} as const;

/** Masters whose children matter. */
const ENTERED: ReadonlySet<number> = new Set([ID.SEGMENT, ID.INFO, ID.TRACKS, ID.TRACK_ENTRY, ID.VIDEO, ID.AUDIO, ID.CLUSTER, ID.BLOCK_GROUP]);
/** Leaves whose value matters: read whole. */
const READ: ReadonlySet<number> = new Set([
  ID.TIMECODE_SCALE, ID.TRACK_NUMBER, ID.TRACK_TYPE, ID.CODEC_ID, ID.CODEC_PRIVATE, ID.DEFAULT_DURATION,
  ID.PIXEL_WIDTH, ID.PIXEL_HEIGHT, ID.SAMPLING_FREQUENCY, ID.CHANNELS, ID.TIMECODE, ID.SIMPLE_BLOCK, ID.BLOCK, ID.REFERENCE_BLOCK,
]);
/** The Segment's children, and what starts a new stream: none of them is inside a Cluster. */
const SEGMENT_LEVEL: ReadonlySet<number> = new Set([
  ID.EBML, ID.SEGMENT, ID.SEEK_HEAD, ID.INFO, ID.TRACKS, ID.CLUSTER, ID.CUES, ID.TAGS, ID.CHAPTERS, ID.ATTACHMENTS,
]);

const DEFAULT_MAX_ELEMENT_BYTES = 16 * 1024 * 1024;
const DEFAULT_TIMECODE_SCALE = 1_000_000;

interface OpenMaster {
  readonly id: number;
  /** Absolute end offset; undefined for an unknown size. */
  readonly end: number | undefined;
}

interface TrackDraft {
  number?: number;
  type?: number;
  codecId?: string;
  codecPrivate?: Uint8Array;
  defaultDurationNs?: number;
  width?: number;
  height?: number;
  sampleRate?: number;
  channels?: number;
}

interface GroupDraft {
  block?: { track: number; timeNs: number; frames: Uint8Array[] };
  referenced: boolean;
}

export class MatroskaDemuxer {
  readonly #maxElementBytes: number;
  readonly #queue = new ByteQueue();
  /** Absolute offset of the queue's first byte. */
  #pos = 0;
  /** Bytes of a skipped element still to come: dropped as they arrive, never buffered. */
  #skip = 0;
  readonly #stack: OpenMaster[] = [];
  #sawHeader = false;
  #timecodeScale = DEFAULT_TIMECODE_SCALE;
  #clusterTime = 0;
  #tracks: MatroskaTrack[] = [];
  #track: TrackDraft | undefined;
  #tracksSent = false;
  #group: GroupDraft | undefined;
  #failure: Error | undefined;

  constructor(options: MatroskaDemuxerOptions = {}) {
    this.#maxElementBytes = options.maxElementBytes ?? DEFAULT_MAX_ELEMENT_BYTES;
  }

  /** Feeds bytes as they arrive; returns what they completed. Throws INVALID_MEDIA, then always. */
  push(chunk: Uint8Array): MatroskaEvent[] {
    return this.#guard(() => {
      const out: MatroskaEvent[] = [];
      let data = chunk;
      if (this.#skip > 0) {
        const dropped = Math.min(this.#skip, data.byteLength);
        this.#skip -= dropped;
        this.#pos += dropped;
        data = data.subarray(dropped);
      }
      if (data.byteLength > 0) this.#queue.append(data);
      this.#parse(out);
      return out;
    });
  }

  /** The stream ended: closes what is open. Throws TRUNCATED_MEDIA when it ended mid-element. */
  flush(): MatroskaEvent[] {
    return this.#guard(() => {
      const out: MatroskaEvent[] = [];
      if (this.#skip > 0 || this.#queue.length > 0) {
        throw new PushgateError('TRUNCATED_MEDIA', `the Matroska stream ended in the middle of an element (at byte ${this.#pos})`);
      }
      while (this.#stack.length > 0) this.#close(out);
      return out;
    });
  }

  #guard<T>(work: () => T): T {
    if (this.#failure) throw this.#failure;
    try {
      return work();
    } catch (err) {
      this.#failure = err instanceof Error ? err : new Error(String(err));
      throw this.#failure;
    }
  }

  #parse(out: MatroskaEvent[]): void {
    const q = this.#queue;
    for (;;) {
      // Known-size masters end at their end, whatever comes next.
      for (let top = this.#top(); top?.end !== undefined && this.#pos >= top.end; top = this.#top()) this.#close(out);
      if (this.#skip > 0) {
        const dropped = Math.min(this.#skip, q.length);
        q.consume(dropped);
        this.#skip -= dropped;
        this.#pos += dropped;
        if (this.#skip > 0) return;
        continue;
      }
      const header = readHeader(q);
      if (!header) return;
      if (header === 'invalid') throw this.#invalid('an element header is not valid EBML');
      const { id, headerBytes, size } = header;
      if (!this.#sawHeader) {
        if (id !== ID.EBML) throw this.#invalid('it does not start with an EBML header');
        this.#sawHeader = true;
      }
      // An unknown-size master ends where an element that cannot be its child begins.
      for (let top = this.#top(); top && top.end === undefined && !canContain(top.id, id); top = this.#top()) this.#close(out);
      if (ENTERED.has(id)) {
        q.consume(headerBytes);
        this.#pos += headerBytes;
        this.#open(id, size === undefined ? undefined : this.#pos + size);
        continue;
      }
      if (size === undefined) throw this.#invalid(`element 0x${id.toString(16)} has an unknown size`);
      if (!READ.has(id)) {
        q.consume(headerBytes);
        this.#pos += headerBytes;
        this.#skip = size;
        continue;
      }
      if (size > this.#maxElementBytes) throw this.#invalid(`element 0x${id.toString(16)} is ${size} bytes, over the ${this.#maxElementBytes}-byte limit`);
      if (q.length < headerBytes + size) return;
      this.#read(id, q.view(headerBytes, size), out);
      q.consume(headerBytes + size);
      this.#pos += headerBytes + size;
    }
  }

  #top(): OpenMaster | undefined {
    return this.#stack[this.#stack.length - 1];
  }

  #open(id: number, end: number | undefined): void {
    this.#stack.push({ id, end });
    if (id === ID.TRACK_ENTRY) this.#track = {};
    else if (id === ID.BLOCK_GROUP) this.#group = { referenced: false };
    else if (id === ID.CLUSTER) this.#clusterTime = 0;
    else if (id === ID.TRACKS && !this.#tracksSent) this.#tracks = [];
  }

  #close(out: MatroskaEvent[]): void {
    const master = this.#stack.pop();
    if (master?.id === ID.TRACK_ENTRY) {
      const track = this.#track;
      this.#track = undefined;
      if (track?.number !== undefined) this.#tracks.push(finishTrack(track as TrackDraft & { number: number }));
    } else if (master?.id === ID.TRACKS && !this.#tracksSent) {
      // Only the first Tracks counts: a stream's tracks do not change under its readers.
      this.#tracksSent = true;
      out.push({ kind: 'tracks', tracks: this.#tracks });
    } else if (master?.id === ID.BLOCK_GROUP) {
      const group = this.#group;
      this.#group = undefined;
      if (group?.block) out.push({ kind: 'block', block: { ...group.block, keyframe: !group.referenced } });
    }
  }

  #read(id: number, data: Uint8Array, out: MatroskaEvent[]): void {
    const track = this.#track;
    switch (id) {
      case ID.TIMECODE_SCALE:
        this.#timecodeScale = readUint(data) || DEFAULT_TIMECODE_SCALE;
        return;
      case ID.TIMECODE:
        this.#clusterTime = readUint(data);
        return;
      case ID.SIMPLE_BLOCK: {
        const block = this.#block(data);
        if (block) out.push({ kind: 'block', block: { ...block, keyframe: (block.flags & 0x80) !== 0 } });
        return;
      }
      case ID.BLOCK: {
        const block = this.#block(data);
        if (block && this.#group) this.#group.block = block;
        return;
      }
      case ID.REFERENCE_BLOCK:
        if (this.#group) this.#group.referenced = true;
        return;
    }
    if (!track) return;
    switch (id) {
      case ID.TRACK_NUMBER: track.number = readUint(data); break;
      case ID.TRACK_TYPE: track.type = readUint(data); break;
      case ID.CODEC_ID: track.codecId = Buffer.from(data).toString('latin1').replace(/\0+$/, ''); break;
      case ID.CODEC_PRIVATE: track.codecPrivate = data.slice(); break;
      case ID.DEFAULT_DURATION: track.defaultDurationNs = readUint(data); break;
      case ID.PIXEL_WIDTH: track.width = readUint(data); break;
      case ID.PIXEL_HEIGHT: track.height = readUint(data); break;
      case ID.SAMPLING_FREQUENCY: track.sampleRate = readFloat(data); break;
      case ID.CHANNELS: track.channels = readUint(data); break;
    }
  }

  /** A (Simple)Block's header and frames (Matroska spec, "Block Structure" and "Block Lacing"). */
  #block(data: Uint8Array): { track: number; timeNs: number; flags: number; frames: Uint8Array[] } | undefined {
    const trackVint = readVint(data, 0);
    if (!trackVint || trackVint.value === undefined || trackVint.length + 3 > data.byteLength) throw this.#invalid('a block header is cut short');
    let offset = trackVint.length;
    const relative = ((data[offset]! << 24) >> 16) | data[offset + 1]!;
    const flags = data[offset + 2]!;
    offset += 3;
    const timeNs = (this.#clusterTime + relative) * this.#timecodeScale;
    const frames = splitLaced(data, offset, (flags >> 1) & 0x03);
    if (!frames) throw this.#invalid('a block\'s lacing does not add up');
    return { track: trackVint.value, timeNs, flags, frames };
  }

  #invalid(reason: string): PushgateError {
    return new PushgateError('INVALID_MEDIA', `not a valid Matroska/WebM stream: ${reason} (at byte ${this.#pos})`);
  }
}

/** Whether an element `child` may be inside the unknown-size master `parent`. */
function canContain(parent: number, child: number): boolean {
  if (parent === ID.CLUSTER) return !SEGMENT_LEVEL.has(child);
  if (parent === ID.SEGMENT) return child !== ID.EBML && child !== ID.SEGMENT;
  // Other masters of unknown size (allowed by the spec, never seen live): end at the next
  // Segment-level element.
  return !SEGMENT_LEVEL.has(child);
}

function finishTrack(draft: TrackDraft & { number: number }): MatroskaTrack {
  const type = draft.type === 1 ? 'video' : draft.type === 2 ? 'audio' : 'other';
  return {
    number: draft.number,
    type,
    codecId: draft.codecId ?? '',
    ...(draft.codecPrivate && { codecPrivate: draft.codecPrivate }),
    ...(draft.defaultDurationNs && { defaultDurationNs: draft.defaultDurationNs }),
    ...(draft.width && { width: draft.width }),
    ...(draft.height && { height: draft.height }),
    ...(draft.sampleRate && { sampleRate: draft.sampleRate }),
    ...(draft.channels && { channels: draft.channels }),
  };
}

/** The frames of a block from `offset`: lacing 0 none, 1 Xiph, 2 fixed-size, 3 EBML. */
function splitLaced(data: Uint8Array, offset: number, lacing: number): Uint8Array[] | undefined {
  if (lacing === 0) return [data.slice(offset)];
  if (offset >= data.byteLength) return undefined;
  const count = data[offset]! + 1;
  let pos = offset + 1;
  const sizes: number[] = [];
  if (lacing === 1) {
    for (let i = 0; i < count - 1; i++) {
      let size = 0;
      for (let byte = 255; byte === 255; ) {
        if (pos >= data.byteLength) return undefined;
        byte = data[pos++]!;
        size += byte;
      }
      sizes.push(size);
    }
  } else if (lacing === 3) {
    const first = readVint(data, pos);
    if (!first || first.value === undefined) return undefined;
    pos += first.length;
    sizes.push(first.value);
    for (let i = 1; i < count - 1; i++) {
      const delta = readVint(data, pos);
      if (!delta || delta.value === undefined) return undefined;
      pos += delta.length;
      // Signed: the unsigned value minus half its range.
      sizes.push(sizes[i - 1]! + delta.value - (2 ** (7 * delta.length - 1) - 1));
    }
  } else {
    const each = (data.byteLength - pos) / count;
    if (!Number.isInteger(each)) return undefined;
    for (let i = 0; i < count - 1; i++) sizes.push(each);
  }
  const frames: Uint8Array[] = [];
  for (const size of sizes) {
    if (size < 0 || pos + size > data.byteLength) return undefined;
    frames.push(data.slice(pos, pos + size));
    pos += size;
  }
  frames.push(data.slice(pos));
  return frames;
}

/** An element's ID (marker bits kept, as the spec writes IDs), size (undefined: unknown) and header length. */
function readHeader(q: ByteQueue): { id: number; size: number | undefined; headerBytes: number } | 'invalid' | undefined {
  if (q.length < 1) return undefined;
  const idLength = vintLength(q.byte(0));
  if (idLength > 4) return 'invalid';
  if (q.length < idLength + 1) return undefined;
  let id = 0;
  for (let i = 0; i < idLength; i++) id = id * 256 + q.byte(i);
  const sizeLength = vintLength(q.byte(idLength));
  if (sizeLength > 8) return 'invalid';
  if (q.length < idLength + sizeLength) return undefined;
  const size = readVint(q.view(idLength, sizeLength), 0);
  if (!size) return 'invalid';
  return { id, size: size.value, headerBytes: idLength + sizeLength };
}

/** 1..8 from the first byte of a variable-size integer; 9 when it has no marker bit. */
function vintLength(first: number): number {
  return Math.clz32(first) - 23;
}

/** A variable-size integer's value (undefined when all its value bits are set: unknown size). */
function readVint(data: Uint8Array, offset: number): { value: number | undefined; length: number } | undefined {
  if (offset >= data.byteLength) return undefined;
  const length = vintLength(data[offset]!);
  if (length > 8 || offset + length > data.byteLength) return undefined;
  let value = data[offset]! & (0xff >> length);
  let allOnes = value === 0xff >> length;
  for (let i = 1; i < length; i++) {
    const byte = data[offset + i]!;
    value = value * 256 + byte;
    allOnes &&= byte === 0xff;
  }
  return { value: allOnes ? undefined : value, length };
}

function readUint(data: Uint8Array): number {
  let value = 0;
  for (const byte of data) value = value * 256 + byte;
  return value;
}

function readFloat(data: Uint8Array): number {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data.byteLength === 4) return view.getFloat32(0);
  if (data.byteLength === 8) return view.getFloat64(0);
  return 0;
}

/** Bytes waiting to be parsed: appended at the end, consumed from the front, grown geometrically. */
class ByteQueue {
  #buf: Buffer = Buffer.allocUnsafe(0);
  #start = 0;
  #end = 0;

  get length(): number {
    return this.#end - this.#start;
  }

  byte(index: number): number {
    return this.#buf[this.#start + index]!;
  }

  /** A view that stays valid until the next append. A plain Uint8Array, so slice() copies (Buffer#slice does not). */
  view(offset: number, length: number): Uint8Array {
    return new Uint8Array(this.#buf.buffer, this.#buf.byteOffset + this.#start + offset, length);
  }

  consume(bytes: number): void {
    this.#start += bytes;
    if (this.#start === this.#end) this.#start = this.#end = 0;
  }

  append(chunk: Uint8Array): void {
    if (this.#end + chunk.byteLength > this.#buf.length) {
      const needed = this.length + chunk.byteLength;
      if (needed <= this.#buf.length / 2) {
        this.#buf.copyWithin(0, this.#start, this.#end);
      } else {
        const grown = Buffer.allocUnsafe(Math.max(64 * 1024, needed * 2));
        this.#buf.copy(grown, 0, this.#start, this.#end);
        this.#buf = grown;
      }
      this.#end = this.length;
      this.#start = 0;
    }
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.byteLength;
  }
}
