// The stream registry: which names are live, who publishes them, and what happens to their
// readers when a publisher leaves. Plain TypeScript: the media engine is injected.
import { MS, type Clock } from './clock';
import { PushgateError } from './errors';
import { noEvents, type GatewayEvents } from './gateway-events';
import type { Logger } from './logger';
import type { MediaEngine } from './media-engine';
import { describeTrackChange, sameTracks, type StreamTracks, type TimedUnit } from './media';
import { Stream, type PublisherInfo, type StreamDescription } from './stream';

export interface StreamRegistryOptions {
  readonly engine: MediaEngine;
  readonly clock: Clock;
  readonly logger: Logger;
  /** How long readers wait for a dropped publisher to come back. */
  readonly graceMs: number;
  /** Streams at once, live or in their grace period; a new name beyond it is refused. */
  readonly maxStreams?: number;
  /** Told of every publish and unpublish. */
  readonly events?: GatewayEvents;
}

/** How a push ended, which decides what its readers see. */
export type PublishOutcome =
  /** The publisher finished or dropped (`code`: PUSH_ABORTED): readers wait out the grace period for a reconnect. */
  | { readonly kind: 'ended'; readonly code?: string }
  /** The publisher sent something unusable: readers get end of stream now. */
  | { readonly kind: 'failed'; readonly reason: string; readonly code?: string };

export class StreamRegistry {
  readonly #streams = new Map<string, Stream>();
  /** The push of each stream that has a publisher now. */
  readonly #publications = new Map<Stream, Publication>();
  #options: StreamRegistryOptions;
  #closed = false;
  #draining = false;

  constructor(options: StreamRegistryOptions) {
    this.#options = options;
  }

  /** For the next publish and the next dropped publisher (a reloaded config). */
  setLimits(limits: Pick<StreamRegistryOptions, 'maxStreams' | 'graceMs'>): void {
    this.#options = { ...this.#options, ...limits };
  }

  /** Claims `name` for a new publisher. Throws STREAM_BUSY when another publisher is live on it. */
  publish(name: string, publisher: PublisherInfo): Publication {
    if (this.#closed) throw new PushgateError('SHUTTING_DOWN', 'the gateway is shutting down');
    if (this.#draining) throw new PushgateError('DRAINING', 'the gateway is draining before a restart and takes no new push: push to another node');
    let stream = this.#streams.get(name);
    if (stream?.publisher) {
      throw new PushgateError(
        'STREAM_BUSY',
        `stream "${name}" already has a publisher (${stream.publisher.remoteAddress}); end it first or use another name`,
      );
    }
    const maxStreams = this.#options.maxStreams ?? Infinity;
    if (!stream && this.#streams.size >= maxStreams) {
      throw new PushgateError(
        'STREAM_LIMIT',
        `the gateway already serves ${this.#streams.size} streams, its limit (--max-streams ${maxStreams}): try again when one has ended`,
      );
    }
    const resumed = stream !== undefined;
    if (stream) {
      // A reconnect within the grace period: keep the output until the tracks are known.
      clearTimeout(stream.graceTimer);
      stream.graceTimer = undefined;
      stream.publisher = publisher;
      stream.format = publisher.format;
    } else {
      stream = new Stream(name, publisher, this.#options.clock);
      this.#streams.set(name, stream);
    }
    this.#log(stream).info({ remoteAddress: publisher.remoteAddress, format: publisher.format }, 'publisher connected');
    this.#events.emit('publish', { stream: name, remoteAddress: publisher.remoteAddress, format: publisher.format, resumed });
    const publication = new Publication(this, stream, this.#options.clock.now());
    this.#publications.set(stream, publication);
    return publication;
  }

  /**
   * Ends the current push of `name` now, for an operator: the push stops with PUBLISHER_KICKED
   * (its publisher is answered with it if it can still be) and the stream ends for its readers
   * at once, with no grace period: a kicked publisher is not waited for. Returns who was
   * kicked; throws PUBLISHER_NOT_FOUND when nobody pushes `name`.
   */
  kickPublisher(name: string, reason: string): PublisherInfo {
    const stream = this.#streams.get(name);
    const publication = stream && this.#publications.get(stream);
    if (!stream?.publisher || !publication) throw new PushgateError('PUBLISHER_NOT_FOUND', `nobody is pushing "${name}" now`);
    const publisher = stream.publisher;
    this.#log(stream).warn({ remoteAddress: publisher.remoteAddress, reason }, 'publisher kicked');
    publication.kick(reason);
    return publisher;
  }

  get(name: string): StreamDescription | undefined {
    const stream = this.#streams.get(name);
    return stream && this.#describe(stream);
  }

  list(): StreamDescription[] {
    return [...this.#streams.values()].map((s) => this.#describe(s));
  }

  /** A stream as the API shows it, with its WebRTC watchers from the engine. */
  #describe(stream: Stream): StreamDescription {
    return { ...stream.describe(), webrtcWatchers: this.#options.engine.webrtc?.count(stream.name) ?? 0 };
  }

  /** From now on every push is refused with DRAINING; the streams live now go on. */
  drain(): void {
    this.#draining = true;
  }

  /** Ends every stream for its readers: used on shutdown. */
  closeAll(reason: string): void {
    this.#closed = true;
    for (const stream of [...this.#streams.values()]) this.#remove(stream, reason);
  }

  /** Called by a Publication once its tracks are known. */
  startOutput(stream: Stream, tracks: StreamTracks): void {
    const log = this.#log(stream);
    if (stream.output && stream.tracks && !sameTracks(stream.tracks, tracks)) {
      log.warn({ change: describeTrackChange(stream.tracks, tracks) }, 'publisher came back with different tracks: ending the previous readers');
      stream.output.close('the publisher changed codec or resolution');
      stream.output = undefined;
    }
    stream.tracks = tracks;
    if (stream.output) {
      stream.output.setMounted(true);
      log.info({ readers: stream.output.readerCount }, 'publisher resumed: readers continue');
      return;
    }
    stream.output = this.#options.engine.createOutput(stream.name, tracks);
    stream.liveSince = new Date();
    log.info({ tracks }, 'stream live');
  }

  /** Called by a Publication when its push ends, however it ended. */
  endPublication(stream: Stream, outcome: PublishOutcome, push: { bytesIn: number; startedAt: number }): void {
    const publisher = stream.publisher;
    stream.publisher = undefined;
    this.#publications.delete(stream);
    this.#events.emit('unpublish', {
      stream: stream.name,
      remoteAddress: publisher?.remoteAddress ?? '',
      reason: outcome.kind === 'failed' ? outcome.reason : outcome.code === 'PUSH_ABORTED' ? 'publisher dropped' : 'publisher ended',
      code: outcome.code ?? null,
      bytesIn: push.bytesIn,
      durationMs: Math.round((this.#options.clock.now() - push.startedAt) / MS),
    });
    const log = this.#log(stream);
    if (outcome.kind === 'failed' || !stream.output || this.#closed) {
      this.#remove(stream, outcome.kind === 'failed' ? outcome.reason : 'publisher ended');
      return;
    }
    // Readers keep their sessions for the grace period; new readers get 404 meanwhile.
    stream.output.setMounted(false);
    log.info({ graceMs: this.#options.graceMs, readers: stream.output.readerCount }, 'publisher gone: waiting for it to come back');
    stream.graceTimer = setTimeout(() => {
      stream.graceTimer = undefined;
      this.#remove(stream, `no publisher came back within ${this.#options.graceMs} ms`);
    }, this.#options.graceMs);
  }

  #remove(stream: Stream, reason: string): void {
    clearTimeout(stream.graceTimer);
    stream.graceTimer = undefined;
    if (this.#streams.get(stream.name) === stream) this.#streams.delete(stream.name);
    if (stream.output) {
      stream.output.close(reason);
      stream.output = undefined;
      this.#log(stream).info({ reason }, 'stream ended');
    }
  }

  get #events(): GatewayEvents {
    return this.#options.events ?? noEvents;
  }

  #log(stream: Stream): Logger {
    return this.#options.logger.child({ stream: stream.name });
  }
}

/** One publisher's hold on a stream name: lives exactly as long as its push request. */
export class Publication {
  readonly #registry: StreamRegistry;
  readonly #stream: Stream;
  readonly #startedAt: number;
  #bytesIn = 0;
  #started = false;
  #ended = false;
  readonly #kicked = new AbortController();

  constructor(registry: StreamRegistry, stream: Stream, startedAt: number) {
    this.#registry = registry;
    this.#stream = stream;
    this.#startedAt = startedAt;
  }

  get name(): string {
    return this.#stream.name;
  }

  get started(): boolean {
    return this.#started;
  }

  /** The tracks are known: the stream goes live (or resumes for its waiting readers). */
  start(tracks: StreamTracks): void {
    if (this.#ended || this.#started) return;
    this.#registry.startOutput(this.#stream, tracks);
    this.#started = true;
  }

  countBytes(bytes: number): void {
    if (this.#ended) return;
    this.#bytesIn += bytes;
    this.#stream.countBytes(bytes);
  }

  write(unit: TimedUnit): void {
    if (this.#started && !this.#ended) this.#stream.write(unit);
  }

  /** Frames a native reader handed to the output itself (write() counts its own). */
  countFrames(frames: number): void {
    if (!this.#ended) this.#stream.framesIn += frames;
  }

  /** `refresh` brings the stream's byte and frame counts up to date when they are read. */
  countWith(refresh: () => void): void {
    if (!this.#ended) this.#stream.refreshCounters = refresh;
  }

  /**
   * Aborted when the push is ended from outside (kickPublisher), with a PUBLISHER_KICKED error
   * as its reason: the push stops reading and answers with that error.
   */
  get kicked(): AbortSignal {
    return this.#kicked.signal;
  }

  /** Ends the publication as failed with PUBLISHER_KICKED, then tells the push (`kicked`). */
  kick(reason: string): void {
    if (this.#ended) return;
    this.end({ kind: 'failed', reason: `publisher kicked: ${reason}`, code: 'PUBLISHER_KICKED' });
    this.#kicked.abort(new PushgateError('PUBLISHER_KICKED', `the push was ended by an operator: ${reason}`));
  }

  /** Idempotent: the first outcome wins. */
  end(outcome: PublishOutcome): void {
    if (this.#ended) return;
    // A native reader's last bytes reach the counts (and the unpublish event) only when read.
    this.#stream.refreshCounters?.();
    this.#ended = true;
    this.#stream.refreshCounters = undefined;
    this.#registry.endPublication(this.#stream, outcome, { bytesIn: this.#bytesIn, startedAt: this.#startedAt });
  }
}
