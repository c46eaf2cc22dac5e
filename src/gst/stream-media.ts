// The RTSP side of one live stream: a shared gst-rtsp-server media whose pipeline is
// appsrc -> parser -> payloader per track (Opus needs no parser), fed from Node.
//
// The media is cached under a constant key, so every reader shares it. With --fast-start always
// it is built when the stream is mounted (goes live, or its publisher comes back), with
// `watched` at the first reader's DESCRIBE; either way the native plugin then holds it prepared
// (from go-live, or from the first PLAY) until this stream releases it (publisher gone for good,
// or gone with no reader left), so it keeps running, and its packet log stays warm, while nobody
// reads. Without fast start it is built at the first DESCRIBE and stops after the last reader
// leaves; the next reader gets a new one. Its pipeline runs on the gateway clock (base time
// pinned), so unit timestamps are running times as they are.
import { PushgateError } from '../core/errors';
import type { Logger } from '../core/logger';
import type { StreamOutput } from '../core/media-engine';
import type { AudioTrack, StreamTracks, TimedUnit, VideoTrack } from '../core/media';
import { epochNs } from '../core/clock';
import { BusRelay } from './bus-relay';
import type { IngestTarget, NativeIngest } from './native-ingest';
import { addAndLink, bufferFrom, capsFromString, makeElement, postStreamError, type GstElement } from './elements';
import type { RtspServer } from './rtsp-server';
import { Gst, GstApp, GstRtsp, GstRtspServer, hasElementFactory, registerClass } from './runtime';

type AppSrc = InstanceType<typeof GstApp.AppSrc>;
type Media = InstanceType<typeof GstRtspServer.RTSPMedia>;
type Bin = InstanceType<typeof Gst.Bin>;
type Pipeline = InstanceType<typeof Gst.Pipeline>;

/** Readers joining a stream that is waiting in PLAY setup get at most this much old media. */
const APPSRC_MAX_TIME_NS = 300_000_000;
const APPSRC_MAX_BYTES = 8 * 1024 * 1024;
/** Time for end of stream (RTCP BYE) to reach readers before their connections close. */
const EOS_LINGER_MS = 300;

/** The appsrcs of one media pipeline, from its creation until the pipeline stops. */
interface Feed {
  readonly video: AppSrc;
  readonly audio: AppSrc | undefined;
  /** The pipeline accepted data: a later FLUSHING means it stopped for good. */
  flowing: boolean;
}

/**
 * Builds the pipeline of a stream's shared media when its first reader arrives. gst-rtsp-server
 * calls these on an RTSP client thread (holding only this factory's lock), once per media.
 */
class PushgateMediaFactory extends GstRtspServer.RTSPMediaFactory {
  // `declare`, not a class field: V8 defines class fields with DefineNamedOwnIC, which traps
  // (SIGTRAP, the whole process) on node-gtk's wrapper objects once its inline cache has seen
  // more than a few of them (16 streams going live at once).
  declare buildBin: (() => Bin) | undefined;
  /** The stream this factory serves: what RTSP access checks are about. */
  declare streamName: string | undefined;

  /**
   * One shared media per stream whatever host or port the reader's URL names. The native
   * pgmountkey element replaces this with a C function ("key-by-mount", before the factory's
   * first media is built): called from here it would run JavaScript on every DESCRIBE.
   */
  override virtual_genKey(): string {
    return 'live';
  }

  override virtual_createElement(): InstanceType<typeof Gst.Element> | null {
    return this.buildBin?.() ?? null;
  }
}
registerClass(PushgateMediaFactory);

let outputSerial = 0;

export class StreamMedia implements StreamOutput, IngestTarget {
  readonly name: string;
  readonly #path: string;
  readonly #id: string;
  readonly #tracks: StreamTracks;
  readonly #server: RtspServer;
  readonly #log: Logger;
  readonly #factory: PushgateMediaFactory;
  readonly #onReleased: () => void;
  readonly #configureHandler: number;
  #feed: Feed | undefined;
  #pipeline: Pipeline | undefined;
  #media: Media | undefined;
  /** The bus relay of the newest media pipeline; outlives its feed so its last messages are logged. */
  #busRelay: BusRelay | undefined;
  #mediaSerial = 0;
  /** The native ingest feeding the video appsrc itself, while one does. */
  #feeder: NativeIngest | undefined;
  #mounted = false;
  #closed = false;
  #released = false;

  constructor(name: string, tracks: StreamTracks, server: RtspServer, log: Logger, onReleased: () => void) {
    this.name = name;
    this.#path = `/${name}`;
    // The serial comes first: "bin-<serial>-" then names this stream's bins and no other's.
    this.#id = `${++outputSerial}-${name.replace(/\//g, '_')}`;
    this.#tracks = tracks;
    this.#server = server;
    this.#log = log;
    this.#onReleased = onReleased;
    this.#factory = new PushgateMediaFactory();
    this.#factory.setShared(true);
    this.#factory.setEosShutdown(false);
    // Unicast only: pushgate configures no multicast addresses, and a multicast SETUP would have
    // gst-rtsp-server run an auth check with the media locked (JavaScript, with users set up).
    this.#factory.setProtocols(GstRtsp.RTSPLowerTrans.UDP | GstRtsp.RTSPLowerTrans.TCP);
    this.#factory.buildBin = () => this.#buildBin();
    this.#factory.streamName = name;
    this.#configureHandler = this.#factory.connect('media-configure', (media: Media) => this.#configure(media));
    this.#mount(true);
  }

  /** Every media bin of this stream is named with it: how its sessions are found. */
  get #binPrefix(): string {
    return `bin-${this.#id}-`;
  }

  get readerCount(): number {
    return this.#closed ? 0 : this.#server.countSessions(this.#binPrefix);
  }

  write(unit: TimedUnit): void {
    const feed = this.#feed;
    if (this.#closed || !feed) return;
    const appsrc = unit.kind === 'video' ? feed.video : feed.audio;
    if (!appsrc) return;
    // A fresh pipeline starts decoding mid-GOP: describe the stream to it at once.
    const data = unit.kind === 'video' && !feed.flowing && unit.parameterSets ? Buffer.concat([unit.parameterSets, unit.data]) : unit.data;
    const buffer = bufferFrom(data);
    buffer.pts = BigInt(unit.pts);
    buffer.dts = BigInt(unit.dts);
    buffer.duration = BigInt(unit.duration);
    const flow = appsrc.pushBuffer(buffer);
    if (flow === Gst.FlowReturn.OK) {
      if (unit.kind === 'video') feed.flowing = true;
    } else if (feed.flowing) {
      this.#feedStopped(Gst.FlowReturn[flow] ?? String(flow));
    }
  }

  /** What the stream carries (the WebRTC relay needs to know whether there is audio). */
  get tracks(): StreamTracks {
    return this.#tracks;
  }

  /** New readers can find it (DESCRIBE): the stream is live, not waiting for its publisher. */
  get mounted(): boolean {
    return this.#mounted && !this.#closed;
  }

  /** Closed for its readers (close() or release()): a new publisher's stream gets a new output. */
  get closed(): boolean {
    return this.#closed;
  }

  /** From now on `ingest` feeds this stream's video into the appsrc itself, off Node's thread. */
  feedFrom(ingest: NativeIngest): void {
    this.#setFeeder(ingest);
  }

  /** `ingest` feeds no more (if it still did): the video goes back to write(). */
  stopFeedingFrom(ingest: NativeIngest): void {
    if (this.#feeder === ingest) this.#setFeeder(undefined);
  }

  #setFeeder(feeder: NativeIngest | undefined): void {
    const previous = this.#feeder;
    this.#feeder = this.#closed ? undefined : feeder;
    if (previous && previous !== this.#feeder && previous.detach() && this.#feed) this.#feed.flowing = true;
    if (!this.#feeder) return;
    this.#feeder.onTargetLost = () => this.#feedStopped('refused by appsrc');
    this.#feeder.setTarget(this.#feed?.video, this.#feed?.flowing ?? false);
  }

  /** The last reader left and the media was unprepared (or it failed); the next reader gets a new one. */
  #feedStopped(flow: string): void {
    this.#forgetMedia();
    this.#feed = undefined;
    this.#pipeline = undefined;
    this.#log.debug({ flow }, 'RTSP media stopped: no readers left');
  }

  setMounted(mounted: boolean): void {
    if (this.#closed) return;
    this.#mount(mounted);
    // The publisher is gone and nobody can join while the stream is unmounted: with no reader
    // left, fast start's hold would only keep an idle pipeline and its packet log alive through
    // the grace period. A returning publisher's next reader gets a new media.
    if (!mounted && this.readerCount === 0) this.#forgetMedia();
  }

  close(reason: string): void {
    if (this.#closed) return;
    this.#log.info({ reason, readers: this.readerCount }, 'ending stream for its readers');
    this.#setFeeder(undefined);
    this.#mount(false);
    this.#closed = true;
    if (this.#feed && !this.#feed.flowing) {
      // A media still waiting for its first frame would keep its reader's DESCRIBE waiting
      // (gst-rtsp-server gives up after 20 s): fail it, and the reader is answered at once.
      postStreamError(this.#feed.video, `the stream ended before its first frame: ${reason}`);
    } else {
      this.#feed?.video.endOfStream();
      this.#feed?.audio?.endOfStream();
    }
    setTimeout(() => this.release(), EOS_LINGER_MS).unref();
  }

  /** Closes the readers' sessions and sets the pipeline to NULL. Idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#closed = true;
    this.#mount(false);
    // The factory's callbacks reference this object: unhook them so both can be freed.
    this.#factory.buildBin = undefined;
    this.#factory.disconnect(this.#configureHandler);
    this.#feeder?.detach();
    this.#feeder = undefined;
    this.#server.closeSessions(this.#binPrefix);
    this.#forgetMedia();
    this.#pipeline?.setState(Gst.State.NULL);
    this.#pipeline = undefined;
    this.#feed = undefined;
    this.#busRelay?.close(this.#log);
    this.#busRelay = undefined;
    this.#onReleased();
    this.#log.debug('RTSP media released');
  }

  /** Fast start no longer holds the current media prepared (nor logs its packets). */
  #forgetMedia(): void {
    if (this.#media) this.#server.releaseMedia(this.#media, this.#log);
    this.#media = undefined;
  }

  /**
   * With fast start, the media is built at go-live rather than at the first DESCRIBE, and kept
   * running, so that the first reader too starts from a keyframe at once (and DESCRIBEs never
   * race a media that is stopping). Its pipeline is built here, synchronously (#configure).
   */
  #warm(): void {
    if (this.#media || this.#closed) return;
    const warmed = this.#server.warmMedia(this.#path, this.#factory);
    if (warmed) this.#log.debug('RTSP media built at go-live: first readers are primed');
  }

  #mount(mounted: boolean): void {
    if (mounted === this.#mounted) return;
    this.#mounted = mounted;
    // Warm before mounting, never after: building the media takes the factory's lock, which
    // an RTSP thread holds while it waits for JavaScript to build a reader's media, so Node's
    // thread must not build it while a reader can reach the factory (that deadlocked).
    if (mounted) {
      this.#warm();
      this.#server.mount(this.#path, this.#factory);
    } else {
      this.#server.unmount(this.#path);
    }
  }

  #buildBin(): Bin {
    const id = `${this.#id}-${++this.#mediaSerial}`;
    const bin = new Gst.Bin({ name: `${this.#binPrefix}${this.#mediaSerial}` });
    const video = buildVideoBranch(bin, this.#tracks.video, id);
    const audio = this.#tracks.audio ? buildAudioBranch(bin, this.#tracks.audio, id) : undefined;
    this.#feed = { video, audio, flowing: false };
    this.#feeder?.setTarget(video, false);
    this.#busRelay?.close(this.#log);
    this.#busRelay = BusRelay.create(`bus-${id}`);
    if (this.#busRelay && !bin.add(this.#busRelay.element)) this.#busRelay = undefined;
    this.#busRelay?.watch(this.#log);
    this.#log.debug({ media: id }, 'building RTSP media pipeline');
    return bin;
  }

  /** The pipeline runs on the gateway clock: unit timestamps are its running times. */
  #configure(media: Media): void {
    this.#server.watchMedia(media);
    const pipeline = media.getElement()?.getParent();
    if (!(pipeline instanceof Gst.Pipeline)) return;
    pipeline.useClock(Gst.SystemClock.obtain());
    pipeline.setStartTime(Gst.CLOCK_TIME_NONE);
    pipeline.setBaseTime(epochNs);
    this.#pipeline = pipeline;
    this.#media = media;
  }

}

function buildVideoBranch(bin: Bin, track: VideoTrack, id: string): AppSrc {
  const h265 = track.codec === 'h265';
  const appsrc = makeAppSrc(`src-video-${id}`, `video/x-${h265 ? 'h265' : 'h264'},stream-format=byte-stream,alignment=au`);
  // The parser repeats SPS/PPS(/VPS) before every keyframe so late readers can decode.
  const parser = makeElement(h265 ? 'h265parse' : 'h264parse', `parse-video-${id}`, { configInterval: -1 });
  addAndLink(bin, [appsrc, parser, videoPayloader(h265)]);
  return appsrc;
}

/**
 * gst-rtsp-server serves the element named pay0. With the native plugin that is pgvideopay: the
 * payloader (named "pay", which gst-rtsp-server finds inside for RTP-Info and the MTU) and
 * pgrtpbatch, which pushes each frame's packets at once: one sample per frame for the stream's
 * send thread instead of one per small NAL unit plus one for the fragments. One object for Node
 * to hold, not six: node-gtk keeps what it wrapped alive until V8 collects the wrapper.
 */
function videoPayloader(h265: boolean): GstElement {
  const codec = h265 ? 'h265' : 'h264';
  if (hasElementFactory('pgvideopay')) return makeElement('pgvideopay', 'pay0', { codec });
  return makeElement(h265 ? 'rtph265pay' : 'rtph264pay', 'pay0', { pt: 96 });
}

function buildAudioBranch(bin: Bin, track: AudioTrack, id: string): AppSrc {
  if (track.codec === 'opus') {
    // One Opus packet per buffer, as Matroska blocks carry them; RTP Opus is 48 kHz whatever the input.
    const opus = makeAppSrc(`src-audio-${id}`, `audio/x-opus,channel-mapping-family=0,rate=48000,channels=${track.channels}`);
    addAndLink(bin, [opus, makeElement('rtpopuspay', 'pay1', { pt: 97 })]);
    return opus;
  }
  const appsrc = makeAppSrc(
    `src-audio-${id}`,
    `audio/mpeg,mpegversion=4,stream-format=adts,rate=${track.sampleRate},channels=${track.channels}`,
  );
  const parser = makeElement('aacparse', `parse-audio-${id}`);
  const payloader = makeElement('rtpmp4gpay', 'pay1', { pt: 97 });
  addAndLink(bin, [appsrc, parser, payloader]);
  return appsrc;
}

function makeAppSrc(name: string, caps: string): AppSrc {
  const element: GstElement = makeElement('appsrc', name, {
    caps: capsFromString(caps),
    format: Gst.Format.TIME,
    isLive: true,
    doTimestamp: false,
    emitSignals: false,
    block: false,
    maxBytes: APPSRC_MAX_BYTES,
    maxTime: APPSRC_MAX_TIME_NS,
    // Bounded whatever happens downstream: a stalled pipeline drops its oldest data.
    leakyType: GstApp.AppLeakyType.DOWNSTREAM,
  });
  if (!(element instanceof GstApp.AppSrc)) throw new PushgateError('MEDIA_ENGINE', `${name} is not an appsrc`);
  return element;
}
