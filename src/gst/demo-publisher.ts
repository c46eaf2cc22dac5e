// The demo stream: a test pattern with a running clock, encoded to H.264 and pushed to the
// gateway's own HTTP ingest with curlhttpsink, exactly like an outside publisher would.
// Built element by element; its bus is watched on the main thread; restarted if it fails.
import type { Logger } from '../core/logger';
import { watchBus, type GstPipeline } from './bus-log';
import { addAndLink, capsFromString, makeElement } from './elements';
import { Gst } from './runtime';

export interface DemoPublisherOptions {
  /** e.g. http://127.0.0.1:8080/push/demo */
  readonly url: string;
  readonly logger: Logger;
  readonly restartDelayMs?: number;
}

export class DemoPublisher {
  readonly #options: DemoPublisherOptions;
  #pipeline: GstPipeline | undefined;
  #unwatch: (() => void) | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: DemoPublisherOptions) {
    this.#options = options;
  }

  start(): void {
    if (this.#closed) return;
    const pipeline = buildDemoPipeline(this.#options.url);
    this.#pipeline = pipeline;
    this.#unwatch = watchBus(pipeline, this.#options.logger, {
      onError: () => this.#restart(),
      onEos: () => this.#restart(),
    });
    if (pipeline.setState(Gst.State.PLAYING) === Gst.StateChangeReturn.FAILURE) {
      this.#options.logger.error('demo pipeline failed to start');
      this.#restart();
      return;
    }
    this.#options.logger.info({ url: this.#options.url }, 'demo publisher started');
  }

  /** Stops the pipeline (to NULL) and any pending restart. Idempotent. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#restartTimer);
    this.#stop();
  }

  #stop(): void {
    this.#unwatch?.();
    this.#unwatch = undefined;
    this.#pipeline?.setState(Gst.State.NULL);
    this.#pipeline = undefined;
  }

  #restart(): void {
    this.#stop();
    if (this.#closed || this.#restartTimer) return;
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      this.start();
    }, this.#options.restartDelayMs ?? 2000);
  }
}

function buildDemoPipeline(url: string): GstPipeline {
  const pipeline = new Gst.Pipeline({ name: 'demo-publisher' });
  const source = makeElement('videotestsrc', 'demo-source', { isLive: true });
  const rawCaps = makeElement('capsfilter', 'demo-raw-caps', {
    caps: capsFromString('video/x-raw,format=I420,width=1280,height=720,framerate=30/1'),
  });
  const clock = makeElement('clockoverlay', 'demo-clock', { timeFormat: '%H:%M:%S', fontDesc: 'Sans 36' });
  const encoder = makeElement('x264enc', 'demo-encoder', { bitrate: 2500, keyIntMax: 30, bframes: 0 });
  Gst.utilSetObjectArg(encoder, 'tune', 'zerolatency');
  Gst.utilSetObjectArg(encoder, 'speed-preset', 'ultrafast');
  const parser = makeElement('h264parse', 'demo-parser', { configInterval: -1 });
  const h264Caps = makeElement('capsfilter', 'demo-h264-caps', {
    caps: capsFromString('video/x-h264,stream-format=byte-stream,alignment=au'),
  });
  const sink = makeElement('curlhttpsink', 'demo-push', { location: url, contentType: 'video/h264', sync: false });
  addAndLink(pipeline, [source, rawCaps, clock, encoder, parser, h264Caps, sink]);
  return pipeline;
}
