// Recognises the format of a push that came without a Content-Type (ffmpeg sends none for
// -f h264 / -f hevc / -f mpegts) from its first bytes.
import type { IngestFormat } from '../core/stream';

const TS_PACKET = 188;
/** Give up deciding after this many bytes. */
export const SNIFF_LIMIT = 64 * 1024;

/** The format, `undefined` if these bytes are none of ours, or 'more' to wait for more bytes. */
export function sniffFormat(head: Uint8Array): IngestFormat | undefined | 'more' {
  // The EBML header's ID opens every Matroska/WebM stream.
  if (head[0] === 0x1a && (head.byteLength < 4 || (head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3))) return head.byteLength < 4 ? 'more' : 'matroska';
  if (head[0] === 0x47) {
    if (head.byteLength < 3 * TS_PACKET + 1) return 'more';
    if (head[TS_PACKET] === 0x47 && head[2 * TS_PACKET] === 0x47 && head[3 * TS_PACKET] === 0x47) return 'mpegts';
  }
  const nal = firstNalHeader(head);
  if (nal === 'more') return head.byteLength < SNIFF_LIMIT ? 'more' : undefined;
  if (!nal) return undefined;
  const [first, second] = nal;
  // H.265 parameter sets, AUD and prefix SEI with layer 0, temporal id 1: 0x40..0x4E, 0x01.
  if (second === 0x01 && [0x40, 0x42, 0x44, 0x46, 0x4e].includes(first)) return 'h265';
  // H.264 SEI, SPS, PPS or AUD: what an encoder sends first.
  if ((first & 0x80) === 0 && [6, 7, 8, 9].includes(first & 0x1f)) return 'h264';
  return undefined;
}

/** The two bytes after the first start code of the head, if the head starts like Annex-B. */
function firstNalHeader(head: Uint8Array): [number, number] | undefined | 'more' {
  // Annex-B streams start with a start code, possibly after zero bytes.
  let i = 0;
  while (i < head.byteLength && head[i] === 0) i++;
  if (i === head.byteLength) return 'more';
  if (i < 2 || head[i] !== 1) return undefined;
  if (i + 2 >= head.byteLength) return 'more';
  return [head[i + 1]!, head[i + 2]!];
}
