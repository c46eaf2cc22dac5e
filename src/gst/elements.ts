// Checked element creation and linking: a missing plugin or an impossible link becomes a clear
// MEDIA_ENGINE error naming the element, never a crash or a silent half-built pipeline.
import { PushgateError } from '../core/errors';
import { GLib, Gst } from './runtime';

export type GstElement = InstanceType<typeof Gst.Element>;

export function makeElement(factory: string, name: string, properties: Record<string, unknown> = {}): GstElement {
  const element = Gst.ElementFactory.make(factory, name);
  if (!element) {
    throw new PushgateError('MEDIA_ENGINE', `GStreamer element "${factory}" (for ${name}) could not be created: is its plugin installed?`);
  }
  for (const [key, value] of Object.entries(properties)) {
    (element as unknown as Record<string, unknown>)[key] = value;
  }
  return element;
}

/**
 * node-gtk's own GObject methods (its override), which take and return plain values; the
 * generated typings only describe the GValue-based ones. pushgate's native elements (native/)
 * are driven through these: properties to configure and read them, action signals to ask them.
 */
export interface NativeElement {
  setProperty(name: string, value: unknown): void;
  getProperty(name: string): unknown;
  emit(signal: string, ...args: unknown[]): unknown;
}

/** One of pushgate's native elements, or undefined when its plugin is not built: callers say what is lost. */
export function makeNativeElement(factory: string, name: string): NativeElement | undefined {
  return (Gst.ElementFactory.make(factory, name) as unknown as NativeElement | null) ?? undefined;
}

/** Adds the elements to `bin` and links them in order. */
export function addAndLink(bin: InstanceType<typeof Gst.Bin>, elements: readonly GstElement[]): void {
  for (const element of elements) {
    if (!bin.add(element)) throw new PushgateError('MEDIA_ENGINE', `could not add ${element.name} to ${bin.name}`);
  }
  for (let i = 1; i < elements.length; i++) {
    const from = elements[i - 1]!;
    const to = elements[i]!;
    if (!from.link(to)) {
      throw new PushgateError('MEDIA_ENGINE', `could not link ${from.name} to ${to.name}: their formats are incompatible`);
    }
  }
}

export function capsFromString(caps: string): InstanceType<typeof Gst.Caps> {
  const parsed = Gst.Caps.fromString(caps);
  if (!parsed) throw new PushgateError('MEDIA_ENGINE', `invalid caps "${caps}"`);
  return parsed;
}

/** Wraps bytes in a GstBuffer (node-gtk copies them once into GLib memory). */
export function bufferFrom(data: Uint8Array): InstanceType<typeof Gst.Buffer> {
  // The generated signature says number[]; node-gtk takes typed arrays for guint8 arrays.
  return Gst.Buffer.newWrapped(data as unknown as number[]);
}

/** Posts a stream error from `element` on its pipeline's bus, as if the element had failed. */
export function postStreamError(element: GstElement, message: string): void {
  const error = GLib.Error.newLiteral(Gst.streamErrorQuark(), Gst.StreamError.FAILED, message);
  element.postMessage(Gst.Message.newError(element, error, message));
}
