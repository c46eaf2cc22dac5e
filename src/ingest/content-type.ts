import { PushgateError } from '../core/errors';
import type { IngestFormat } from '../core/stream';

const FORMATS: Record<string, IngestFormat> = {
  'video/h264': 'h264',
  'video/h265': 'h265',
  'video/hevc': 'h265',
  'video/mp2t': 'mpegts',
  'video/x-matroska': 'matroska',
  'video/matroska': 'matroska',
  'video/webm': 'matroska',
};

export const SUPPORTED_CONTENT_TYPES = ['video/h264', 'video/h265', 'video/mp2t', 'video/x-matroska', 'video/webm'] as const;

/** Content types that say nothing about the format: the first bytes will tell. */
const UNTYPED = new Set(['', 'application/octet-stream']);

/**
 * The ingest format a Content-Type names, or undefined when there is none to go by (ffmpeg
 * sends no Content-Type). Throws UNSUPPORTED_MEDIA_TYPE for a type pushgate does not ingest.
 */
export function formatFromContentType(header: string | undefined): IngestFormat | undefined {
  const mime = header?.split(';')[0]?.trim().toLowerCase() ?? '';
  if (UNTYPED.has(mime)) return undefined;
  const format = mime ? FORMATS[mime] : undefined;
  if (!format) {
    throw new PushgateError(
      'UNSUPPORTED_MEDIA_TYPE',
      `unsupported Content-Type "${mime}": push one of ${SUPPORTED_CONTENT_TYPES.join(', ')}`,
    );
  }
  return format;
}
