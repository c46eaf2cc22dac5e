// Whether an RTSP media has been unprepared, asked without waiting. gst_rtsp_media_get_status()
// blocks while a media prepares, up to 20 s, and on Node's thread that would stop the gateway,
// including the publisher whose data the preparing media waits for. So the native pgmediawatch
// element (native/pgmediawatch.c) flags a media when gst-rtsp-server unprepares it, on whatever
// thread does that, and Node reads the flag.
import type { Logger } from '../core/logger';
import { makeNativeElement, type NativeElement } from './elements';
import { NATIVE_PLUGIN_DIR, type GstRtspServer } from './runtime';

type Media = InstanceType<typeof GstRtspServer.RTSPMedia>;

export class MediaWatch {
  readonly #element: NativeElement | undefined;

  private constructor(element: NativeElement | undefined) {
    this.#element = element;
  }

  /** Without the native plugin (a warning says so) isUnprepared() cannot tell. */
  static create(log: Logger, factory = 'pgmediawatch'): MediaWatch {
    const element = makeNativeElement(factory, 'rtsp-media-watch');
    if (!element) {
      log.warn({ pluginDir: NATIVE_PLUGIN_DIR }, `the native plugin "${factory}" was not found (build it with scripts/build-native.sh): released RTSP media are not followed until they are unprepared`);
    }
    return new MediaWatch(element);
  }

  /** Call from media-configure, before anything can unprepare the media: from then on isUnprepared() can tell. */
  watch(media: Media): void {
    this.#element?.emit('watch-media', media);
  }

  /** Whether a watched media has been unprepared; undefined if that cannot be known (no native plugin). Never waits. */
  isUnprepared(media: Media): boolean | undefined {
    return this.#element ? Boolean(this.#element.emit('media-unprepared', media)) : undefined;
  }
}
