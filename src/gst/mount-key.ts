// One shared media per mount, over RTSP and RTSPS. gst-rtsp-server's default media key has the
// URL's port and query in it, so readers of the two ports would get a media each; pushgate's
// factory keys in JavaScript instead, but that ran on every DESCRIBE and left tens of KB of
// garbage each time (500 readers joining grew the process by 40 to 80 MB of V8 heap). The
// native pgmountkey element (native/pgmountkey.c) gives the factory's class a key function in C.
import type { Logger } from '../core/logger';
import { makeNativeElement, type NativeElement } from './elements';
import { NATIVE_PLUGIN_DIR, type GstRtspServer } from './runtime';

type Factory = InstanceType<typeof GstRtspServer.RTSPMediaFactory>;

export class MountKey {
  readonly #element: NativeElement | undefined;

  private constructor(element: NativeElement | undefined) {
    this.#element = element;
  }

  /** Without the native plugin (a warning says so) factories keep their JavaScript key. */
  static create(log: Logger, factory = 'pgmountkey'): MountKey {
    const element = makeNativeElement(factory, 'rtsp-mount-key');
    if (!element) {
      log.warn({ pluginDir: NATIVE_PLUGIN_DIR }, `the native plugin "${factory}" was not found (build it with scripts/build-native.sh): RTSP media are keyed in JavaScript, on every DESCRIBE`);
    }
    return new MountKey(element);
  }

  /** Makes `factory`'s class key its medias by mount alone (before the factory's first media is built). */
  apply(factory: Factory): void {
    this.#element?.emit('key-by-mount', factory);
  }
}
