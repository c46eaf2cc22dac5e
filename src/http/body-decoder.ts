// The framing of an HTTP/1.1 request body (RFC 9112 §6-7), for a body Node's HTTP parser has
// handed over (raw-push.ts): chunked, or as long as its Content-Length. Bytes in, body bytes out.
import { PushgateError } from '../core/errors';

/** A chunk-size line, or a trailer line, longer than this is refused (hex size plus extensions). */
const MAX_LINE = 4096;
/** All trailer lines together. */
const MAX_TRAILERS = 16 * 1024;
/** Chunk sizes beyond 2^53 cannot be counted exactly; none so large is real. */
const MAX_SIZE_DIGITS = 13;
/** How much of a bad size line the error quotes; a bad line is refused once this much of it came. */
const QUOTED = 40;

type State = 'size' | 'data' | 'data-end' | 'trailers' | 'done';

export class BodyDecoder {
  #state: State;
  /** Bytes left of the current chunk, or of the whole body with a Content-Length. */
  #remaining: number;
  readonly #chunked: boolean;
  /** The line being read (a size line, or a trailer), split over reads. */
  #line = '';
  #trailerBytes = 0;
  /** The CR of the CRLF after a chunk's data was seen. */
  #crSeen = false;

  /** `contentLength` undefined: the body is chunked. */
  constructor(contentLength: number | undefined) {
    this.#chunked = contentLength === undefined;
    this.#remaining = contentLength ?? 0;
    this.#state = this.#chunked ? 'size' : contentLength === 0 ? 'done' : 'data';
  }

  /** The body is complete: bytes after it are not the body's. */
  get done(): boolean {
    return this.#state === 'done';
  }

  /** The body bytes in `bytes` (views into it). Throws BAD_REQUEST on broken chunk framing. */
  decode(bytes: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let i = 0;
    while (i < bytes.byteLength && this.#state !== 'done') {
      switch (this.#state) {
        case 'data': {
          const take = Math.min(this.#remaining, bytes.byteLength - i);
          out.push(bytes.subarray(i, i + take));
          i += take;
          this.#remaining -= take;
          if (this.#remaining === 0) this.#state = this.#chunked ? 'data-end' : 'done';
          break;
        }
        case 'data-end': {
          // CRLF, or a bare LF (as Node's parser and the native ingest accept).
          const byte = bytes[i++];
          if (byte === 0x0d && !this.#crSeen) {
            this.#crSeen = true;
          } else if (byte === 0x0a) {
            this.#crSeen = false;
            this.#state = 'size';
          } else {
            throw framingError('CRLF expected after chunk data');
          }
          break;
        }
        default: {
          const end = bytes.indexOf(0x0a, i);
          const piece = Buffer.from(bytes.buffer, bytes.byteOffset + i, (end < 0 ? bytes.byteLength : end) - i).toString('latin1');
          i = end < 0 ? bytes.byteLength : end + 1;
          this.#line += piece;
          // A trailer line that begins with a CR can only be the empty line ending the body:
          // anything but its LF after that CR is refused at once, as the native ingest does.
          if (this.#state === 'trailers' && this.#line.length > 1 && this.#line.charCodeAt(0) === 0x0d) throw framingError('CRLF expected after the last chunk');
          // A longer line that is bad so far cannot become good, and its quote is known: no need
          // to wait for its LF (a publisher sending garbage may never send one).
          if (this.#state === 'size' && this.#line.length > QUOTED && sizeDigits(this.#line) === undefined) throw badSizeLine(this.#line);
          if (this.#line.length > MAX_LINE) throw framingError(`${this.#state === 'size' ? 'chunk size line' : 'trailer line'} longer than ${MAX_LINE} bytes`);
          if (end >= 0) this.#endLine();
        }
      }
    }
    return out;
  }

  #endLine(): void {
    const whole = this.#line;
    const line = whole.endsWith('\r') ? whole.slice(0, -1) : whole;
    this.#line = '';
    if (this.#state === 'trailers') {
      this.#trailerBytes += line.length + 2;
      if (this.#trailerBytes > MAX_TRAILERS) throw framingError(`trailers longer than ${MAX_TRAILERS} bytes`);
      if (line === '') this.#state = 'done';
      return;
    }
    const size = sizeDigits(whole);
    if (size === undefined) throw badSizeLine(line);
    this.#remaining = parseInt(size, 16);
    this.#state = this.#remaining === 0 ? 'trailers' : 'data';
  }
}

/** The hex digits of a size line (its final CR left out): chunk-size [BWS] [; chunk-ext], extensions meaning nothing to pushgate. */
function sizeDigits(line: string): string | undefined {
  const size = /^([0-9a-fA-F]+)[ \t]*(?:;.*)?$/.exec(line.endsWith('\r') ? line.slice(0, -1) : line)?.[1];
  return size === undefined || size.replace(/^0+(?=.)/, '').length > MAX_SIZE_DIGITS ? undefined : size;
}

function badSizeLine(line: string): PushgateError {
  return framingError(`bad chunk size line "${line.slice(0, QUOTED)}"`);
}

function framingError(what: string): PushgateError {
  return new PushgateError('BAD_REQUEST', `malformed chunked request body: ${what}`);
}
