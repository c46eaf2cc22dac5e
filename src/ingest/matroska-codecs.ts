// What Matroska's codec IDs and CodecPrivate mean for the codecs pushgate serves: H.264/H.265
// configuration records (ISO/IEC 14496-15) and length-prefixed NAL units turned into the Annex-B
// the rest of ingest takes, Opus (RFC 7845 OpusHead, RFC 6716 TOC) and AAC (AudioSpecificConfig
// to ADTS headers, which the RTSP side's AAC branch parses).
import { SECOND } from '../core/clock';
import { PushgateError } from '../core/errors';
import type { AudioTrack, VideoCodec } from '../core/media';

export const MATROSKA_VIDEO_CODECS: Readonly<Record<string, VideoCodec>> = {
  'V_MPEG4/ISO/AVC': 'h264',
  'V_MPEGH/ISO/HEVC': 'h265',
};

export interface VideoConfig {
  /** SPS/PPS (and VPS) as Annex-B, each with a 4-byte start code. */
  readonly parameterSets: Uint8Array;
  /** Bytes of each NAL unit's length prefix in the blocks (1, 2 or 4). */
  readonly lengthSize: number;
}

const START_CODE = Uint8Array.of(0, 0, 0, 1);

/** An avcC (AVCDecoderConfigurationRecord) or hvcC (HEVCDecoderConfigurationRecord). */
export function parseVideoConfig(codec: VideoCodec, record: Uint8Array): VideoConfig {
  const nals: Uint8Array[] = [];
  const fail = (): never => {
    throw new PushgateError('INVALID_MEDIA', `the Matroska track's ${codec === 'h264' ? 'avcC' : 'hvcC'} CodecPrivate is cut short or not one`);
  };
  const take = (offset: number): number => {
    if (offset + 2 > record.byteLength) fail();
    const length = (record[offset]! << 8) | record[offset + 1]!;
    if (offset + 2 + length > record.byteLength) fail();
    nals.push(record.subarray(offset + 2, offset + 2 + length));
    return offset + 2 + length;
  };
  let lengthSize: number;
  if (codec === 'h264') {
    if (record.byteLength < 7 || record[0] !== 1) fail();
    lengthSize = (record[4]! & 0x03) + 1;
    let offset = 6;
    for (let sps = record[5]! & 0x1f; sps > 0; sps--) offset = take(offset);
    if (offset >= record.byteLength) fail();
    let pps = record[offset++]!;
    for (; pps > 0; pps--) offset = take(offset);
    // High profiles may add chroma and bit-depth fields and SPS extensions: not needed.
  } else {
    if (record.byteLength < 23) fail();
    lengthSize = (record[21]! & 0x03) + 1;
    let offset = 23;
    for (let arrays = record[22]!; arrays > 0; arrays--) {
      if (offset + 3 > record.byteLength) fail();
      let count = (record[offset + 1]! << 8) | record[offset + 2]!;
      offset += 3;
      for (; count > 0; count--) offset = take(offset);
    }
  }
  if (lengthSize === 3) fail();
  return { parameterSets: Buffer.concat(nals.flatMap((nal) => [START_CODE, nal])), lengthSize };
}

/** A block of length-prefixed NAL units as Annex-B (4-byte start codes). */
export function lengthPrefixedToAnnexB(block: Uint8Array, lengthSize: number): Uint8Array {
  const nals: Uint8Array[] = [];
  let size = 0;
  for (let offset = 0; offset < block.byteLength; ) {
    if (offset + lengthSize > block.byteLength) throw new PushgateError('INVALID_MEDIA', 'a Matroska video block ends inside a NAL unit length');
    let length = 0;
    for (let i = 0; i < lengthSize; i++) length = length * 256 + block[offset + i]!;
    offset += lengthSize;
    if (offset + length > block.byteLength) {
      throw new PushgateError('INVALID_MEDIA', `a Matroska video block's NAL unit of ${length} bytes runs past the block (${block.byteLength - offset} left)`);
    }
    if (length > 0) {
      nals.push(block.subarray(offset, offset + length));
      size += 4 + length;
    }
    offset += length;
  }
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  for (const nal of nals) {
    out.set(START_CODE, pos);
    out.set(nal, pos + 4);
    pos += 4 + nal.byteLength;
  }
  return out;
}

// ---- audio ----

export interface AudioConfig {
  readonly track: AudioTrack;
  /** One block frame as the RTSP side's appsrc takes it. */
  readonly unit: (frame: Uint8Array) => Uint8Array;
  /** ns of audio in one frame. */
  readonly duration: (frame: Uint8Array) => number;
}

const AAC_SAMPLE_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/** The audio codecs the RTSP side serves; undefined for others (the track is left out). */
export function audioConfig(codecId: string, codecPrivate: Uint8Array | undefined, channels: number | undefined): AudioConfig | undefined {
  if (codecId === 'A_OPUS') {
    // OpusHead: "OpusHead", version, channel count. RTP carries Opus at 48 kHz whatever the input rate.
    const headChannels = codecPrivate && codecPrivate.byteLength >= 10 ? codecPrivate[9] : undefined;
    const track: AudioTrack = { kind: 'audio', codec: 'opus', sampleRate: 48000, channels: headChannels || channels || 2 };
    if (track.channels > 2) return undefined; // multichannel Opus needs a channel mapping RTP readers rarely take
    return { track, unit: (frame) => frame, duration: opusPacketDuration };
  }
  if (codecId === 'A_AAC' || codecId.startsWith('A_AAC/')) {
    if (!codecPrivate || codecPrivate.byteLength < 2) return undefined;
    const objectType = codecPrivate[0]! >> 3;
    const rateIndex = ((codecPrivate[0]! & 0x07) << 1) | (codecPrivate[1]! >> 7);
    const channelConfig = (codecPrivate[1]! >> 3) & 0x0f;
    const sampleRate = AAC_SAMPLE_RATES[rateIndex];
    // ADTS can only say object types 1..4 and a channel configuration.
    if (sampleRate === undefined || objectType < 1 || objectType > 4 || channelConfig === 0) return undefined;
    const track: AudioTrack = { kind: 'audio', codec: 'aac', sampleRate, channels: channelConfig === 7 ? 8 : channelConfig };
    return {
      track,
      unit: (frame) => withAdtsHeader(frame, objectType - 1, rateIndex, channelConfig),
      duration: () => Math.round((1024 * SECOND) / sampleRate),
    };
  }
  return undefined;
}

/** ns of audio in an Opus packet, from its TOC byte (RFC 6716 3.1). */
export function opusPacketDuration(packet: Uint8Array): number {
  if (packet.byteLength < 1) return 0;
  const toc = packet[0]!;
  const config = toc >> 3;
  const frameUs = config < 12 ? [10_000, 20_000, 40_000, 60_000][config & 3]! : config < 16 ? [10_000, 20_000][config & 1]! : [2_500, 5_000, 10_000, 20_000][config & 3]!;
  const code = toc & 0x03;
  const frames = code === 0 ? 1 : code < 3 ? 2 : packet.byteLength > 1 ? packet[1]! & 0x3f : 1;
  return frames * frameUs * 1000;
}

function withAdtsHeader(frame: Uint8Array, profile: number, rateIndex: number, channelConfig: number): Uint8Array {
  const length = frame.byteLength + 7;
  const out = Buffer.allocUnsafe(length);
  out[0] = 0xff;
  out[1] = 0xf1; // MPEG-4, layer 0, no CRC
  out[2] = (profile << 6) | (rateIndex << 2) | (channelConfig >> 2);
  out[3] = ((channelConfig & 0x03) << 6) | (length >> 11);
  out[4] = (length >> 3) & 0xff;
  out[5] = ((length & 0x07) << 5) | 0x1f;
  out[6] = 0xfc;
  out.set(frame, 7);
  return out;
}
