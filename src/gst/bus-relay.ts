// Bus messages of the RTSP media pipelines. gst-rtsp-server watches their buses on its own
// threads, where JavaScript must not run (node-gtk would make those threads wait for Node), so
// the native pgbusrelay element (native/pgbusrelay.c) queues them there, tells Node's thread when
// there is news ("pending"), and Node drains the queue then: no timer per stream.
import type { Logger } from '../core/logger';
import { logBusMessage, type BusMessage } from './bus-log';
import { makeElement, type GstElement } from './elements';
import { hasElementFactory } from './runtime';

const KINDS = new Set<string>(['error', 'warning', 'eos', 'state']);

interface RelayElement {
  readonly messages: string | null;
  connect(signal: 'pending', handler: () => void): number;
  disconnect(handlerId: number): void;
}

export class BusRelay {
  readonly element: GstElement;
  readonly #relay: RelayElement;
  #handlerId: number | undefined;

  private constructor(element: GstElement) {
    this.element = element;
    this.#relay = element as unknown as RelayElement;
  }

  /** Undefined when the native plugin is not built: the media then runs without bus logs. */
  static create(name: string): BusRelay | undefined {
    return hasElementFactory('pgbusrelay') ? new BusRelay(makeElement('pgbusrelay', name)) : undefined;
  }

  /** From now until close(), what the pipeline posts is logged as it comes. */
  watch(log: Logger): this {
    this.#handlerId ??= this.#relay.connect('pending', () => this.drain(log));
    return this;
  }

  /** Logs what is left and stops watching; later messages are not logged. */
  close(log: Logger): void {
    if (this.#handlerId !== undefined) this.#relay.disconnect(this.#handlerId);
    this.#handlerId = undefined;
    this.drain(log);
  }

  /** Logs and returns what was posted since the last call. */
  drain(log: Logger): BusMessage[] {
    const text = this.#relay.messages ?? '';
    const messages = parseRelayed(text);
    for (const message of messages) logBusMessage(log, message);
    return messages;
  }
}

/** Lines of "kind\tsource\ttext\tdebug", as pgbusrelay writes them. */
export function parseRelayed(text: string): BusMessage[] {
  const messages: BusMessage[] = [];
  for (const line of text.split('\n')) {
    const [kind = '', source = 'unknown', messageText, debug] = line.split('\t');
    if (!KINDS.has(kind)) continue;
    messages.push({ kind: kind as BusMessage['kind'], source, text: messageText || undefined, debug: debug || undefined });
  }
  return messages;
}
