// What pushgate needs to know of a WHEP offer (RFC 9725: an SDP offer, RFC 8829/8866), read as
// plain text: which m-line takes the video and with which H.264 payload type, which takes the
// audio (Opus), and that it is an offer at all. GStreamer's webrtcbin does the negotiation
// itself; this only chooses, and refuses with a clear code what it could not serve.
import { PushgateError } from './errors';

/** One m-line pushgate sends on: its index in the offer, its mid and the payload type chosen. */
export interface OfferedTrack {
  readonly index: number;
  readonly mid: string | undefined;
  readonly payloadType: number;
  /** H.264 only: the chosen format's profile-level-id (6 hex digits), which the answer repeats. */
  readonly profileLevelId?: string;
}

export interface WhepOffer {
  readonly video: OfferedTrack;
  /** Undefined when the offer takes no Opus audio. */
  readonly audio: OfferedTrack | undefined;
  /** m-lines in the offer (those pushgate does not serve are answered inactive by webrtcbin). */
  readonly mediaCount: number;
}

interface MediaSection {
  readonly kind: string;
  readonly port: number;
  readonly formats: readonly string[];
  readonly attributes: readonly string[];
}

/** The profile_idc pushgate's video track description names ("High@4.0" -> 0x64). */
const PROFILE_IDC: Readonly<Record<string, number>> = { baseline: 0x42, 'constrained baseline': 0x42, main: 0x4d, extended: 0x58, high: 0x64 };

/** Largest offer read: browsers' offers are a few kB. */
export const MAX_OFFER_BYTES = 64 * 1024;

/**
 * Reads an offer and chooses what to send: H.264 with packetization-mode=1 (the stream's own
 * profile when offered, else the first such format: no transcoding, browsers decode any
 * profile they offer) and Opus when `wantAudio`. Throws WHEP_OFFER_INVALID for text that is no
 * SDP offer, WHEP_CODEC_UNSUPPORTED when there is no video pushgate can send on.
 */
export function parseWhepOffer(sdp: string, options: { readonly videoProfile?: string | undefined; readonly wantAudio: boolean }): WhepOffer {
  const { session, media } = sections(sdp);
  if (media.length === 0) throw new PushgateError('WHEP_OFFER_INVALID', 'the offer has no media (m=) line');
  const sessionAttrs = session.filter((l) => l.startsWith('a=')).map((l) => l.slice(2));
  const has = (m: MediaSection, name: string): boolean => [...sessionAttrs, ...m.attributes].some((a) => a === name || a.startsWith(`${name}:`));
  for (const m of media) {
    if (!active(m)) continue;
    for (const needed of ['ice-ufrag', 'ice-pwd', 'fingerprint']) {
      if (!has(m, needed)) throw new PushgateError('WHEP_OFFER_INVALID', `the offer's ${m.kind} media has no a=${needed} (WebRTC needs ICE and DTLS-SRTP)`);
    }
  }
  const videoIndex = media.findIndex((m) => m.kind === 'video' && active(m) && receives(m, sessionAttrs));
  if (videoIndex < 0) throw new PushgateError('WHEP_CODEC_UNSUPPORTED', 'the offer receives no video (a recvonly or sendrecv m=video line is needed)');
  const videoMedia = media[videoIndex]!;
  const h264 = formatsOf(videoMedia, 'H264/90000').filter((f) => fmtpValue(f.fmtp, 'packetization-mode') === '1');
  if (h264.length === 0) throw new PushgateError('WHEP_CODEC_UNSUPPORTED', 'the offer has no H.264 with packetization-mode=1, the only video pushgate sends (it does not transcode)');
  const wantedIdc = options.videoProfile ? PROFILE_IDC[options.videoProfile.split('@')[0]!.trim().toLowerCase()] : undefined;
  const idcOf = (fmtp: string): number | undefined => {
    const id = fmtpValue(fmtp, 'profile-level-id');
    return id && /^[0-9a-f]{6}$/i.test(id) ? parseInt(id.slice(0, 2), 16) : undefined;
  };
  const chosen = h264.find((f) => wantedIdc !== undefined && idcOf(f.fmtp) === wantedIdc) ?? h264[0]!;
  const profileLevelId = fmtpValue(chosen.fmtp, 'profile-level-id');
  const video: OfferedTrack = {
    index: videoIndex,
    mid: midOf(videoMedia),
    payloadType: chosen.payloadType,
    ...(profileLevelId && /^[0-9a-f]{6}$/i.test(profileLevelId) ? { profileLevelId: profileLevelId.toLowerCase() } : { profileLevelId: '42e01f' }),
  };
  let audio: OfferedTrack | undefined;
  if (options.wantAudio) {
    const audioIndex = media.findIndex((m) => m.kind === 'audio' && active(m) && receives(m, sessionAttrs));
    const opus = audioIndex < 0 ? undefined : formatsOf(media[audioIndex]!, 'opus/48000/2')[0];
    if (opus) audio = { index: audioIndex, mid: midOf(media[audioIndex]!), payloadType: opus.payloadType };
  }
  return { video, audio, mediaCount: media.length };
}

function sections(sdp: string): { session: string[]; media: MediaSection[] } {
  if (sdp.length > MAX_OFFER_BYTES) throw new PushgateError('WHEP_OFFER_INVALID', `the offer is larger than ${MAX_OFFER_BYTES} bytes`);
  const lines = sdp.split(/\r?\n/).map((l) => l.trimEnd()).filter((l) => l.length > 0);
  if (lines[0] !== 'v=0') throw new PushgateError('WHEP_OFFER_INVALID', 'the body is not an SDP description (it must start with v=0)');
  const session: string[] = [];
  const media: { kind: string; port: number; formats: string[]; attributes: string[] }[] = [];
  for (const line of lines) {
    if (!/^[a-z]=/.test(line)) throw new PushgateError('WHEP_OFFER_INVALID', `not an SDP line: "${line.slice(0, 60)}"`);
    if (line.startsWith('m=')) {
      const [kind, port, , ...formats] = line.slice(2).split(/\s+/);
      const portNumber = Number((port ?? '').split('/')[0]);
      if (!kind || !Number.isInteger(portNumber) || formats.length === 0) throw new PushgateError('WHEP_OFFER_INVALID', `malformed media line "${line.slice(0, 80)}"`);
      media.push({ kind, port: portNumber, formats, attributes: [] });
    } else if (media.length > 0) {
      if (line.startsWith('a=')) media[media.length - 1]!.attributes.push(line.slice(2));
    } else {
      session.push(line);
    }
  }
  return { session, media };
}

/** Not rejected: a port, or port 0 with bundle-only (RFC 9143: it shares the BUNDLE's transport). */
function active(m: MediaSection): boolean {
  return m.port !== 0 || m.attributes.includes('bundle-only');
}

/** The offerer receives on it: recvonly or sendrecv (the default). */
function receives(m: MediaSection, sessionAttrs: readonly string[]): boolean {
  const directions = ['sendrecv', 'recvonly', 'sendonly', 'inactive'];
  const direction = m.attributes.find((a) => directions.includes(a)) ?? sessionAttrs.find((a) => directions.includes(a)) ?? 'sendrecv';
  return direction === 'recvonly' || direction === 'sendrecv';
}

function midOf(m: MediaSection): string | undefined {
  return m.attributes.find((a) => a.startsWith('mid:'))?.slice(4).trim();
}

/** The formats of `m` whose rtpmap is `encoding` (case-insensitive), in the offer's order of preference. */
function formatsOf(m: MediaSection, encoding: string): { payloadType: number; fmtp: string }[] {
  const result: { payloadType: number; fmtp: string }[] = [];
  for (const format of m.formats) {
    const payloadType = Number(format);
    if (!Number.isInteger(payloadType) || payloadType < 0 || payloadType > 127) continue;
    const rtpmap = m.attributes.find((a) => a.startsWith(`rtpmap:${format} `))?.slice(`rtpmap:${format} `.length).trim();
    if (rtpmap?.toLowerCase() !== encoding.toLowerCase() && !(encoding.toLowerCase() === 'opus/48000/2' && rtpmap?.toLowerCase() === 'opus/48000')) continue;
    const fmtp = m.attributes.find((a) => a.startsWith(`fmtp:${format} `))?.slice(`fmtp:${format} `.length).trim() ?? '';
    result.push({ payloadType, fmtp });
  }
  return result;
}

function fmtpValue(fmtp: string, key: string): string | undefined {
  for (const part of fmtp.split(';')) {
    const [k, v] = part.split('=');
    if (k?.trim().toLowerCase() === key) return v?.trim();
  }
  return undefined;
}
