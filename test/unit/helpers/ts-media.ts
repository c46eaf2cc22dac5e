// Test media for the MPEG-TS demuxer: ffmpeg-encoded streams (cached per process), hand-built
// packets for the corner cases ffmpeg never writes, and small byte-level utilities.

import { execFileSync } from 'node:child_process';
import { MpegTsDemuxer, type TsPes } from '../../../src/ingest/mpegts-demuxer';

export { randomBytes, randomChunks, seededRandom } from './random';

export const PACKET = 188;
export const FPS = 30;

export interface TsEncoding {
  readonly video: 'h264' | 'h265' | 'mpeg2video' | 'mpeg4' | 'none';
  readonly audio: 'aac' | 'mp2' | 'none';
  readonly channels?: 1 | 2;
  readonly seconds: number;
  readonly size?: string;
  /** Max consecutive B-frames (H.264 only); 0 keeps PTS = DTS. */
  readonly bframes?: number;
}

const cache = new Map<string, Uint8Array>();

/** An MPEG-TS stream from ffmpeg's test sources at 30 fps, with a 48 kHz sine as audio. */
export function encodeTs(e: TsEncoding): Uint8Array {
  const key = JSON.stringify(e);
  const cached = cache.get(key);
  if (cached) return cached;
  const args = ['-v', 'error', '-nostdin'];
  if (e.video !== 'none') args.push('-f', 'lavfi', '-i', `testsrc2=size=${e.size ?? '320x180'}:rate=${FPS}`);
  if (e.audio !== 'none') args.push('-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000');
  args.push('-t', String(e.seconds));
  if (e.video === 'h264') args.push('-c:v', 'libx264', '-g', String(FPS), '-bf', String(e.bframes ?? 0));
  else if (e.video === 'h265') args.push('-c:v', 'libx265', '-x265-params', 'log-level=error', '-g', String(FPS));
  else if (e.video !== 'none') args.push('-c:v', e.video);
  if (e.audio !== 'none') args.push('-c:a', e.audio, '-ac', String(e.channels ?? 1));
  args.push('-f', 'mpegts', '-');
  const data = new Uint8Array(execFileSync('ffmpeg', args, { maxBuffer: 256 * 1024 * 1024 }));
  cache.set(key, data);
  return data;
}

export interface Demuxed {
  readonly pes: TsPes[];
  readonly demuxer: MpegTsDemuxer;
}

/** Everything the demuxer returns for `chunks` pushed in order, then flushed. */
export function demuxChunks(chunks: Iterable<Uint8Array>, demuxer = new MpegTsDemuxer()): Demuxed {
  const pes: TsPes[] = [];
  for (const chunk of chunks) pes.push(...demuxer.push(chunk));
  pes.push(...demuxer.flush());
  return { pes, demuxer };
}

export function demux(data: Uint8Array): Demuxed {
  return demuxChunks([data]);
}

export function fixedChunks(data: Uint8Array, size: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let off = 0; off < data.length; off += size) chunks.push(data.subarray(off, off + size));
  return chunks;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export interface PacketInfo {
  readonly index: number;
  readonly pid: number;
  readonly pusi: boolean;
  readonly cc: number;
}

/** The header fields of each 188-byte packet of a synced stream. */
export function packetInfo(data: Uint8Array): PacketInfo[] {
  const out: PacketInfo[] = [];
  for (let o = 0, index = 0; o + PACKET <= data.length; o += PACKET, index++) {
    out.push({
      index,
      pid: ((data[o + 1]! & 0x1f) << 8) | data[o + 2]!,
      pusi: (data[o + 1]! & 0x40) !== 0,
      cc: data[o + 3]! & 0x0f,
    });
  }
  return out;
}

export function packetAt(data: Uint8Array, index: number): Uint8Array {
  return data.subarray(index * PACKET, (index + 1) * PACKET);
}

/** The stream without the packets at `indexes`. */
export function withoutPackets(data: Uint8Array, indexes: readonly number[]): Uint8Array {
  const skip = new Set(indexes);
  const kept: Uint8Array[] = [];
  for (let i = 0; i * PACKET < data.length; i++) if (!skip.has(i)) kept.push(packetAt(data, i));
  return concat(...kept);
}

/** A PES packet on `pid` that is neither the first nor the last of its PES, near the stream's middle. */
export function midPesPacket(data: Uint8Array, pid: number): number {
  const packets = packetInfo(data);
  for (let i = Math.floor(packets.length / 2); i + 1 < packets.length; i++) {
    const p = packets[i]!;
    const next = packets.slice(i + 1).find((q) => q.pid === pid);
    if (p.pid === pid && !p.pusi && next && !next.pusi) return i;
  }
  throw new Error(`no mid-PES packet on PID ${pid}`);
}

/** Splits ADTS frames back to back; throws unless `data` is exactly whole frames. */
export function adtsFrameLengths(data: Uint8Array, parse: (d: Uint8Array, o: number) => { frameLength: number } | undefined): number[] {
  const lengths: number[] = [];
  for (let off = 0; off < data.length; ) {
    const header = parse(data, off);
    if (!header) throw new Error(`no ADTS header at offset ${off} of ${data.length}`);
    lengths.push(header.frameLength);
    off += header.frameLength;
    if (off > data.length) throw new Error('ADTS frame runs past the end of the PES');
  }
  return lengths;
}

// ---- hand-built packets ----

/** CRC-32/MPEG-2, written independently of the demuxer's so a shared mistake cannot hide. */
export function crc32Mpeg(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte << 24;
    for (let k = 0; k < 8; k++) crc = crc & 0x80000000 ? (crc << 1) ^ 0x04c11db7 : crc << 1;
  }
  return crc >>> 0;
}

/** A long-form PSI section with its CRC; `body` is everything after the 8-byte header. */
export function psiSection(tableId: number, idExtension: number, body: Uint8Array, options?: { version?: number; badCrc?: boolean }): Uint8Array {
  const length = 5 + body.length + 4; // bytes after section_length
  const head = Uint8Array.of(
    tableId,
    0xb0 | (length >> 8),
    length & 0xff,
    idExtension >> 8,
    idExtension & 0xff,
    0xc1 | ((options?.version ?? 0) << 1),
    0,
    0,
  );
  const section = concat(head, body, new Uint8Array(4));
  const crc = crc32Mpeg(section.subarray(0, section.length - 4)) ^ (options?.badCrc ? 1 : 0);
  new DataView(section.buffer).setUint32(section.length - 4, crc >>> 0);
  return section;
}

export function patSection(pmtPid: number): Uint8Array {
  return psiSection(0x00, 1, Uint8Array.of(0, 1, 0xe0 | (pmtPid >> 8), pmtPid & 0xff));
}

export function pmtSection(
  streams: readonly { type: number; pid: number }[],
  options?: { programInfo?: Uint8Array; version?: number; badCrc?: boolean },
): Uint8Array {
  const info = options?.programInfo ?? new Uint8Array(0);
  const pcrPid = streams[0]?.pid ?? 0x1fff;
  const parts = [Uint8Array.of(0xe0 | (pcrPid >> 8), pcrPid & 0xff, 0xf0 | (info.length >> 8), info.length & 0xff), info];
  for (const s of streams) parts.push(Uint8Array.of(s.type, 0xe0 | (s.pid >> 8), s.pid & 0xff, 0xf0, 0));
  return psiSection(0x02, 1, concat(...parts), options);
}

/** Continuity counters per PID, so hand-built packets chain like a real muxer's. */
export class TsWriter {
  private readonly counters = new Map<number, number>();

  /** One packet; short payloads are padded with adaptation-field stuffing, as muxers do. */
  packet(pid: number, payload: Uint8Array, options?: { pusi?: boolean; cc?: number }): Uint8Array {
    if (payload.length > PACKET - 4) throw new Error('payload too long for one packet');
    const cc = options?.cc ?? ((this.counters.get(pid) ?? -1) + 1) & 0x0f;
    this.counters.set(pid, cc);
    const out = new Uint8Array(PACKET);
    out[0] = 0x47;
    out[1] = (options?.pusi ? 0x40 : 0) | (pid >> 8);
    out[2] = pid & 0xff;
    const stuffing = PACKET - 4 - payload.length;
    if (stuffing === 0) {
      out[3] = 0x10 | cc;
    } else {
      out[3] = 0x30 | cc;
      out[4] = stuffing - 1; // adaptation_field_length
      if (stuffing > 1) {
        out[5] = 0; // no flags
        out.fill(0xff, 6, 4 + stuffing);
      }
    }
    out.set(payload, 4 + stuffing);
    return out;
  }

  /** Null packets (PID 0x1FFF): filler a demuxer must step over. */
  nullPackets(count: number): Uint8Array {
    const out = new Uint8Array(count * PACKET).fill(0xff);
    for (let i = 0; i < count; i++) out.set([0x47, 0x1f, 0xff, 0x10], i * PACKET);
    return out;
  }

  /** An adaptation-field-only packet (no payload), e.g. a PCR carrier. */
  adaptationOnly(pid: number): Uint8Array {
    const cc = this.counters.get(pid) ?? 0; // no payload: the counter does not advance
    const out = new Uint8Array(PACKET).fill(0xff);
    out.set([0x47, pid >> 8, pid & 0xff, 0x20 | cc, PACKET - 5, 0], 0);
    return out;
  }

  /** A PSI section after a pointer_field of `pointer` filler bytes, split over as many packets as needed. */
  section(pid: number, section: Uint8Array, pointer = 0): Uint8Array {
    const payload = concat(Uint8Array.of(pointer), new Uint8Array(pointer).fill(0xff), section);
    const packets: Uint8Array[] = [];
    for (let off = 0; off < payload.length; off += PACKET - 4) {
      const part = payload.subarray(off, off + PACKET - 4);
      // PSI packets are padded with 0xFF inside the payload, not with adaptation stuffing.
      const full = concat(part, new Uint8Array(PACKET - 4 - part.length).fill(0xff));
      packets.push(this.packet(pid, full, { pusi: off === 0 }));
    }
    return concat(...packets);
  }

  /** A PES (header + payload) split over packets; `bounded` writes PES_packet_length, else 0. */
  pes(pid: number, streamId: number, payload: Uint8Array, t: { pts?: number; dts?: number; bounded: boolean }): Uint8Array {
    const stamps: Uint8Array[] = [];
    if (t.pts !== undefined) stamps.push(timestamp(t.dts !== undefined ? 0x3 : 0x2, t.pts));
    if (t.dts !== undefined) stamps.push(timestamp(0x1, t.dts));
    const optional = concat(...stamps);
    const flags = t.pts === undefined ? 0 : t.dts === undefined ? 0x80 : 0xc0;
    const length = t.bounded ? 3 + optional.length + payload.length : 0;
    const header = Uint8Array.of(0, 0, 1, streamId, length >> 8, length & 0xff, 0x80, flags, optional.length);
    const pes = concat(header, optional, payload);
    const packets: Uint8Array[] = [];
    for (let off = 0; off < pes.length; off += PACKET - 4) {
      packets.push(this.packet(pid, pes.subarray(off, off + PACKET - 4), { pusi: off === 0 }));
    }
    return concat(...packets);
  }
}

/** A 5-byte PTS/DTS field: 4-bit prefix, then 33 bits split 3/15/15 by marker bits. */
function timestamp(prefix: number, value: number): Uint8Array {
  const high = Math.floor(value / 0x40000000) & 0x07;
  const low = value % 0x40000000;
  return Uint8Array.of(
    (prefix << 4) | (high << 1) | 1,
    (low >>> 22) & 0xff,
    (((low >>> 15) & 0x7f) << 1) | 1,
    (low >>> 7) & 0xff,
    ((low & 0x7f) << 1) | 1,
  );
}
