// One WebRTC watcher (a WHEP session): a bin of its own in its stream's relay pipeline,
//   queue -> rtph264pay -> capssetter -> webrtcbin   (and queue -> rtpopuspay -> webrtcbin)
// fed from the relay's tees. DTLS and SRTP are per peer, so the payloaders are too: they take
// the payload types the offer chose, and each watcher gets SSRCs and sequence numbers of its own.
//
// Threads: no JavaScript handler is connected to any webrtcbin signal or promise (they fire on
// webrtcbin's own threads, which would then wait for Node, and Node's thread stopping this bin
// would wait for them). Negotiation is driven from Node's thread: the remote offer and
// create-answer are queued on webrtcbin's task thread, whose reply Node waits for (a few ms of
// webrtcbin's own work, no JavaScript in it); ICE gathering and the connection state are then
// read as properties on a short timer.
import { randomInt } from 'node:crypto';
import { PushgateError } from '../core/errors';
import type { Logger } from '../core/logger';
import type { WhepOffer } from '../core/webrtc-offer';
import { capsFromString, makeElement, type GstElement, type NativeElement } from './elements';
import { Gst, GstSdp, loadGstWebRtc, type GstWebRtcModule, type WebRtcSessionDescription } from './runtime';

type Bin = InstanceType<typeof Gst.Bin>;
type Pad = InstanceType<typeof Gst.Pad>;

/** webrtcbin's ice-gathering-state COMPLETE, ice-connection-state and connection-state values (GstWebRTC enums). */
const ICE_GATHERING_COMPLETE = 2;
const PEER_CONNECTED = 2;
const PEER_FAILED = 4;
const PEER_CLOSED = 5;
/** How often ICE gathering is looked at while an answer waits for it. */
const GATHER_POLL_MS = 5;
/** A watcher queue holds this much before it drops its oldest (a stalled peer never holds up the others). */
const QUEUE_MAX_TIME_NS = 3_000_000_000;
/** webrtcbin's bundle-policy max-bundle: one transport for every m-line, as browsers offer. */
const BUNDLE_MAX_BUNDLE = 3;
const SENDONLY = 2;
/** How often a connected watcher's peer is checked for RTCP (webrtcbin's get-stats). */
const HEARD_CHECK_MS = 5000;

export interface WatcherIce {
  /** stun://host:port, or undefined. */
  readonly stunServer: string | undefined;
  /** turn(s)://user:password@host:port, or undefined. */
  readonly turnServer: string | undefined;
  /** Answer with what has been gathered after this long. */
  readonly gatherTimeoutMs: number;
}

export type WatcherState = 'negotiating' | 'connecting' | 'connected' | 'failed' | 'silent' | 'closed';

export class WebRtcWatcher {
  readonly id: string;
  readonly stream: string;
  readonly remoteAddress: string;
  readonly since = performance.now();
  readonly bin: Bin;
  readonly #webrtc: GstElement;
  readonly #offer: WhepOffer;
  readonly #log: Logger;
  readonly #ice: WatcherIce;
  readonly #gi: GstWebRtcModule;
  /** The bin's ghost sink pads, which the relay links its tees to. */
  readonly videoPad: Pad;
  readonly audioPad: Pad | undefined;
  #closed = false;
  #connectedAt: number | undefined;
  #heardAt = 0;
  #heardOnce = false;

  constructor(options: { id: string; stream: string; remoteAddress: string; offer: WhepOffer; withAudio: boolean; ice: WatcherIce; log: Logger }) {
    const gi = loadGstWebRtc();
    if (!gi) throw new PushgateError('WEBRTC_UNAVAILABLE', 'the GstWebRTC introspection data (gir1.2-gst-plugins-bad-1.0) is not installed');
    this.#gi = gi;
    this.id = options.id;
    this.stream = options.stream;
    this.remoteAddress = options.remoteAddress;
    this.#offer = options.offer;
    this.#log = options.log;
    this.#ice = options.ice;
    const id = options.id;
    this.bin = new Gst.Bin({ name: `whep-${id}` });
    // webrtcbin's own type is in no typelib: node-gtk reaches its properties by their camelCase
    // names (a bin's setProperty is GstChildProxy's, which takes GValues).
    this.#webrtc = makeElement('webrtcbin', `webrtc-${id}`, {
      bundlePolicy: BUNDLE_MAX_BUNDLE,
      ...(options.ice.stunServer && { stunServer: options.ice.stunServer }),
      ...(options.ice.turnServer && { turnServer: options.ice.turnServer }),
    });
    // libnice looks for a UPnP gateway to map ports and holds gathering for it (200 ms): the
    // answer waits for gathering, and a gateway's address is no business of UPnP.
    const agent = (this.#webrtc as unknown as { iceAgent?: { agent?: Record<string, unknown> | null } | null }).iceAgent?.agent;
    if (agent) agent.upnp = false;
    this.#add(this.#webrtc);
    const video = options.offer.video;
    // Each track's SSRC is fixed here and named in the codec preferences, so that the answer
    // carries a=ssrc lines: a browser that offered video and audio without the MID header
    // extension can only tell the two tracks' packets apart by them (Chromium drops both
    // otherwise: "Failed to demux RTP packet").
    const videoSsrc = randomSsrc();
    const audioSsrc = randomSsrc();
    // The answer must name the offer's payload type and profile-level-id, and webrtcbin matches
    // the caps it receives against the offer: the payloader's caps say the stream's own profile
    // (browsers decode any profile they offer), so capssetter states the offered one.
    this.videoPad = this.#branch('video', [
      makeElement('rtph264pay', `pay-video-${id}`, { pt: video.payloadType, configInterval: -1, aggregateMode: 1, ssrc: videoSsrc }),
      makeElement('capssetter', `caps-video-${id}`, {
        caps: capsFromString(`application/x-rtp,payload=(int)${video.payloadType},profile-level-id=(string)${video.profileLevelId ?? '42e01f'},ssrc=(uint)${videoSsrc}`),
        join: true,
        replace: false,
      }),
    ], video.index, this.#videoCaps(videoSsrc));
    const audio = options.withAudio ? options.offer.audio : undefined;
    this.audioPad = audio
      ? this.#branch('audio', [makeElement('rtpopuspay', `pay-audio-${id}`, { pt: audio.payloadType, ssrc: audioSsrc })], audio.index, capsFromString(
          `application/x-rtp,media=audio,encoding-name=OPUS,clock-rate=48000,payload=(int)${audio.payloadType},encoding-params=(string)2,ssrc=(uint)${audioSsrc}`,
        ))
      : undefined;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get #native(): NativeElement {
    return this.#webrtc as unknown as NativeElement;
  }

  #videoCaps(ssrc: number): InstanceType<typeof Gst.Caps> {
    const v = this.#offer.video;
    return capsFromString(
      `application/x-rtp,media=video,encoding-name=H264,clock-rate=90000,payload=(int)${v.payloadType},packetization-mode=(string)1,profile-level-id=(string)${v.profileLevelId ?? '42e01f'},ssrc=(uint)${ssrc}`,
    );
  }

  #add(element: GstElement): void {
    if (!this.bin.add(element)) throw new PushgateError('MEDIA_ENGINE', `could not add ${element.name} to ${this.bin.name}`);
  }

  /** queue -> elements -> webrtcbin's sink for m-line `index`, sending only, with the offer's codec; returns the ghost sink pad. */
  #branch(kind: 'video' | 'audio', elements: GstElement[], index: number, caps: InstanceType<typeof Gst.Caps>): Pad {
    const queue = makeElement('queue', `queue-${kind}-${this.id}`, { maxSizeBuffers: 0, maxSizeBytes: 0, maxSizeTime: QUEUE_MAX_TIME_NS, leaky: 2 });
    const chain = [queue, ...elements];
    for (const element of chain) this.#add(element);
    for (let i = 1; i < chain.length; i++) {
      if (!chain[i - 1]!.link(chain[i]!)) throw new PushgateError('MEDIA_ENGINE', `could not link ${chain[i - 1]!.name} to ${chain[i]!.name}`);
    }
    // The sink pad's number is the offer's m-line: webrtcbin gives its new transceiver that m-line.
    const sink = this.#webrtc.requestPadSimple(`sink_${index}`);
    const last = chain[chain.length - 1]!.getStaticPad('src');
    if (!sink || !last || last.link(sink) !== Gst.PadLinkReturn.OK) throw new PushgateError('MEDIA_ENGINE', `could not link ${kind} to ${this.#webrtc.name}`);
    const transceiver = (sink as unknown as { transceiver?: Record<string, unknown> | null }).transceiver;
    if (transceiver) {
      transceiver.direction = SENDONLY;
      transceiver.codecPreferences = caps;
    }
    const target = queue.getStaticPad('sink');
    const ghost = target && Gst.GhostPad.new(kind, target);
    if (!ghost || !this.bin.addPad(ghost)) throw new PushgateError('MEDIA_ENGINE', `could not expose the ${kind} input of ${this.bin.name}`);
    return ghost;
  }

  /**
   * Sets the offer, makes and sets the answer, then waits (on a timer, never blocking Node) for
   * ICE gathering to complete, or its timeout: the answer carries every candidate, since WHEP
   * here does not trickle. The bin must be in a playing pipeline.
   */
  async negotiate(offerSdp: string): Promise<string> {
    const gi = this.#gi;
    const [result, message] = GstSdp.SDPMessage.newFromText(offerSdp);
    if (result !== GstSdp.SDPResult.OK || !message) throw new PushgateError('WHEP_OFFER_INVALID', 'GStreamer could not read the offer as SDP');
    const offer = gi.WebRTCSessionDescription.new(gi.WebRTCSDPType.OFFER, message);
    const emit = (signal: string, ...args: unknown[]): unknown => this.#native.emit(signal, ...args);
    emit('set-remote-description', offer, Gst.Promise.new());
    const answered = Gst.Promise.new();
    emit('create-answer', Gst.Structure.newEmpty('answer-options'), answered);
    // Queued after the offer on webrtcbin's task thread: replied within a few ms, by C alone.
    answered.wait();
    const reply = answered.getReply();
    const answer = unboxed(reply?.getValue('answer')) as WebRtcSessionDescription | null | undefined;
    if (!answer || typeof answer !== 'object' || !('sdp' in answer)) {
      const error = unboxed(reply?.getValue('error')) as { message?: string } | null | undefined;
      throw new PushgateError('WHEP_CODEC_UNSUPPORTED', `webrtcbin could not answer the offer${error?.message ? `: ${error.message}` : ''}`);
    }
    emit('set-local-description', answer, Gst.Promise.new());
    const deadline = performance.now() + this.#ice.gatherTimeoutMs;
    while (!this.#closed && this.#property('iceGatheringState') !== ICE_GATHERING_COMPLETE && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, GATHER_POLL_MS));
    }
    if (this.#closed) throw new PushgateError('MEDIA_ENGINE', 'the watcher ended before its answer was ready');
    if (this.#property('iceGatheringState') !== ICE_GATHERING_COMPLETE) this.#log.warn({ watcher: this.id, afterMs: this.#ice.gatherTimeoutMs }, 'ICE gathering not complete: answering with the candidates gathered so far');
    const local = this.#property('localDescription') as { sdp?: { asText(): string } } | null;
    const text = local?.sdp?.asText();
    if (!text) throw new PushgateError('MEDIA_ENGINE', 'webrtcbin has no local description after the answer');
    checkAnswer(text, this.#offer);
    return text;
  }

  /** A webrtcbin property by its camelCase name. */
  #property(name: string): unknown {
    return (this.#webrtc as unknown as Record<string, unknown>)[name];
  }

  /** Looked at on the relay's timer: connected, still connecting, or failed for good. */
  poll(now: number, connectTimeoutMs: number): WatcherState {
    if (this.#closed) return 'closed';
    const state = this.#property('connectionState');
    if (state === PEER_FAILED || state === PEER_CLOSED) return 'failed';
    if (state === PEER_CONNECTED) {
      this.#connectedAt ??= now;
      if (now - this.#heardAt >= HEARD_CHECK_MS) {
        this.#heardAt = now;
        const heard = this.#peerHeard();
        if (heard) this.#heardOnce = true;
        else if (this.#heardOnce) return 'silent';
      }
      return 'connected';
    }
    if (this.#connectedAt === undefined && now - this.since > connectTimeoutMs) return 'failed';
    return 'connecting';
  }

  /**
   * Whether webrtcbin hears the peer's RTCP: its remote-inbound-rtp stats exist while receiver
   * reports come, and go once rtpsession drops a source silent for about 30 s. GStreamer 1.22's
   * ICE agent does no consent freshness, so this is how a player that vanished without DELETE
   * (a closed tab) is noticed. get-stats is a task of webrtcbin's own thread, in C, replied at
   * once; only the field names of its answer are read.
   */
  #peerHeard(): boolean {
    const pad = this.#webrtc.getStaticPad(`sink_${this.#offer.video.index}`);
    if (!pad) return true;
    const promise = Gst.Promise.new();
    this.#native.emit('get-stats', pad, promise);
    promise.wait();
    const stats = promise.getReply();
    if (!stats) return true;
    for (let i = 0; i < stats.nFields(); i++) if (stats.nthFieldName(i).startsWith('rtp-remote-inbound-stream-stats')) return true;
    return false;
  }

  /** Milliseconds from the watcher's creation until its peer connection was connected, once it was. */
  get connectedAfterMs(): number | undefined {
    return this.#connectedAt === undefined ? undefined : Math.round(this.#connectedAt - this.since);
  }

  /** Marks the watcher closed; its owner (the relay) unlinks it and stops its bin. Idempotent. */
  markClosed(): boolean {
    if (this.#closed) return false;
    this.#closed = true;
    return true;
  }
}

/** A GValue as node-gtk may return it from gst_structure_get_value, or the value itself. */
function unboxed(value: unknown): unknown {
  if (value && typeof value === 'object' && typeof (value as { getBoxed?: unknown }).getBoxed === 'function') return (value as { getBoxed(): unknown }).getBoxed();
  return value;
}

/** The answer must send video on the offer's video m-line, with the payload type chosen. */
function checkAnswer(answer: string, offer: WhepOffer): void {
  const media = answer.split(/\r?\n/).reduce<string[][]>((acc, line) => {
    if (line.startsWith('m=')) acc.push([line]);
    else if (acc.length > 0) acc[acc.length - 1]!.push(line);
    return acc;
  }, []);
  const video = media[offer.video.index];
  const mline = video?.[0]?.split(' ') ?? [];
  if (!video || mline[1] === '0' || !mline.slice(3).includes(String(offer.video.payloadType)) || !video.some((l) => l === 'a=sendonly' || l === 'a=sendrecv')) {
    throw new PushgateError('WHEP_CODEC_UNSUPPORTED', `webrtcbin did not accept the offer's H.264 (payload type ${offer.video.payloadType}) for sending`);
  }
}

/** A random nonzero 32-bit RTP SSRC. */
function randomSsrc(): number {
  return randomInt(1, 0xffffffff);
}
