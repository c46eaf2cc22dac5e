import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { adtsTrack, parseAdtsHeader } from '../../src/ingest/adts';
import { adtsFrameLengths } from './helpers/ts-media';

interface HeaderFields {
  profile?: number;
  sampleRateIndex?: number;
  channelConfig?: number;
  frameLength?: number;
  crc?: boolean;
}

/** A 7-byte ADTS header (9 with CRC) followed by zeroed payload up to frameLength. */
function adtsFrame(f: HeaderFields = {}): Uint8Array {
  const profile = f.profile ?? 1;
  const sr = f.sampleRateIndex ?? 3; // 48 kHz
  const ch = f.channelConfig ?? 2;
  const crc = f.crc ?? false;
  const length = f.frameLength ?? 100;
  const out = new Uint8Array(Math.max(length, 9));
  out[0] = 0xff;
  out[1] = 0xf0 | (crc ? 0 : 1); // MPEG-4, layer 0, protection_absent
  out[2] = (profile << 6) | (sr << 2) | (ch >> 2);
  out[3] = ((ch & 3) << 6) | ((length >> 11) & 3);
  out[4] = (length >> 3) & 0xff;
  out[5] = ((length & 7) << 5) | 0x1f; // buffer fullness 0x7FF (VBR)
  out[6] = 0xfc; // one raw data block
  return out;
}

void describe('parseAdtsHeader', () => {
  void it('reads sample rate, channels, frame length and profile', () => {
    assert.deepEqual(parseAdtsHeader(adtsFrame({ frameLength: 371 })), { sampleRate: 48000, channels: 2, frameLength: 371, profile: 1 });
  });

  void it('maps every sampling frequency index and 13-bit frame lengths', () => {
    const rates = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];
    rates.forEach((rate, index) => assert.equal(parseAdtsHeader(adtsFrame({ sampleRateIndex: index }))?.sampleRate, rate));
    assert.equal(parseAdtsHeader(adtsFrame({ frameLength: 8191 }))?.frameLength, 8191);
  });

  void it('reports channel configurations 1-6 as is and 7 as 8 channels', () => {
    for (let ch = 1; ch <= 6; ch++) assert.equal(parseAdtsHeader(adtsFrame({ channelConfig: ch }))?.channels, ch);
    assert.equal(parseAdtsHeader(adtsFrame({ channelConfig: 7 }))?.channels, 8);
  });

  void it('reads a header at an offset', () => {
    const data = new Uint8Array(110);
    data.set(adtsFrame({ channelConfig: 1, frameLength: 100 }), 10);
    assert.equal(parseAdtsHeader(data, 10)?.channels, 1);
    assert.equal(parseAdtsHeader(data, 0), undefined);
  });

  void it('accepts a CRC-protected header of 9 bytes', () => {
    assert.equal(parseAdtsHeader(adtsFrame({ crc: true, frameLength: 9 }))?.frameLength, 9);
    assert.equal(parseAdtsHeader(adtsFrame({ crc: true, frameLength: 8 })), undefined);
  });

  void it('returns undefined without a syncword or with a non-zero layer', () => {
    const noSync = adtsFrame();
    noSync[1] = 0xe1;
    assert.equal(parseAdtsHeader(noSync), undefined);
    const layer = adtsFrame();
    layer[1]! |= 0x02;
    assert.equal(parseAdtsHeader(layer), undefined);
    assert.equal(parseAdtsHeader(new TextEncoder().encode('not audio at all')), undefined);
  });

  void it('returns undefined for a reserved sampling frequency index', () => {
    for (const index of [13, 14, 15]) assert.equal(parseAdtsHeader(adtsFrame({ sampleRateIndex: index })), undefined);
  });

  void it('treats channel configuration 0 (channels in a PCE) as unsupported', () => {
    assert.equal(parseAdtsHeader(adtsFrame({ channelConfig: 0 })), undefined);
  });

  void it('returns undefined when the header is cut or its frame length is shorter than the header', () => {
    assert.equal(parseAdtsHeader(adtsFrame().subarray(0, 6)), undefined);
    assert.equal(parseAdtsHeader(adtsFrame(), 95), undefined);
    assert.equal(parseAdtsHeader(adtsFrame({ frameLength: 6 })), undefined);
    assert.equal(parseAdtsHeader(adtsFrame(), -1), undefined);
  });
});

void describe('adtsTrack', () => {
  void it('describes the AAC track of an ffmpeg ADTS stream, whose frames parse back to back', () => {
    const data = new Uint8Array(
      execFileSync('ffmpeg', [
        '-v', 'error', '-nostdin', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
        '-t', '1', '-c:a', 'aac', '-ac', '2', '-f', 'adts', '-',
      ]),
    );
    assert.deepEqual(adtsTrack(data), { kind: 'audio', codec: 'aac', sampleRate: 44100, channels: 2 });
    const lengths = adtsFrameLengths(data, parseAdtsHeader);
    assert.ok(lengths.length >= 43, `${lengths.length} frames`); // 1 s of 1024-sample frames at 44.1 kHz
  });

  void it('returns undefined when the data does not start with an ADTS frame', () => {
    assert.equal(adtsTrack(Uint8Array.of(0, 0, 0, 1, 0x67, 0x42, 0, 0x1e)), undefined);
    assert.equal(adtsTrack(adtsFrame({ channelConfig: 0 })), undefined);
  });
});
