// The one place node-gtk is loaded. GStreamer is initialised on first import; the GLib main
// loop must run on Node's thread (it nests libuv), started from CommonJS top level.
import * as gi from 'node-gtk';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export const Gst = gi.require('Gst', '1.0');
export const GLib = gi.require('GLib', '2.0');
export const Gio = gi.require('Gio', '2.0');
export const GstApp = gi.require('GstApp', '1.0');
export const GstRtsp = gi.require('GstRtsp', '1.0');
export const GstRtspServer = gi.require('GstRtspServer', '1.0');
export const GstSdp = gi.require('GstSdp', '1.0');
export const registerClass = gi.registerClass;

Gst.init(null);

/** Holds pushgate's own GStreamer plugin, libgstpushgate.so, built from native/ by scripts/build-native.sh. */
export const NATIVE_PLUGIN_DIR = path.resolve(__dirname, '../../../native/build');
Gst.Registry.get().scanPath(NATIVE_PLUGIN_DIR);

/** A GstWebRTCSessionDescription: its SDP message. */
export interface WebRtcSessionDescription {
  readonly sdp: InstanceType<typeof GstSdp.SDPMessage>;
}

/** What pushgate uses of GstWebRTC (its introspection data ships apart: gir1.2-gst-plugins-bad-1.0). */
export interface GstWebRtcModule {
  readonly WebRTCSessionDescription: {
    new: (type: number, sdp: InstanceType<typeof GstSdp.SDPMessage>) => WebRtcSessionDescription;
  };
  readonly WebRTCSDPType: { readonly OFFER: number; readonly ANSWER: number };
}

let gstWebRtc: GstWebRtcModule | null | undefined;

/** GstWebRTC, loaded on first use; undefined when its introspection data is not installed. */
export function loadGstWebRtc(): GstWebRtcModule | undefined {
  if (gstWebRtc === undefined) {
    try {
      const module: unknown = gi.require('GstWebRTC', '1.0');
      gstWebRtc = module as GstWebRtcModule;
    } catch {
      gstWebRtc = null;
    }
  }
  return gstWebRtc ?? undefined;
}

/** Whether an element factory is installed (or built in native/). */
export function hasElementFactory(factory: string): boolean {
  return Gst.ElementFactory.find(factory) !== null;
}

export function gstVersion(): string {
  return Gst.versionString();
}

let loop: InstanceType<typeof GLib.MainLoop> | undefined;

/**
 * Runs the GLib main loop until quitMainLoop(). Blocks the caller (Node keeps running inside
 * it), so call it last, at the top level of the CommonJS entry point: started from inside a
 * Node timer callback, node-gtk 4.1 starves Node's own timers.
 */
export function runMainLoop(): void {
  loop = GLib.MainLoop.new(null, false);
  loop.run();
}

export function quitMainLoop(): void {
  loop?.quit();
}

type CollectGarbage = (options: { type: 'major'; execution: 'async' }) => void;
let collector: CollectGarbage | undefined;

/**
 * Asks V8 for a full collection, done in the background. node-gtk keeps a GObject (a stopped
 * pipeline with everything in it) alive for as long as its JavaScript wrapper lives and tells
 * V8 nothing of the native memory behind it, so V8 sees a small heap and seldom collects: call
 * this when such objects have just died (a media was unprepared).
 */
export function collectGarbage(): void {
  if (!collector) {
    setFlagsFromString('--expose-gc');
    collector = runInNewContext('gc') as CollectGarbage;
  }
  collector({ type: 'major', execution: 'async' });
}
