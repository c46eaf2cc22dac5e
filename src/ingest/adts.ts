// ADTS frame headers (ISO/IEC 13818-7 / 14496-3): enough to describe an AAC track and walk its frames.

import type { AudioTrack } from '../core/media';

export interface AdtsHeader {
  readonly sampleRate: number;
  readonly channels: number;
  /** Whole frame, header included. */
  readonly frameLength: number;
  /** The 2-bit ADTS profile field: audio object type - 1 (1 = AAC-LC). */
  readonly profile: number;
}

// Indexes 13..15 are reserved/escape: a real ADTS stream never uses them.
const SAMPLE_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/** The ADTS header at `offset`, or undefined when there is no valid one there. */
export function parseAdtsHeader(
  data: Uint8Array,
  offset = 0,
): { sampleRate: number; channels: number; frameLength: number; profile: number } | undefined {
  if (offset < 0 || offset + 7 > data.length) return undefined;
  const b1 = data[offset + 1]!;
  const b2 = data[offset + 2]!;
  const b3 = data[offset + 3]!;
  // 12-bit syncword, then layer must be 0.
  if (data[offset] !== 0xff || (b1 & 0xf6) !== 0xf0) return undefined;
  const sampleRate = SAMPLE_RATES[(b2 >> 2) & 0x0f];
  if (sampleRate === undefined) return undefined;
  // Configuration 0 means "described in-band by a PCE": too rare to be worth supporting.
  const channelConfig = ((b2 & 0x01) << 2) | (b3 >> 6);
  if (channelConfig === 0) return undefined;
  const frameLength = ((b3 & 0x03) << 11) | (data[offset + 4]! << 3) | (data[offset + 5]! >> 5);
  const headerLength = b1 & 0x01 ? 7 : 9; // protection_absent = 0 adds a CRC
  if (frameLength < headerLength) return undefined;
  return {
    sampleRate,
    channels: channelConfig === 7 ? 8 : channelConfig,
    frameLength,
    profile: b2 >> 6,
  };
}

/** The AAC track described by the ADTS frame at the start of `data`. */
export function adtsTrack(data: Uint8Array): AudioTrack | undefined {
  const header = parseAdtsHeader(data, 0);
  if (!header) return undefined;
  return { kind: 'audio', codec: 'aac', sampleRate: header.sampleRate, channels: header.channels };
}
