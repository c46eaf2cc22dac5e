// Test-time media: real H.264/H.265 encoded by ffmpeg, a deliberately naive Annex-B splitter to
// check the framer against, and a bit writer for parameter sets no encoder will produce.

import { execFileSync } from 'node:child_process';
import type { VideoCodec } from '../../../src/core/media';

export interface EncodeOptions {
  codec: VideoCodec;
  width?: number;
  height?: number;
  /** ffmpeg rate syntax: "25", "30000/1001". */
  rate?: string;
  frames?: number;
  /** Keyframe interval in frames. */
  gop?: number;
  pixFmt?: string;
  /** x264-params / x265-params, ':'-separated. */
  params?: string;
  /** Extra output options placed before the muxer, e.g. ['-bsf:v', 'h264_metadata=aud=insert']. */
  args?: readonly string[];
  /** Mux into MPEG-TS instead of writing the raw elementary stream. */
  mpegts?: boolean;
}

const cache = new Map<string, Buffer>();

/** Encodes testsrc2 to a raw Annex-B elementary stream (or MPEG-TS). Results are cached per process. */
export function encode(options: EncodeOptions): Buffer {
  const { codec, width = 320, height = 240, rate = '25', frames = 30, gop = 10, pixFmt = 'yuv420p' } = options;
  const encoder =
    codec === 'h264'
      ? ['-c:v', 'libx264', '-preset', 'veryfast', '-x264-params', ['scenecut=0', options.params].filter(Boolean).join(':')]
      : ['-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', ['log-level=error', 'scenecut=0', options.params].filter(Boolean).join(':')];
  const args = [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${rate}`,
    '-frames:v', String(frames), '-pix_fmt', pixFmt, '-g', String(gop),
    ...encoder,
    ...(options.args ?? []),
    '-f', options.mpegts ? 'mpegts' : codec === 'h264' ? 'h264' : 'hevc', '-',
  ];
  const key = args.join(' ');
  let data = cache.get(key);
  if (!data) {
    // stderr is piped, not inherited: it only matters when ffmpeg fails, and then it is in the error.
    data = execFileSync('ffmpeg', args, { maxBuffer: 256 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
    cache.set(key, data);
  }
  return data;
}

/** What ffmpeg's own parser makes of a raw stream: one entry per packet (access unit). */
export function probePackets(codec: VideoCodec, data: Uint8Array): { size: number; keyframe: boolean }[] {
  const csv = execFileSync(
    'ffprobe',
    ['-v', 'error', '-f', codec === 'h264' ? 'h264' : 'hevc', '-i', '-', '-show_entries', 'packet=size,flags', '-of', 'csv=p=0'],
    { input: data, maxBuffer: 64 * 1024 * 1024, stdio: ['pipe', 'pipe', 'pipe'] },
  ).toString();
  return csv
    .trim()
    .split('\n')
    .map((line) => {
      const [size, flags] = line.split(',');
      return { size: Number(size), keyframe: (flags ?? '').includes('K') };
    });
}

export interface NalUnit {
  /** Offset of the first start code byte in the stream. */
  readonly offset: number;
  /** The NAL unit without its start code or trailing zeros. */
  readonly payload: Buffer;
}

/** Reference splitter: byte by byte, no cleverness, so it can be trusted to check the framer. */
export function splitNals(stream: Uint8Array): NalUnit[] {
  const data = Buffer.from(stream.buffer, stream.byteOffset, stream.length);
  const starts: { offset: number; payload: number }[] = [];
  for (let i = 2; i < data.length; i++) {
    if (data[i] === 1 && data[i - 1] === 0 && data[i - 2] === 0) {
      starts.push({ offset: i >= 3 && data[i - 3] === 0 ? i - 3 : i - 2, payload: i + 1 });
    }
  }
  return starts.map((start, k) => {
    let end = k + 1 < starts.length ? (starts[k + 1] as { offset: number }).offset : data.length;
    while (end > start.payload && data[end - 1] === 0) end--;
    return { offset: start.offset, payload: data.subarray(start.payload, end) };
  });
}

/** The first NAL unit of the given type (H.264 header for 'h264', H.265 for 'h265'). */
export function findNal(codec: VideoCodec, stream: Uint8Array, type: number): Buffer {
  const nal = splitNals(stream).find((n) => nalTypeOf(codec, n.payload) === type);
  if (!nal) throw new Error(`no NAL unit of type ${type} in the stream`);
  return nal.payload;
}

export function nalTypeOf(codec: VideoCodec, payload: Uint8Array): number {
  const header = payload[0] ?? 0;
  return codec === 'h264' ? header & 0x1f : (header >> 1) & 0x3f;
}

/** Re-joins NAL units with the given start code length (3 or 4), e.g. to test 3-byte start codes. */
export function joinNals(payloads: readonly Uint8Array[], startCodeBytes: 3 | 4 = 4): Buffer {
  const startCode = startCodeBytes === 4 ? [0, 0, 0, 1] : [0, 0, 1];
  return Buffer.concat(payloads.flatMap((p) => [Buffer.from(startCode), p]));
}


/** Writes RBSP bits MSB first; nal() adds the header, trailing bits and emulation prevention. */
export class BitWriter {
  private readonly bits: number[] = [];

  u(n: number, value: number): this {
    for (let i = n - 1; i >= 0; i--) this.bits.push(Math.floor(value / 2 ** i) % 2);
    return this;
  }

  flag(value: boolean): this {
    return this.u(1, value ? 1 : 0);
  }

  ue(value: number): this {
    const codeNum = value + 1;
    const length = Math.floor(Math.log2(codeNum));
    this.u(length, 0);
    return this.u(length + 1, codeNum);
  }

  se(value: number): this {
    return this.ue(value > 0 ? 2 * value - 1 : -2 * value);
  }

  get length(): number {
    return this.bits.length;
  }

  /** The bits so far, zero-padded to whole bytes, without escaping. */
  bytes(): Buffer {
    const out = Buffer.alloc(Math.ceil(this.bits.length / 8));
    this.bits.forEach((bit, i) => {
      if (bit) out[i >> 3] = (out[i >> 3] as number) | (0x80 >> (i & 7));
    });
    return out;
  }

  /** A complete NAL unit: header bytes, then the RBSP with its stop bit, escaped. */
  nal(header: readonly number[]): Buffer {
    this.u(1, 1);
    while (this.bits.length % 8 !== 0) this.u(1, 0);
    return Buffer.concat([Buffer.from(header), escapeRbsp(this.bytes())]);
  }
}

/** Inserts emulation_prevention_three_byte wherever 00 00 is followed by 00..03. */
export function escapeRbsp(rbsp: Uint8Array): Buffer {
  const out: number[] = [];
  let zeros = 0;
  for (const byte of rbsp) {
    if (zeros >= 2 && byte <= 3) {
      out.push(3);
      zeros = 0;
    }
    out.push(byte);
    zeros = byte === 0 ? zeros + 1 : 0;
  }
  return Buffer.from(out);
}
