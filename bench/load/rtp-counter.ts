// Per-reader RTP accounting, kept cheap because it runs for every packet of every reader:
// bytes, packets, sequence gaps (loss), the arrival of the first H.264 keyframe, and the
// latency probe's send times (SEI) when the publisher is the probe.
import { findProbeSei, wallClockMs } from '../latency/sei';

const H264_IDR = 5;
const H264_STAP_A = 24;
const H264_FU_A = 28;

/** Does this H.264 RTP payload carry (the start of) an IDR slice, alone, in a STAP-A or a FU-A? */
export function payloadHasIdr(packet: Buffer, start: number, end: number): boolean {
  if (end - start < 2) return false;
  const type = packet[start]! & 0x1f;
  if (type === H264_IDR) return true;
  if (type === H264_FU_A) {
    const fuHeader = packet[start + 1]!;
    return (fuHeader & 0x80) !== 0 && (fuHeader & 0x1f) === H264_IDR;
  }
  if (type === H264_STAP_A) {
    for (let offset = start + 1; offset + 2 < end; ) {
      const size = packet.readUInt16BE(offset);
      if (size === 0 || offset + 2 + size > end) return false;
      if ((packet[offset + 2]! & 0x1f) === H264_IDR) return true;
      offset += 2 + size;
    }
  }
  return false;
}

/** Offset of an RTP packet's payload (after CSRCs and extension), or -1 if it is not RTP. */
function payloadOffset(packet: Buffer, start: number, length: number): number {
  const first = packet[start]!;
  if (length < 12 || first >> 6 !== 2) return -1;
  let offset = start + 12 + 4 * (first & 0x0f);
  if (first & 0x10) {
    if (offset + 4 > start + length) return -1;
    offset += 4 + 4 * packet.readUInt16BE(offset + 2);
  }
  return offset <= start + length ? offset : -1;
}

export class RtpCounter {
  bytes = 0;
  packets = 0;
  lost = 0;
  /** performance.now() when PLAY was sent. */
  playSentAt: number | undefined;
  /** Milliseconds from PLAY to the first packet of a keyframe. */
  firstKeyframeMs: number | undefined;
  /** Push-to-reader latency (ms) of each probe SEI received. */
  readonly latenciesMs: number[] = [];
  #lastSeq = -1;

  /** One RTP packet: `length` bytes of `packet` from `start`. */
  onPacket(packet: Buffer, start: number, length: number): void {
    if (length < 12) return;
    this.packets++;
    this.bytes += length;
    const seq = packet.readUInt16BE(start + 2);
    if (this.#lastSeq >= 0) {
      const gap = (seq - this.#lastSeq - 1) & 0xffff;
      // A small forward jump is loss; a "jump" of almost 65536 is a late or repeated packet.
      if (gap >= 0x8000) return;
      this.lost += gap;
    }
    this.#lastSeq = seq;
    const payload = payloadOffset(packet, start, length);
    if (payload < 0) return;
    if (this.firstKeyframeMs === undefined && this.playSentAt !== undefined && payloadHasIdr(packet, payload, start + length)) {
      this.firstKeyframeMs = performance.now() - this.playSentAt;
    }
    const sentAt = findProbeSei(packet, payload, start + length);
    if (sentAt !== undefined) this.latenciesMs.push(wallClockMs() - sentAt);
  }
}
