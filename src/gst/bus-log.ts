// Structured logs for the bus of a pipeline pushgate owns, watched on the main thread (never a
// sync handler: that would run JavaScript on a GStreamer thread).
import type { Logger } from '../core/logger';
import { Gst } from './runtime';

export type GstPipeline = InstanceType<typeof Gst.Pipeline>;
type GstMessage = InstanceType<typeof Gst.Message>;

export interface BusHandlers {
  onError?(message: string): void;
  onEos?(): void;
}

/** Watches `pipeline`'s bus until the returned function is called. */
export function watchBus(pipeline: GstPipeline, log: Logger, handlers: BusHandlers = {}): () => void {
  const bus = pipeline.getBus();
  if (!bus) return () => {};
  bus.addSignalWatch();
  const handlerId = bus.connect('message', (message: GstMessage) => {
    const source = message.src?.name ?? 'unknown';
    switch (message.type) {
      case Gst.MessageType.ERROR: {
        const [error, debug] = message.parseError();
        logBusMessage(log, { kind: 'error', source, text: error?.message ?? 'unknown', debug });
        handlers.onError?.(error?.message ?? 'GStreamer error');
        break;
      }
      case Gst.MessageType.WARNING: {
        const [warning, debug] = message.parseWarning();
        logBusMessage(log, { kind: 'warning', source, text: warning?.message ?? 'unknown', debug });
        break;
      }
      case Gst.MessageType.EOS:
        logBusMessage(log, { kind: 'eos', source });
        handlers.onEos?.();
        break;
      case Gst.MessageType.STATE_CHANGED:
        if (message.src === pipeline) {
          const [from, to] = message.parseStateChanged();
          logBusMessage(log, { kind: 'state', source, text: `${Gst.Element.stateGetName(from)}->${Gst.Element.stateGetName(to)}` });
        }
        break;
      default:
        break;
    }
  });
  return () => {
    bus.disconnect(handlerId);
    bus.removeSignalWatch();
  };
}

/** One bus message as pushgate logs it, whichever thread it was taken from. */
export interface BusMessage {
  readonly kind: 'error' | 'warning' | 'eos' | 'state';
  /** Name of the element that posted it. */
  readonly source: string;
  /** Error or warning text, or "FROM->TO" for a state change. */
  readonly text?: string;
  readonly debug?: string | null;
}

/**
 * Warnings about pipelines pushgate does not build and that need no action, logged at debug
 * level. gst-rtsp-server's own sinks (the TCP appsink, multiudpsink) have a 20 ms processing
 * deadline and no queue before them, so the latency query of every media warns "Not enough
 * buffering available for the processing deadline", two or three times per media.
 */
const HARMLESS_WARNINGS: readonly RegExp[] = [/Not enough buffering available for\s+the processing deadline/];

export function logBusMessage(log: Logger, message: BusMessage): void {
  const { kind, source: element, text, debug } = message;
  switch (kind) {
    case 'error':
      log.error({ element, debug }, `GStreamer error: ${text}`);
      break;
    case 'warning':
      if (HARMLESS_WARNINGS.some((pattern) => pattern.test(debug ?? ''))) log.debug({ element, debug }, `GStreamer warning: ${text}`);
      else log.warn({ element, debug }, `GStreamer warning: ${text}`);
      break;
    case 'eos':
      log.info({ element }, 'GStreamer end of stream');
      break;
    case 'state': {
      const [from, to] = (text ?? '').split('->');
      log.debug({ element, from, to }, 'GStreamer state changed');
      break;
    }
  }
}
