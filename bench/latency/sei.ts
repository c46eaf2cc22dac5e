// The latency probe's in-band marker: an H.264 SEI "user data unregistered" NAL unit carrying
// the wall-clock time at which the publisher sent the access unit it precedes. The time is
// written as 16 hex digits (microseconds), so the payload never contains two zero bytes and
// needs no emulation prevention, and a reader can find it in an RTP payload without unescaping.

/** Identifies pushgate's probe SEI (no two consecutive zero bytes). */
const PROBE_UUID = Buffer.from('7067617465ac4c6174656e6379a1b2c3', 'hex');
const SEI_NAL = 6;
const USER_DATA_UNREGISTERED = 5;
const TIME_DIGITS = 16;
const PAYLOAD_SIZE = PROBE_UUID.length + TIME_DIGITS;
/** NAL header, payload type, payload size, UUID, time, rbsp trailing bits. */
export const PROBE_SEI_BYTES = 1 + 1 + 1 + PAYLOAD_SIZE + 1;

const H264_STAP_A = 24;
const H264_FU_A = 28;

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes. */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

/** The probe SEI NAL unit (without start code) for a send time in wall-clock ms. */
export function probeSei(sentAtMs: number): Buffer {
  const time = Math.round(sentAtMs * 1000).toString(16).padStart(TIME_DIGITS, '0');
  return Buffer.concat([Buffer.from([SEI_NAL, USER_DATA_UNREGISTERED, PAYLOAD_SIZE]), PROBE_UUID, Buffer.from(time, 'latin1'), Buffer.from([0x80])]);
}

/** The send time in a probe SEI NAL unit at `start` (its header byte), if that is one. */
function readProbeSei(packet: Buffer, start: number, end: number): number | undefined {
  if (end - start < PROBE_SEI_BYTES - 1) return undefined;
  if ((packet[start]! & 0x1f) !== SEI_NAL || packet[start + 1] !== USER_DATA_UNREGISTERED || packet[start + 2] !== PAYLOAD_SIZE) return undefined;
  if (!packet.subarray(start + 3, start + 3 + PROBE_UUID.length).equals(PROBE_UUID)) return undefined;
  const digits = packet.toString('latin1', start + 3 + PROBE_UUID.length, start + 3 + PAYLOAD_SIZE);
  const micros = Number.parseInt(digits, 16);
  return Number.isFinite(micros) ? micros / 1000 : undefined;
}

/**
 * The send time of a probe SEI in an H.264 RTP payload [start, end): a single NAL unit, one of
 * the units of a STAP-A, or the first fragment of a FU-A.
 */
export function findProbeSei(packet: Buffer, start: number, end: number): number | undefined {
  if (end - start < 2) return undefined;
  const type = packet[start]! & 0x1f;
  if (type === SEI_NAL) return readProbeSei(packet, start, end);
  if (type === H264_STAP_A) {
    for (let offset = start + 1; offset + 2 < end; ) {
      const size = packet.readUInt16BE(offset);
      if (size === 0 || offset + 2 + size > end) return undefined;
      const found = readProbeSei(packet, offset + 2, offset + 2 + size);
      if (found !== undefined) return found;
      offset += 2 + size;
    }
    return undefined;
  }
  if (type === H264_FU_A && (packet[start + 1]! & 0x80) !== 0 && (packet[start + 1]! & 0x1f) === SEI_NAL) {
    // The fragment's payload follows the FU header; rebuild the NAL header in a copy.
    const nal = Buffer.concat([Buffer.from([(packet[start]! & 0xe0) | SEI_NAL]), packet.subarray(start + 2, end)]);
    return readProbeSei(nal, 0, nal.length);
  }
  return undefined;
}
