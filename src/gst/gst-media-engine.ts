// The GStreamer media engine: an RTSP server plus one StreamMedia per live stream.
import type { Logger } from '../core/logger';
import type { MediaEngine, StreamOutput } from '../core/media-engine';
import type { StreamTracks } from '../core/media';
import { RtspServer, type RtspServerOptions } from './rtsp-server';
import { NATIVE_PLUGIN_DIR, hasElementFactory } from './runtime';
import { StreamMedia } from './stream-media';

export class GstMediaEngine implements MediaEngine {
  readonly rtsp: RtspServer;
  readonly #log: Logger;
  readonly #outputs = new Set<StreamMedia>();

  constructor(options: RtspServerOptions) {
    this.#log = options.logger;
    this.rtsp = new RtspServer(options);
  }

  start(): void {
    if (!hasElementFactory('pgbusrelay')) {
      this.#log.warn(
        { pluginDir: NATIVE_PLUGIN_DIR },
        'native plugin pgbusrelay not found (build it with scripts/build-native.sh): bus messages of RTSP media pipelines will not be logged',
      );
    }
    this.rtsp.start();
  }

  createOutput(name: string, tracks: StreamTracks): StreamOutput {
    const output = new StreamMedia(name, tracks, this.rtsp, this.#log.child({ stream: name }), () => this.#outputs.delete(output));
    this.#outputs.add(output);
    return output;
  }

  /** Releases every output's pipeline (to NULL) and stops the RTSP server. */
  close(): void {
    for (const output of [...this.#outputs]) output.release();
    this.rtsp.close();
  }
}
