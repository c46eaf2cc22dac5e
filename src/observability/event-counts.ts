// Totals of the gateway events that /metrics reports: pushes ended (by error code) and refused
// requests (by protocol, action and result). One listener call per push or refusal, never per
// packet; the totals are read when /metrics is scraped.
import type { GatewayEventMap, GatewayEvents } from '../core/gateway-events';

type Refusal = GatewayEventMap['authRefused'];

export interface AuthRefusalCount {
  readonly protocol: Refusal['protocol'];
  readonly action: Refusal['action'];
  readonly result: Refusal['result'];
  readonly count: number;
}

export interface EventTotals {
  /** Pushes that ended after they were accepted, by error code ("none": a clean end). */
  readonly pushesEnded: ReadonlyMap<string, number>;
  readonly authRefusals: readonly AuthRefusalCount[];
  /** Bytes sent to the readers that have left, per stream still known (see forgetStreamsBut). */
  readonly sentToLeftReaders: ReadonlyMap<string, number>;
}

export class EventCounts {
  readonly #pushesEnded = new Map<string, number>();
  readonly #refusals = new Map<string, AuthRefusalCount>();
  readonly #sentToLeft = new Map<string, number>();
  readonly #stop: (() => void)[];

  constructor(events: GatewayEvents) {
    this.#stop = [
      events.on('unpublish', ({ code }) => {
        const key = code ?? 'none';
        this.#pushesEnded.set(key, (this.#pushesEnded.get(key) ?? 0) + 1);
      }),
      events.on('readerLeave', ({ reader, bytesSent }) => {
        this.#sentToLeft.set(reader.stream, (this.#sentToLeft.get(reader.stream) ?? 0) + bytesSent);
      }),
      events.on('authRefused', ({ protocol, action, result }) => {
        const key = `${protocol} ${action} ${result}`;
        const seen = this.#refusals.get(key);
        this.#refusals.set(key, { protocol, action, result, count: (seen?.count ?? 0) + 1 });
      }),
    ];
  }

  totals(): EventTotals {
    return { pushesEnded: new Map(this.#pushesEnded), authRefusals: [...this.#refusals.values()], sentToLeftReaders: new Map(this.#sentToLeft) };
  }

  /** Drops the sent bytes of streams that are gone, so that a stream's series ends with it. */
  forgetStreamsBut(names: ReadonlySet<string>): void {
    for (const name of this.#sentToLeft.keys()) if (!names.has(name)) this.#sentToLeft.delete(name);
  }

  /** Stops listening (the totals stay readable). Idempotent. */
  close(): void {
    for (const stop of this.#stop.splice(0)) stop();
  }
}
