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
        log.error({ element: source, debug }, `GStreamer error: ${error?.message ?? 'unknown'}`);
        handlers.onError?.(error?.message ?? 'GStreamer error');
        break;
      }
      case Gst.MessageType.WARNING: {
        const [warning, debug] = message.parseWarning();
        log.warn({ element: source, debug }, `GStreamer warning: ${warning?.message ?? 'unknown'}`);
        break;
      }
      case Gst.MessageType.EOS:
        log.info({ element: source }, 'GStreamer end of stream');
        handlers.onEos?.();
        break;
      case Gst.MessageType.STATE_CHANGED:
        if (message.src === pipeline) {
          const [from, to] = message.parseStateChanged();
          log.debug({ element: source, from: Gst.Element.stateGetName(from), to: Gst.Element.stateGetName(to) }, 'GStreamer state changed');
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
