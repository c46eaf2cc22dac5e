import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isPushgateError } from '../../src/core/errors';
import { parseWhepOffer } from '../../src/core/webrtc-offer';

// A browser-like recvonly offer: BUNDLEd audio then video, several H.264 formats.
const OFFER = [
  'v=0',
  'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0 1',
  'a=fingerprint:sha-256 AA:BB',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111 0',
  'c=IN IP4 0.0.0.0',
  'a=ice-ufrag:abcd',
  'a=ice-pwd:abcdefghijklmnopqrstuvwx',
  'a=mid:0',
  'a=recvonly',
  'a=rtpmap:111 opus/48000/2',
  'a=fmtp:111 minptime=10;useinbandfec=1',
  'a=rtpmap:0 PCMU/8000',
  'm=video 9 UDP/TLS/RTP/SAVPF 96 102 104 106',
  'c=IN IP4 0.0.0.0',
  'a=ice-ufrag:abcd',
  'a=ice-pwd:abcdefghijklmnopqrstuvwx',
  'a=mid:1',
  'a=recvonly',
  'a=rtpmap:96 VP8/90000',
  'a=rtpmap:102 H264/90000',
  'a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f',
  'a=rtpmap:104 H264/90000',
  'a=fmtp:104 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=640c1f',
  'a=rtpmap:106 H264/90000',
  'a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640c1f',
  '',
].join('\r\n');

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return isPushgateError(err) ? err.code : 'not a PushgateError';
  }
  return undefined;
};

void test('the video m-line and a packetization-mode=1 H.264 format of the stream\'s profile are chosen, and Opus for audio', () => {
  const offer = parseWhepOffer(OFFER, { videoProfile: 'High@3.1', wantAudio: true });
  assert.deepEqual(offer.video, { index: 1, mid: '1', payloadType: 106, profileLevelId: '640c1f' });
  assert.deepEqual(offer.audio, { index: 0, mid: '0', payloadType: 111 });
  assert.equal(offer.mediaCount, 2);
});

void test('without a format of the stream\'s profile, the first packetization-mode=1 H.264 is taken; no audio unless wanted', () => {
  const offer = parseWhepOffer(OFFER, { videoProfile: 'Main@4.0', wantAudio: false });
  assert.equal(offer.video.payloadType, 102);
  assert.equal(offer.audio, undefined);
});

void test('a bundle-only m-line (port 0 with a=bundle-only, as max-bundle offerers write) is served; a rejected one (port 0) is not', () => {
  const bundleOnly = OFFER.replace('m=audio 9 ', 'm=audio 0 ').replace('a=mid:0\r\n', 'a=mid:0\r\na=bundle-only\r\n');
  assert.equal(parseWhepOffer(bundleOnly, { wantAudio: true }).audio?.payloadType, 111);
  assert.equal(parseWhepOffer(OFFER.replace('m=audio 9 ', 'm=audio 0 '), { wantAudio: true }).audio, undefined);
});

void test('text that is no SDP offer is WHEP_OFFER_INVALID; an offer without H.264 packetization-mode=1 is WHEP_CODEC_UNSUPPORTED', () => {
  assert.equal(codeOf(() => parseWhepOffer('hello', { wantAudio: false })), 'WHEP_OFFER_INVALID');
  assert.equal(codeOf(() => parseWhepOffer('v=0\r\ns=-\r\n', { wantAudio: false })), 'WHEP_OFFER_INVALID');
  assert.equal(codeOf(() => parseWhepOffer(OFFER.replace(/a=ice-ufrag:abcd\r\n/g, ''), { wantAudio: false })), 'WHEP_OFFER_INVALID');
  assert.equal(codeOf(() => parseWhepOffer(OFFER.replace(/packetization-mode=1/g, 'packetization-mode=0'), { wantAudio: false })), 'WHEP_CODEC_UNSUPPORTED');
  assert.equal(codeOf(() => parseWhepOffer(OFFER.replace(/a=recvonly\r\na=rtpmap:96/, 'a=sendonly\r\na=rtpmap:96'), { wantAudio: false })), 'WHEP_CODEC_UNSUPPORTED');
});
