import { PushgateError } from './errors';

const SEGMENT = /^[A-Za-z0-9_.-]+$/;
export const MAX_STREAM_NAME_LENGTH = 128;

/** Returns the name if it is valid, throws INVALID_STREAM_NAME otherwise. */
export function parseStreamName(raw: string): string {
  const valid =
    raw.length > 0 &&
    raw.length <= MAX_STREAM_NAME_LENGTH &&
    raw.split('/').every((segment) => SEGMENT.test(segment) && segment !== '.' && segment !== '..');
  if (!valid) {
    throw new PushgateError(
      'INVALID_STREAM_NAME',
      `invalid stream name ${JSON.stringify(raw.slice(0, 200))}: use 1 or more "/"-separated segments of [A-Za-z0-9_.-], at most ${MAX_STREAM_NAME_LENGTH} characters`,
    );
  }
  return raw;
}
