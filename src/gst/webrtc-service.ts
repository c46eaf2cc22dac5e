// WebRTC playback (WHEP) for the media engine: one relay per watched stream (webrtc-relay.ts),
// one watcher per WHEP session (webrtc-watcher.ts), the watcher limits, and the one timer that
// ends watchers whose peer never connected or whose connection failed.
import { randomBytes, randomUUID } from 'node:crypto';
import { PushgateError } from '../core/errors';
import type { Logger } from '../core/logger';
import type { WebRtcPort } from '../core/media-engine';
import type { AudioCodec, StreamTracks } from '../core/media';
import { parseWhepOffer } from '../core/webrtc-offer';
import { makeElement } from './elements';
import { hasElementFactory, loadGstWebRtc } from './runtime';
import { WebRtcRelay, type RelaySource } from './webrtc-relay';
import { WebRtcWatcher, type WatcherIce } from './webrtc-watcher';

export interface WebRtcOptions {
  readonly maxWatchersPerStream: number;
  readonly maxWatchers: number;
  readonly stunServer: string | undefined;
  readonly turnServer: string | undefined;
  /** Answer with the candidates gathered so far after this long. */
  readonly iceGatherTimeoutMs: number;
}

/** The user of the relays' internal RTSP credential (its password is random per process). */
export const INTERNAL_READER_USER = 'pushgate-webrtc-relay';

/** A peer that has not connected this long after its answer is given up. */
const CONNECT_TIMEOUT_MS = 20_000;
const POLL_MS = 1000;

/** Plugins WebRTC playback cannot do without. */
const REQUIRED_ELEMENTS = ['webrtcbin', 'nicesrc', 'nicesink', 'dtlsdec', 'rtspsrc', 'rtph264depay', 'h264parse', 'rtph264pay', 'capssetter'] as const;
const AUDIO_ELEMENTS = { aac: ['rtpmp4gdepay', 'aacparse', 'avdec_aac', 'opusenc', 'rtpopuspay'], opus: ['rtpopusdepay', 'rtpopuspay'] } as const;

/** The audio the relay can send for these tracks (none when a plugin it needs is missing). */
function relayAudio(tracks: StreamTracks): AudioCodec | undefined {
  const codec = tracks.audio?.codec;
  return codec && AUDIO_ELEMENTS[codec].every((e) => hasElementFactory(e)) ? codec : undefined;
}

export class WebRtcService implements WebRtcPort {
  readonly #options: WebRtcOptions;
  readonly #log: Logger;
  /** The live stream's tracks, or undefined when the stream is not live (not found, or in its grace period). */
  readonly #liveTracks: (stream: string) => StreamTracks | undefined;
  readonly #relays = new Map<string, WebRtcRelay>();
  readonly #watchers = new Map<string, { readonly watcher: WebRtcWatcher; readonly relay: WebRtcRelay }>();
  readonly #connectedLogged = new WeakSet<WebRtcWatcher>();
  /** Answers under way, per stream: they count against the limits before their watcher exists. */
  readonly #pending = new Map<string, number>();
  /** The relays' RTSP credential: accepted from loopback only, for reading, never logged. */
  readonly credentials = { user: INTERNAL_READER_USER, password: randomBytes(24).toString('base64url') };
  #rtspUrl: ((stream: string) => string) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: WebRtcOptions, liveTracks: (stream: string) => StreamTracks | undefined, log: Logger) {
    this.#options = options;
    this.#liveTracks = liveTracks;
    this.#log = log;
  }

  /** Why WebRTC cannot work here, or undefined when it can. */
  static missing(): string | undefined {
    const absent = REQUIRED_ELEMENTS.filter((e) => !hasElementFactory(e));
    if (absent.length > 0) return `GStreamer elements missing: ${absent.join(', ')} (nicesrc/nicesink: gstreamer1.0-nice)`;
    if (!loadGstWebRtc()) return 'the GstWebRTC introspection data is missing (gir1.2-gst-plugins-bad-1.0)';
    return undefined;
  }

  /**
   * Once the RTSP server listens: where relays read. They always carry the credential; rtspsrc
   * shows it only when challenged (a server without access checks never asks).
   */
  start(rtspUrl: (stream: string) => string): void {
    this.#rtspUrl = rtspUrl;
    // GStreamer's DTLS elements make one certificate per process, on first use: 250-400 ms of
    // RSA key generation that would otherwise hold up the first watcher's answer.
    const startedAt = performance.now();
    makeElement('dtlsdec', 'webrtc-certificate-warmup');
    this.#log.debug({ ms: Math.round(performance.now() - startedAt) }, 'WebRTC DTLS certificate made');
    this.#timer = setInterval(() => this.#poll(), POLL_MS);
    this.#timer.unref();
  }

  count(stream?: string): number {
    if (stream === undefined) return this.#watchers.size + [...this.#pending.values()].reduce((a, b) => a + b, 0);
    return (this.#relays.get(stream)?.watcherCount ?? 0) + (this.#pending.get(stream) ?? 0);
  }

  streamOf(id: string): string | undefined {
    return this.#watchers.get(id)?.watcher.stream;
  }

  async answer(request: { readonly stream: string; readonly offer: string; readonly remoteAddress: string }): Promise<{ readonly id: string; readonly answer: string }> {
    const { stream, remoteAddress } = request;
    if (this.#closed || !this.#rtspUrl) throw new PushgateError('SHUTTING_DOWN', 'the gateway is stopping');
    const tracks = this.#liveTracks(stream);
    if (!tracks) throw new PushgateError('STREAM_NOT_FOUND', `no stream "${stream}" is live`);
    if (tracks.video.codec !== 'h264') throw new PushgateError('WHEP_CODEC_UNSUPPORTED', `stream "${stream}" is ${tracks.video.codec.toUpperCase()}: WebRTC playback serves H.264 streams only (no transcoding)`);
    const withAudio = relayAudio(tracks) !== undefined;
    const offer = parseWhepOffer(request.offer, { videoProfile: tracks.video.profile, wantAudio: withAudio });
    if (this.count(stream) >= this.#options.maxWatchersPerStream) {
      throw new PushgateError('WEBRTC_WATCHER_LIMIT', `stream "${stream}" already has ${this.#options.maxWatchersPerStream} WebRTC watchers (--max-webrtc-watchers-per-stream)`);
    }
    if (this.count() >= this.#options.maxWatchers) throw new PushgateError('WEBRTC_WATCHER_LIMIT', `the gateway already serves ${this.#options.maxWatchers} WebRTC watchers (--max-webrtc-watchers)`);
    const id = randomUUID();
    const log = this.#log.child({ stream, watcher: id });
    // Counted from here (pending, then attached to its relay) so that answers under way respect the limits.
    this.#pending.set(stream, (this.#pending.get(stream) ?? 0) + 1);
    let pending = true;
    const unpend = (): void => {
      if (!pending) return;
      pending = false;
      const left = (this.#pending.get(stream) ?? 1) - 1;
      if (left > 0) this.#pending.set(stream, left);
      else this.#pending.delete(stream);
    };
    let watcher: WebRtcWatcher | undefined;
    let relay: WebRtcRelay | undefined;
    try {
      const ice: WatcherIce = { stunServer: this.#options.stunServer, turnServer: this.#options.turnServer, gatherTimeoutMs: this.#options.iceGatherTimeoutMs };
      watcher = new WebRtcWatcher({ id, stream, remoteAddress, offer, withAudio: withAudio && offer.audio !== undefined, ice, log });
      relay = this.#relayOf(stream, tracks);
      this.#watchers.set(id, { watcher, relay });
      unpend();
      relay.attach(watcher);
      const answer = await watcher.negotiate(request.offer);
      if (watcher.closed) throw new PushgateError('STREAM_NOT_FOUND', `stream "${stream}" ended while its watcher was answered`);
      log.info({ remoteAddress, audio: watcher.audioPad !== undefined, watchers: relay.watcherCount }, 'WebRTC watcher joined');
      return { id, answer };
    } catch (err) {
      if (watcher && !watcher.closed) relay?.detach(id, 'its offer could not be answered');
      this.#watchers.delete(id);
      throw err;
    } finally {
      unpend();
    }
  }

  #relayOf(stream: string, tracks: StreamTracks): WebRtcRelay {
    const existing = this.#relays.get(stream);
    if (existing && !existing.closed) return existing;
    const source: RelaySource = { url: this.#rtspUrl!(stream), credentials: this.credentials };
    const relay = new WebRtcRelay({
      stream,
      audioCodec: relayAudio(tracks),
      source,
      log: this.#log.child({ stream }),
      onWatcherEnded: (watcher, reason) => this.#ended(watcher, reason),
      onClosed: (closed) => {
        if (this.#relays.get(stream) === closed) this.#relays.delete(stream);
      },
    });
    this.#relays.set(stream, relay);
    return relay;
  }

  #ended(watcher: WebRtcWatcher, reason: string): void {
    if (this.#watchers.get(watcher.id)?.watcher !== watcher) return;
    this.#watchers.delete(watcher.id);
    const durationMs = Math.round(performance.now() - watcher.since);
    this.#log.info({ stream: watcher.stream, watcher: watcher.id, remoteAddress: watcher.remoteAddress, reason, durationMs, connectedAfterMs: watcher.connectedAfterMs }, 'WebRTC watcher left');
  }

  close(id: string): boolean {
    return this.#watchers.get(id)?.relay.detach(id, 'DELETE') ?? false;
  }

  #poll(): void {
    const now = performance.now();
    for (const relay of [...this.#relays.values()]) {
      for (const watcher of relay.watchers()) {
        const state = watcher.poll(now, CONNECT_TIMEOUT_MS);
        if (state === 'failed') relay.detach(watcher.id, watcher.connectedAfterMs === undefined ? 'its peer never connected' : 'its peer connection failed');
        else if (state === 'silent') relay.detach(watcher.id, 'its peer went silent (no RTCP for about 30 s): gone without DELETE');
        else if (state === 'connected' && !this.#connectedLogged.has(watcher)) {
          this.#connectedLogged.add(watcher);
          this.#log.debug({ stream: watcher.stream, watcher: watcher.id, connectedAfterMs: watcher.connectedAfterMs }, 'WebRTC watcher connected');
        }
      }
    }
  }

  /** Ends every watcher and relay. Idempotent. */
  closeAll(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    for (const relay of [...this.#relays.values()]) relay.close('the gateway is shutting down');
    this.#relays.clear();
  }
}
