// The WebRTC side of one stream: a reader of pushgate's own RTSP server over loopback whose
// video (and audio, as Opus) is shared by a tee among the stream's WebRTC watchers:
//
//   rtspsrc (TCP) -> rtph264depay -> h264parse -> tee "video" -> one branch per watcher
//                 -> rtpmp4gdepay -> aacparse -> avdec_aac -> audioconvert -> audioresample
//                    -> opusenc -> tee "audio" -> one branch per watcher
//                    (Opus audio, from a browser's Matroska push: rtpopusdepay -> tee "audio")
//
// Being an RTSP reader, the relay gets what every reader gets: fast start (its first watcher
// sees a keyframe at once), the grace period (a publisher that reconnects in time is simply
// continued), the access checks (with an internal credential) and the reader limits. Every
// packet is handled in C. The relay is created with its stream's first watcher and set to
// NULL after its last one leaves; it owns its watchers' bins, and each watcher's bin is linked
// and unlinked here, on Node's thread.
//
// rtspsrc exposes its pads on a streaming thread. Linking them in a JavaScript pad-added
// handler would make that thread wait for Node, and a Node thread stopping the relay at that
// moment would wait for it: a deadlock. So the source half is the one launch description in
// pushgate: gst_parse links rtspsrc's pads as they appear, in C (its delayed links).
import type { Logger } from '../core/logger';
import type { AudioCodec } from '../core/media';
import { PushgateError } from '../core/errors';
import { logBusMessage, type GstPipeline } from './bus-log';
import type { GstElement } from './elements';
import { Gst } from './runtime';
import type { WebRtcWatcher } from './webrtc-watcher';

type GstMessage = InstanceType<typeof Gst.Message>;
type Pad = InstanceType<typeof Gst.Pad>;

export interface RelaySource {
  /** rtsp://127.0.0.1:<port>/<name> */
  readonly url: string;
  /** The internal reader credential, when RTSP checks credentials (never logged). */
  readonly credentials: { readonly user: string; readonly password: string } | undefined;
}

interface Attached {
  readonly watcher: WebRtcWatcher;
  readonly teePads: { tee: GstElement; pad: Pad }[];
}

let relaySerial = 0;

export class WebRtcRelay {
  readonly stream: string;
  /** The stream's audio as RTSP serves it (Opus is passed on, AAC becomes Opus); undefined: none. */
  readonly audioCodec: AudioCodec | undefined;
  readonly #pipeline: GstPipeline;
  readonly #videoTee: GstElement;
  readonly #audioTee: GstElement | undefined;
  readonly #log: Logger;
  readonly #onClosed: (relay: WebRtcRelay) => void;
  readonly #onWatcherEnded: (watcher: WebRtcWatcher, reason: string) => void;
  readonly #watchers = new Map<string, Attached>();
  #unwatchBus: (() => void) | undefined;
  #playing = false;
  #closed = false;

  constructor(options: {
    stream: string;
    audioCodec: AudioCodec | undefined;
    source: RelaySource;
    log: Logger;
    /** Told once of every watcher that ends, whatever ends it. */
    onWatcherEnded: (watcher: WebRtcWatcher, reason: string) => void;
    onClosed: (relay: WebRtcRelay) => void;
  }) {
    this.stream = options.stream;
    this.audioCodec = options.audioCodec;
    this.#log = options.log;
    this.#onClosed = options.onClosed;
    this.#onWatcherEnded = options.onWatcherEnded;
    const serial = ++relaySerial;
    // The URL is built from a checked stream name ([A-Za-z0-9_.-/]): nothing in it needs quoting.
    const audio =
      options.audioCodec === 'aac'
        ? ' src. ! application/x-rtp,media=audio ! rtpmp4gdepay ! aacparse ! avdec_aac ! audioconvert ! audioresample ! opusenc ! tee name=audio allow-not-linked=true'
        : options.audioCodec === 'opus'
          ? ' src. ! application/x-rtp,media=audio ! rtpopusdepay ! tee name=audio allow-not-linked=true'
          : '';
    const description =
      `rtspsrc name=src location=${options.source.url} protocols=tcp latency=0 ` +
      'src. ! application/x-rtp,media=video ! rtph264depay ! h264parse config-interval=-1 ! video/x-h264,stream-format=byte-stream,alignment=au ! tee name=video allow-not-linked=true' +
      audio;
    let pipeline: InstanceType<typeof Gst.Element>;
    try {
      pipeline = Gst.parseLaunch(description);
    } catch (err) {
      throw new PushgateError('MEDIA_ENGINE', `the WebRTC relay of "${options.stream}" could not be built: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    if (!(pipeline instanceof Gst.Pipeline)) throw new PushgateError('MEDIA_ENGINE', 'the WebRTC relay description did not make a pipeline');
    pipeline.name = `webrtc-relay-${serial}-${options.stream.replace(/\//g, '_')}`;
    this.#pipeline = pipeline;
    const source = pipeline.getByName('src');
    const video = pipeline.getByName('video');
    if (!source || !video) throw new PushgateError('MEDIA_ENGINE', 'the WebRTC relay lacks its source or video tee');
    if (options.source.credentials) {
      // Set as properties, not in the description, so that it appears in no log.
      // (rtspsrc is a bin: its properties by their camelCase names, see webrtc-watcher.ts.)
      const props = source as unknown as Record<string, unknown>;
      props.userId = options.source.credentials.user;
      props.userPw = options.source.credentials.password;
    }
    // RTSPS on loopback (plain RTSP off): the server's certificate names the public host.
    if (options.source.url.startsWith('rtsps:')) (source as unknown as Record<string, unknown>).tlsValidationFlags = 0;
    this.#videoTee = video;
    this.#audioTee = pipeline.getByName('audio') ?? undefined;
    this.#unwatchBus = this.#watchBus();
  }

  get watcherCount(): number {
    return this.#watchers.size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  watchers(): WebRtcWatcher[] {
    return [...this.#watchers.values()].map((a) => a.watcher);
  }

  /**
   * Adds a watcher's bin and links it to the tees; the first one starts the relay (so that the
   * primed keyframe the RTSP server sends first reaches it: the watcher's queue holds it while
   * webrtcbin negotiates and connects).
   */
  attach(watcher: WebRtcWatcher): void {
    if (this.#closed) throw new PushgateError('MEDIA_ENGINE', `the WebRTC relay of "${this.stream}" has ended`);
    if (!this.#pipeline.add(watcher.bin)) throw new PushgateError('MEDIA_ENGINE', `could not add ${watcher.bin.name} to the relay`);
    const attached: Attached = { watcher, teePads: [] };
    this.#watchers.set(watcher.id, attached);
    try {
      this.#linkTee(attached, this.#videoTee, watcher.videoPad);
      if (watcher.audioPad && this.#audioTee) this.#linkTee(attached, this.#audioTee, watcher.audioPad);
      if (!this.#playing) {
        this.#playing = true;
        if (this.#pipeline.setState(Gst.State.PLAYING) === Gst.StateChangeReturn.FAILURE) throw new PushgateError('MEDIA_ENGINE', 'the WebRTC relay failed to start');
        this.#log.debug({ relay: this.#pipeline.name }, 'WebRTC relay started');
      } else if (!watcher.bin.syncStateWithParent()) {
        throw new PushgateError('MEDIA_ENGINE', `${watcher.bin.name} failed to start`);
      }
    } catch (err) {
      this.detach(watcher.id, 'it could not be started');
      throw err;
    }
  }

  #linkTee(attached: Attached, tee: GstElement, sink: Pad): void {
    const pad = tee.requestPadSimple('src_%u');
    if (!pad) throw new PushgateError('MEDIA_ENGINE', `no branch left on ${tee.name}`);
    attached.teePads.push({ tee, pad });
    if (pad.link(sink) !== Gst.PadLinkReturn.OK) throw new PushgateError('MEDIA_ENGINE', `could not link ${tee.name} to ${attached.watcher.bin.name}`);
  }

  /**
   * Unlinks a watcher and stops its bin (to NULL); the relay itself stops after its last
   * watcher. The tee lets its request pads go while it streams; the bin is then stopped with
   * nothing feeding it. Returns false for an unknown id. Idempotent.
   */
  detach(id: string, reason: string): boolean {
    const attached = this.#watchers.get(id);
    if (!attached) return false;
    this.#watchers.delete(id);
    attached.watcher.markClosed();
    for (const { tee, pad } of attached.teePads) tee.releaseRequestPad(pad);
    attached.watcher.bin.setState(Gst.State.NULL);
    this.#pipeline.remove(attached.watcher.bin);
    this.#onWatcherEnded(attached.watcher, reason);
    if (this.#watchers.size === 0) this.close('its last watcher left');
    return true;
  }

  /** Stops every watcher and the relay (pipeline to NULL). Idempotent. */
  close(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    const ended = [...this.#watchers.values()].map((a) => a.watcher);
    this.#watchers.clear();
    for (const watcher of ended) watcher.markClosed();
    this.#unwatchBus?.();
    this.#unwatchBus = undefined;
    this.#pipeline.setState(Gst.State.NULL);
    for (const watcher of ended) this.#onWatcherEnded(watcher, reason);
    this.#log.debug({ relay: this.#pipeline.name, reason }, 'WebRTC relay stopped');
    this.#onClosed(this);
  }

  /** The relay's bus on Node's main loop: its own failures end it, a watcher's end that watcher. */
  #watchBus(): () => void {
    const bus = this.#pipeline.getBus();
    if (!bus) return () => {};
    bus.addSignalWatch();
    const handler = bus.connect('message', (message: GstMessage) => {
      try {
        this.#onMessage(message);
      } catch (err) {
        this.#log.error({ err }, 'WebRTC relay bus message failed');
      }
    });
    return () => {
      bus.disconnect(handler);
      bus.removeSignalWatch();
    };
  }

  #onMessage(message: GstMessage): void {
    const source = message.src?.name ?? 'unknown';
    const watcher = [...this.#watchers.values()].find((a) => message.src?.hasAsAncestor(a.watcher.bin))?.watcher;
    const log = watcher ? this.#log.child({ watcher: watcher.id }) : this.#log;
    switch (message.type) {
      case Gst.MessageType.ERROR: {
        const [error, debug] = message.parseError();
        logBusMessage(log, { kind: 'error', source, text: error?.message ?? 'unknown', debug });
        if (watcher) this.detach(watcher.id, `error: ${error?.message ?? 'unknown'}`);
        else this.close(`relay error: ${error?.message ?? 'unknown'}`);
        break;
      }
      case Gst.MessageType.WARNING: {
        const [warning, debug] = message.parseWarning();
        logBusMessage(log, { kind: 'warning', source, text: warning?.message ?? 'unknown', debug });
        break;
      }
      case Gst.MessageType.EOS:
        // The stream ended for its RTSP readers: so it does for its watchers.
        this.close('the stream ended');
        break;
      default:
        break;
    }
  }
}
