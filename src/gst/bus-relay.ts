// Bus messages of the RTSP media pipelines. gst-rtsp-server watches their buses on its own
// threads, where JavaScript must not run (node-gtk would make those threads wait for Node), so
// the native pgbusrelay element (native/busrelay) queues them there and Node drains the queue.
import type { Logger } from '../core/logger';
import { logBusMessage, type BusMessage } from './bus-log';
import { makeElement, type GstElement } from './elements';
import { hasElementFactory } from './runtime';

const KINDS = new Set<string>(['error', 'warning', 'eos', 'state']);

export class BusRelay {
  readonly element: GstElement;

  private constructor(element: GstElement) {
    this.element = element;
  }

  /** Undefined when the native plugin is not built: the media then runs without bus logs. */
  static create(name: string): BusRelay | undefined {
    return hasElementFactory('pgbusrelay') ? new BusRelay(makeElement('pgbusrelay', name)) : undefined;
  }

  /** Logs and returns what was posted since the last call. */
  drain(log: Logger): BusMessage[] {
    const text = (this.element as unknown as { messages: string | null }).messages ?? '';
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
