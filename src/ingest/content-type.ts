import { PushgateError } from '../core/errors';
import type { IngestFormat } from '../core/stream';

const FORMATS: Record<string, IngestFormat> = {
  'video/h264': 'h264',
  'video/h265': 'h265',
  'video/hevc': 'h265',
  'video/mp2t': 'mpegts',
};

export const SUPPORTED_CONTENT_TYPES = ['video/h264', 'video/h265', 'video/mp2t'] as const;

/** Picks the ingest format from a Content-Type header; throws UNSUPPORTED_MEDIA_TYPE otherwise. */
export function formatFromContentType(header: string | undefined): IngestFormat {
  const mime = header?.split(';')[0]?.trim().toLowerCase();
  const format = mime ? FORMATS[mime] : undefined;
  if (!format) {
    throw new PushgateError(
      'UNSUPPORTED_MEDIA_TYPE',
      `${mime ? `unsupported Content-Type "${mime}"` : 'missing Content-Type'}: push one of ${SUPPORTED_CONTENT_TYPES.join(', ')}`,
    );
  }
  return format;
}
