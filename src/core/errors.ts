// One error type with a literal code: thrown where the fact is known, mapped to HTTP in one place.

export const ErrorCodes = {
  INVALID_STREAM_NAME: { status: 400, doc: 'The stream name is not 1+ "/"-separated segments of [A-Za-z0-9_.-], at most 128 chars.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, doc: 'The push has no Content-Type or one pushgate does not ingest; a WHEP offer is not application/sdp.' },
  STREAM_BUSY: { status: 409, doc: 'Another publisher is live on this stream name.' },
  STREAM_NOT_FOUND: { status: 404, doc: 'No stream of that name is live.' },
  READER_NOT_FOUND: { status: 404, doc: 'No RTSP reader has that id (it left, or never was).' },
  PUBLISHER_NOT_FOUND: { status: 404, doc: 'No publisher is pushing that stream now (it is not live, or in its grace period).' },
  PUBLISHER_KICKED: { status: 409, doc: 'An operator ended this push through the control API (DELETE /v1/publishers/<name>).' },
  READERS_UNAVAILABLE: { status: 501, doc: 'Readers cannot be listed or kicked: the native plugin (pgreaders) is not built.' },
  INVALID_MEDIA: { status: 422, doc: 'The pushed bytes are not a valid stream of the declared Content-Type.' },
  TRUNCATED_MEDIA: { status: 400, doc: 'The push ended in the middle of a frame or packet.' },
  UNSUPPORTED_CODEC: { status: 422, doc: 'The stream carries a codec pushgate cannot serve (e.g. MPEG-2 video in TS).' },
  PUBLISHER_IDLE: { status: 408, doc: 'The publisher sent nothing for longer than the idle timeout.' },
  PUSH_ABORTED: { status: 400, doc: 'The publisher closed the connection before the body was complete.' },
  MEDIA_ENGINE: { status: 500, doc: 'GStreamer could not build or run the stream (a pushgate bug or a missing plugin).' },
  STREAM_LIMIT: { status: 503, doc: 'The gateway already serves --max-streams streams: a new name is refused until one ends.' },
  PUBLISHER_LIMIT: { status: 429, doc: 'This source address already runs --max-publishers-per-address pushes.' },
  HEADERS_TOO_LARGE: { status: 431, doc: 'The request head is larger than --max-header-size.' },
  HEADERS_TIMEOUT: { status: 408, doc: 'The client did not send its whole request head within --header-timeout.' },
  BAD_REQUEST: { status: 400, doc: 'The request is not valid HTTP/1.1 (malformed start line, headers or chunked framing).' },
  UNAUTHORIZED: { status: 401, doc: 'No or wrong credentials; the WWW-Authenticate header says which schemes are accepted.' },
  FORBIDDEN: { status: 403, doc: 'The credentials are right but do not allow this action on this stream from this address.' },
  SHUTTING_DOWN: { status: 503, doc: 'The gateway is stopping.' },
  WHEP_OFFER_INVALID: { status: 400, doc: 'The WHEP body is not an SDP offer WebRTC can answer (no v=0, no m= line, no ICE credentials or DTLS fingerprint).' },
  WHEP_CODEC_UNSUPPORTED: { status: 422, doc: 'The WHEP offer receives no video pushgate can send without transcoding: H.264 with packetization-mode=1 (an H.265 stream cannot be watched over WebRTC).' },
  WHEP_SESSION_NOT_FOUND: { status: 404, doc: 'No WebRTC watcher has that WHEP session id (it ended, or never was).' },
  WHEP_METHOD_NOT_ALLOWED: { status: 405, doc: 'PATCH of a WHEP session: pushgate answers with every ICE candidate and takes no trickled candidates or ICE restarts.' },
  WEBRTC_WATCHER_LIMIT: { status: 503, doc: 'The stream already has --max-webrtc-watchers-per-stream WebRTC watchers, or the gateway --max-webrtc-watchers.' },
  WEBRTC_UNAVAILABLE: { status: 501, doc: 'WebRTC playback is off (--webrtc off) or GStreamer lacks webrtcbin or the ICE plugin (gstreamer1.0-nice).' },
  DRAINING: { status: 503, doc: 'The gateway is draining before a restart: it serves its readers but takes no new push (push to another node).' },
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class PushgateError extends Error {
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PushgateError';
    this.code = code;
    this.status = ErrorCodes[code].status;
  }
}

export function isPushgateError(err: unknown): err is PushgateError {
  return err instanceof PushgateError;
}
