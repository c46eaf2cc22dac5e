// The GStreamer media engine: an RTSP server, one StreamMedia per live stream, and the native
// ingest that feeds a stream's media straight from a push's connection.
import type { GatewayEvents } from '../core/gateway-events';
import type { Logger } from '../core/logger';
import type { MediaEngine, NativeIngestPort, ReaderControl, StreamOutput, WebRtcPort } from '../core/media-engine';
import type { StreamTracks } from '../core/media';
import { NativeIngest } from './native-ingest';
import { RtspServer, type RtspServerOptions } from './rtsp-server';
import { NATIVE_PLUGIN_DIR, hasElementFactory } from './runtime';
import { StreamMedia } from './stream-media';
import { WebRtcService, type WebRtcOptions } from './webrtc-service';

export interface GstMediaEngineOptions extends RtspServerOptions {
  /** Read raw H.264/H.265 pushes natively when the plugin is built (else Node reads them). */
  readonly nativeIngest: boolean;
  /** Told of every RTSP reader that joins and leaves. */
  readonly events?: GatewayEvents | undefined;
  /** WebRTC playback (WHEP); undefined: off. */
  readonly webrtc?: WebRtcOptions | undefined;
}

export class GstMediaEngine implements MediaEngine {
  readonly rtsp: RtspServer;
  readonly nativeIngest: NativeIngestPort | undefined;
  readonly readers: ReaderControl | undefined;
  readonly #webrtc: WebRtcService | undefined;
  readonly #log: Logger;
  /** Every output not yet released, oldest first (a closing one lingers beside its successor). */
  readonly #outputs = new Set<StreamMedia>();

  readonly #host: string;

  constructor(options: GstMediaEngineOptions) {
    this.#log = options.logger;
    this.#host = options.host;
    const events = options.events;
    this.#webrtc = options.webrtc && this.#webrtcService(options.webrtc);
    this.rtsp = new RtspServer({
      ...options,
      internalReader: this.#webrtc && { ...this.#webrtc.credentials, ownAddress: isWildcard(options.host) ? undefined : options.host },
      // Each reader's join and leave is logged at debug only: a connect storm would otherwise
      // be a log line per reader (webhooks and /metrics are how operators follow readers).
      onReaderEvents: (readers) => {
        for (const e of readers) {
          const { id, stream, remoteAddress, transport, tls } = e.reader;
          if (e.kind === 'join') {
            this.#log.debug({ reader: id, stream, remoteAddress, transport, tls }, 'RTSP reader joined');
            events?.emit('readerJoin', { reader: e.reader });
          } else {
            this.#log.debug({ reader: id, stream, remoteAddress, transport, tls, bytesSent: e.bytesSent }, 'RTSP reader left');
            events?.emit('readerLeave', { reader: e.reader, bytesSent: e.bytesSent });
          }
        }
      },
    });
    this.readers = this.rtsp.readers;
    this.nativeIngest = options.nativeIngest ? this.#nativeIngestPort() : undefined;
  }

  /** WebRTC playback, when it can work here (else a warning says what is missing). */
  get webrtc(): WebRtcPort | undefined {
    return this.#webrtc;
  }

  #webrtcService(options: WebRtcOptions): WebRtcService | undefined {
    const missing = WebRtcService.missing();
    if (missing) {
      this.#log.warn({ missing }, 'WebRTC playback (WHEP) is off: POST /whep/<name> answers 501');
      return undefined;
    }
    return new WebRtcService(options, (name) => {
      const output = this.#liveOutput(name);
      return output?.mounted ? output.tracks : undefined;
    }, this.#log.child({ module: 'webrtc' }));
  }

  #nativeIngestPort(): NativeIngestPort | undefined {
    if (!NativeIngest.available()) {
      this.#log.warn(
        { pluginDir: NATIVE_PLUGIN_DIR },
        'the native ingest is off: its element "pgingest" was not found (build it with scripts/build-native.sh); every push is read in JavaScript, at about twice the CPU',
      );
      return undefined;
    }
    return {
      open: (name, codec, body, idleTimeoutMs) => NativeIngest.open(codec, body, idleTimeoutMs, () => this.#liveOutput(name)),
    };
  }

  /** The output readers of `name` are served from now (the newest one not closed). */
  #liveOutput(name: string): StreamMedia | undefined {
    return [...this.#outputs].findLast((output) => output.name === name && !output.closed);
  }

  start(): void {
    if (!hasElementFactory('pgbusrelay')) {
      this.#log.warn(
        { pluginDir: NATIVE_PLUGIN_DIR },
        'native plugin pgbusrelay not found (build it with scripts/build-native.sh): bus messages of RTSP media pipelines will not be logged',
      );
    }
    this.rtsp.start();
    const plain = this.rtsp.port;
    const port = plain ?? this.rtsp.tlsPort;
    const host = this.#relayHost();
    this.#webrtc?.start((name) => `${plain !== undefined ? 'rtsp' : 'rtsps'}://${host}:${port}/${name}`);
  }

  /** Where the relays reach the RTSP server: loopback when it listens on every address. */
  #relayHost(): string {
    const host = this.#host;
    if (isWildcard(host)) return '127.0.0.1';
    return host.includes(':') ? `[${host}]` : host;
  }

  createOutput(name: string, tracks: StreamTracks): StreamOutput {
    const output = new StreamMedia(name, tracks, this.rtsp, this.#log.child({ stream: name }), () => this.#outputs.delete(output));
    this.#outputs.add(output);
    return output;
  }

  /** Releases every output's pipeline (to NULL) and stops the RTSP server. */
  close(): void {
    this.#webrtc?.closeAll();
    for (const output of [...this.#outputs]) output.release();
    this.rtsp.close();
  }
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}
