// Releases timed units when their time comes and tells the push when to stop reading.
// A live publisher's units are due as they arrive and pass straight through; a file sent
// as fast as TCP allows is held here and its reading paused, so the publisher is slowed to
// real time by TCP flow control and memory stays bounded whatever it does.
import type { Clock } from '../core/clock';
import { MS } from '../core/clock';
import type { TimedUnit } from '../core/media';

export interface PacerOptions {
  readonly clock: Clock;
  readonly release: (unit: TimedUnit) => void;
  /** Units due within this much are released at once; GStreamer syncs the rest precisely. */
  readonly lookaheadNs?: number;
  /** Stop reading once this much media is waiting. */
  readonly maxQueuedNs?: number;
  readonly maxQueuedBytes?: number;
}

export class Pacer {
  readonly #options: Required<PacerOptions>;
  /** Short (at most about a second of media), so shift() is cheap; released units must not linger here. */
  readonly #queue: TimedUnit[] = [];
  #queuedBytes = 0;
  #timer: NodeJS.Timeout | undefined;
  #roomWaiters: (() => void)[] = [];
  #drainWaiters: (() => void)[] = [];
  #closed = false;

  constructor(options: PacerOptions) {
    this.#options = {
      lookaheadNs: 5 * MS,
      maxQueuedNs: 1000 * MS,
      maxQueuedBytes: 16 * 1024 * 1024,
      ...options,
    };
  }

  get queuedUnits(): number {
    return this.#queue.length;
  }

  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  enqueue(unit: TimedUnit): void {
    if (this.#closed) return;
    this.#queue.push(unit);
    this.#queuedBytes += unit.data.byteLength;
    this.#drain();
  }

  /** Resolves when the push may read more (immediately if there is room). */
  waitForRoom(): Promise<void> {
    if (!this.#full()) return Promise.resolve();
    return new Promise((resolve) => this.#roomWaiters.push(resolve));
  }

  /** Resolves once every queued unit has been released in its time (or the pacer closed). */
  drained(): Promise<void> {
    if (this.queuedUnits === 0 || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** Drops what is queued and wakes any waiter. Idempotent. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue.length = 0;
    this.#queuedBytes = 0;
    this.#wakeWaiters();
    this.#wakeDrainWaiters();
  }

  #drain(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const { clock, lookaheadNs, release } = this.#options;
    const now = clock.now();
    for (let unit = this.#queue[0]; unit && unit.dts <= now + lookaheadNs; unit = this.#queue[0]) {
      this.#queue.shift();
      this.#queuedBytes -= unit.data.byteLength;
      release(unit);
    }
    const next = this.#queue[0];
    if (next) {
      const delayMs = Math.max(1, (next.dts - lookaheadNs - now) / MS);
      this.#timer = setTimeout(() => this.#drain(), delayMs);
    }
    if (!this.#full()) this.#wakeWaiters();
    if (this.queuedUnits === 0) this.#wakeDrainWaiters();
  }

  #full(): boolean {
    const last = this.#queue[this.#queue.length - 1];
    if (!last) return false;
    return last.dts - this.#options.clock.now() > this.#options.maxQueuedNs || this.#queuedBytes > this.#options.maxQueuedBytes;
  }

  #wakeDrainWaiters(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const wake of waiters) wake();
  }

  #wakeWaiters(): void {
    const waiters = this.#roomWaiters;
    this.#roomWaiters = [];
    for (const wake of waiters) wake();
  }
}
