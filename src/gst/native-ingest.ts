// The native ingest: one "pgingest" element (native/ingest/pgingest.c) per raw H.264/H.265
// push, reading the request body on a thread of its own and pushing access units straight into
// the stream's appsrc. This class drives it from Node's thread: it starts it on the connection's fd, feeds
// the stream's output from begin() to stop() (StreamMedia hands it its current appsrc as the
// stream's media is rebuilt), and reads its state when the element says it changed. The media
// engine opens it for a stream name (NativeIngestPort) and finds that stream's output for it.
import { epochNs } from '../core/clock';
import { PushgateError } from '../core/errors';
import type { VideoCodec } from '../core/media';
import type { NativeReadState, NativeReader, RawPushBody } from '../core/media-engine';
import { makeNativeElement, type GstElement, type NativeElement } from './elements';
import { hasElementFactory } from './runtime';

const FACTORY = 'pgingest';
const STATES: readonly NativeReadState[] = ['running', 'ended', 'aborted', 'idle', 'invalid', 'bad-body', 'stopped'];

let serial = 0;

interface SignalTarget {
  connect(signal: string, handler: () => void): number;
  disconnect(handlerId: number): void;
}

/** What a native ingest feeds: a stream's output (StreamMedia). */
export interface IngestTarget {
  feedFrom(ingest: NativeIngest): void;
  stopFeedingFrom(ingest: NativeIngest): void;
}

/** Finds the output of the stream a push was opened for, once it is live. */
export type OutputLookup = () => IngestTarget | undefined;

export class NativeIngest implements NativeReader {
  readonly #element: NativeElement & SignalTarget;
  readonly #handlerId: number;
  readonly #outputOf: OutputLookup;
  /** The output this ingest feeds, from begin() on. */
  #output: IngestTarget | undefined;
  #listener: (() => void) | undefined;
  #targetsLost = 0;
  #stopped = false;
  /** Set by the output it feeds: its appsrc refused data (the media stopped). */
  onTargetLost: (() => void) | undefined;

  /** Whether the plugin is built and loaded. */
  static available(): boolean {
    return hasElementFactory(FACTORY);
  }

  /** Starts reading `body` (a thread of its own). Throws MEDIA_ENGINE if that is impossible. */
  static open(codec: VideoCodec, body: RawPushBody, idleTimeoutMs: number, outputOf: OutputLookup = () => undefined): NativeIngest {
    const element = makeNativeElement(FACTORY, `ingest-${++serial}`) as (NativeElement & SignalTarget) | undefined;
    if (!element) throw new PushgateError('MEDIA_ENGINE', `the native ingest plugin "${FACTORY}" is not loaded`);
    element.setProperty('codec', codec);
    element.setProperty('unit-writer', body.unitWriter);
    element.setProperty('idle-timeout-ms', idleTimeoutMs);
    element.setProperty('base-time', epochNs);
    const ingest = new NativeIngest(element, outputOf);
    const head = Buffer.from(body.head.buffer, body.head.byteOffset, body.head.byteLength).toString('base64');
    if (!element.emit('start', body.fd, head, body.contentLength ?? -1)) {
      ingest.stop();
      throw new PushgateError('MEDIA_ENGINE', 'the native ingest could not take over the connection');
    }
    return ingest;
  }

  private constructor(element: NativeElement & SignalTarget, outputOf: OutputLookup) {
    this.#element = element;
    this.#outputOf = outputOf;
    this.#handlerId = element.connect('changed', () => this.#changed());
  }

  get state(): NativeReadState {
    return STATES[this.#number('state')] ?? 'aborted';
  }

  get error(): string {
    return this.#string('error');
  }

  get started(): boolean {
    return Boolean(this.#element.getProperty('started'));
  }

  get parameterSets(): Uint8Array {
    return Buffer.from(this.#string('parameter-sets'), 'base64');
  }

  get spsSerial(): number {
    return this.#number('sps-serial');
  }

  get bytes(): number {
    return this.#number('bytes');
  }

  get frames(): number {
    return this.#number('frames');
  }

  get framesOut(): number {
    return this.#number('frames-out');
  }

  begin(frameRate: number | undefined): void {
    if (this.#stopped) return;
    this.#output ??= this.#outputOf();
    this.#output?.feedFrom(this);
    this.#element.emit('begin', frameRate ?? 0);
  }

  setFrameRate(frameRate: number): void {
    this.#element.setProperty('frame-rate', frameRate);
  }

  onChange(listener: () => void): void {
    this.#listener = listener;
  }

  /** Units go to `appsrc` from now on (none: they are dropped); `flowing` if it already has data. */
  setTarget(appsrc: GstElement | undefined, flowing: boolean): void {
    if (appsrc) this.#element.emit('set-target', appsrc, flowing);
    else this.#element.emit('clear-target');
  }

  /** Stops feeding the output; returns whether its current appsrc had accepted data. */
  detach(): boolean {
    const flowing = Boolean(this.#element.getProperty('target-flowing'));
    this.#element.emit('clear-target');
    this.onTargetLost = undefined;
    return flowing;
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#element.emit('stop');
    this.#element.disconnect(this.#handlerId);
    this.#listener = undefined;
    // The output outlives the push (grace period): it must not keep this ingest.
    this.#output?.stopFeedingFrom(this);
    this.#output = undefined;
    this.onTargetLost = undefined;
  }

  #changed(): void {
    const lost = this.#number('targets-lost');
    // Lost and not replaced since (a new media's appsrc may already be set): the output forgets it.
    if (lost !== this.#targetsLost) {
      this.#targetsLost = lost;
      if (!this.#element.getProperty('has-target')) this.onTargetLost?.();
    }
    this.#listener?.();
  }

  #string(name: string): string {
    const value = this.#element.getProperty(name);
    return typeof value === 'string' ? value : '';
  }

  #number(name: string): number {
    return Number(this.#element.getProperty(name));
  }
}
