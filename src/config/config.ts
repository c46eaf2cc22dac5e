// Every option in one table: its flag, environment variable, default and check. The CLI and
// the README are generated from nothing else, so they cannot drift apart.
import { FAST_START_MODES, type FastStartMode } from '../core/media-engine';

export interface Config {
  readonly host: string;
  readonly httpPort: number;
  readonly rtspPort: number;
  readonly graceMs: number;
  readonly idleTimeoutMs: number;
  readonly sessionTimeoutS: number;
  readonly rtspThreads: number;
  readonly maxStreams: number;
  readonly maxPublishersPerAddress: number;
  readonly maxReadersPerStream: number;
  readonly maxReaders: number;
  readonly maxHeaderBytes: number;
  readonly headerTimeoutMs: number;
  readonly maxConnections: number;
  readonly maxRtspConnectionsPerAddress: number;
  readonly demo: boolean;
  readonly fastStart: FastStartMode;
  readonly nativeIngest: boolean;
  readonly logLevel: LogLevel;
  /** PEM certificate (the leaf first, then any intermediates) for HTTPS and RTSPS; '' = no TLS. */
  readonly tlsCert: string;
  /** PEM private key of tlsCert; '' = no TLS. */
  readonly tlsKey: string;
  readonly httpsPort: number;
  readonly rtspsPort: number;
  /** Listen on the plain HTTP port too (with TLS on, it can be switched off). */
  readonly plainHttp: boolean;
  /** Listen on the plain RTSP port too (with TLS on, it can be switched off). */
  readonly plainRtsp: boolean;
  /** On SIGTERM/SIGINT, refuse new pushes but serve readers this long before stopping (0: stop at once). */
  readonly drainMs: number;
  /** WebRTC playback over WHEP (POST /whep/<name>). */
  readonly webrtc: boolean;
  readonly maxWebrtcWatchersPerStream: number;
  readonly maxWebrtcWatchers: number;
  /** stun://host:port for server-reflexive candidates; '' = host candidates only. */
  readonly webrtcStunServer: string;
  /** turn://user:password@host:port (or turns://) for relayed candidates; '' = none. */
  readonly webrtcTurnServer: string;
  readonly webrtcIceGatherTimeoutMs: number;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface OptionSpec<K extends keyof Config = keyof Config> {
  readonly key: K;
  readonly flag: string;
  readonly env: string;
  readonly description: string;
  readonly defaultValue: Config[K];
  readonly parse: (raw: string) => Config[K];
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const integer = (min: number, max: number) => (raw: string): number => {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`expected an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
};

const boolean = (raw: string): boolean => {
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(`expected true or false, got "${raw}"`);
};

const fastStartMode = (raw: string): FastStartMode => {
  if (raw === 'watched') return 'watched';
  if (raw === 'always' || /^(1|true|yes|on)$/i.test(raw)) return 'always';
  if (/^(0|false|no|off)$/i.test(raw)) return 'off';
  throw new ConfigError(`expected one of ${FAST_START_MODES.join(', ')} (on = always), got "${raw}"`);
};

const logLevel = (raw: string): LogLevel => {
  const level = LOG_LEVELS.find((l) => l === raw);
  if (!level) throw new ConfigError(`expected one of ${LOG_LEVELS.join(', ')}, got "${raw}"`);
  return level;
};

const host = (raw: string): string => {
  if (!raw.trim()) throw new ConfigError('expected an address to listen on');
  return raw.trim();
};

const filePath = (raw: string): string => raw.trim();

const iceServer = (schemes: readonly string[]) => (raw: string): string => {
  const value = raw.trim();
  if (value === '') return '';
  const match = /^([a-z]+):\/\/(?:[^@\s]+@)?[^\s:@/]+:\d{1,5}$/.exec(value);
  if (!match || !schemes.includes(match[1]!)) throw new ConfigError(`expected ${schemes.map((s) => `${s}://`).join(' or ')}${schemes[0] === 'stun' ? '' : 'user:password@'}host:port, got "${raw.replace(/\/\/[^@\s]*@/, '//…@')}"`);
  return value;
};

const spec = <K extends keyof Config>(s: OptionSpec<K>): OptionSpec<K> => s;

export const OPTIONS = [
  spec({ key: 'host', flag: '--host <address>', env: 'PUSHGATE_HOST', description: 'address both servers listen on', defaultValue: '0.0.0.0', parse: host }),
  spec({ key: 'httpPort', flag: '--http-port <port>', env: 'PUSHGATE_HTTP_PORT', description: 'HTTP port for pushes and the API (0 = any free port)', defaultValue: 8080, parse: integer(0, 65535) }),
  spec({ key: 'rtspPort', flag: '--rtsp-port <port>', env: 'PUSHGATE_RTSP_PORT', description: 'RTSP port for readers (0 = any free port)', defaultValue: 8554, parse: integer(0, 65535) }),
  spec({ key: 'graceMs', flag: '--grace-period <ms>', env: 'PUSHGATE_GRACE_PERIOD_MS', description: 'how long readers wait for a dropped publisher to come back', defaultValue: 5000, parse: integer(0, 3_600_000) }),
  spec({ key: 'idleTimeoutMs', flag: '--idle-timeout <ms>', env: 'PUSHGATE_IDLE_TIMEOUT_MS', description: 'close a publisher that sends nothing for this long', defaultValue: 10_000, parse: integer(100, 3_600_000) }),
  spec({ key: 'sessionTimeoutS', flag: '--session-timeout <s>', env: 'PUSHGATE_SESSION_TIMEOUT_S', description: 'reap RTSP sessions of readers silent for this long', defaultValue: 60, parse: integer(1, 86_400) }),
  spec({ key: 'rtspThreads', flag: '--rtsp-threads <n>', env: 'PUSHGATE_RTSP_THREADS', description: 'RTSP client threads (a slow request only holds up its own thread)', defaultValue: 16, parse: integer(1, 1024) }),
  spec({ key: 'maxStreams', flag: '--max-streams <n>', env: 'PUSHGATE_MAX_STREAMS', description: 'streams at once (live or in their grace period); a push of a new name beyond it gets 503', defaultValue: 100, parse: integer(1, 100_000) }),
  spec({ key: 'maxPublishersPerAddress', flag: '--max-publishers-per-address <n>', env: 'PUSHGATE_MAX_PUBLISHERS_PER_ADDRESS', description: 'pushes at once from one source address; beyond it 429', defaultValue: 20, parse: integer(1, 100_000) }),
  spec({ key: 'maxReadersPerStream', flag: '--max-readers-per-stream <n>', env: 'PUSHGATE_MAX_READERS_PER_STREAM', description: 'RTSP readers of one stream; beyond it SETUP answers 453 Not Enough Bandwidth', defaultValue: 200, parse: integer(1, 100_000) }),
  spec({ key: 'maxReaders', flag: '--max-readers <n>', env: 'PUSHGATE_MAX_READERS', description: 'RTSP readers (sessions) of all streams together; beyond it SETUP answers 453', defaultValue: 1000, parse: integer(1, 100_000) }),
  spec({ key: 'maxHeaderBytes', flag: '--max-header-size <bytes>', env: 'PUSHGATE_MAX_HEADER_SIZE', description: 'largest HTTP request head; a larger one gets 431', defaultValue: 16_384, parse: integer(1024, 1_048_576) }),
  spec({ key: 'headerTimeoutMs', flag: '--header-timeout <ms>', env: 'PUSHGATE_HEADER_TIMEOUT_MS', description: 'an HTTP client must send its whole request head within this (slow clients get 408 and are closed)', defaultValue: 10_000, parse: integer(1000, 600_000) }),
  spec({ key: 'maxConnections', flag: '--max-connections <n>', env: 'PUSHGATE_MAX_CONNECTIONS', description: 'connections at once on each HTTP(S) listener, and on RTSP and RTSPS together; more are closed as they are accepted', defaultValue: 2000, parse: integer(1, 1_000_000) }),
  spec({ key: 'maxRtspConnectionsPerAddress', flag: '--max-rtsp-connections-per-address <n>', env: 'PUSHGATE_MAX_RTSP_CONNECTIONS_PER_ADDRESS', description: 'RTSP(S) connections at once from one client address; more are closed as they are accepted', defaultValue: 250, parse: integer(1, 1_000_000) }),
  spec({ key: 'demo', flag: '--demo [on]', env: 'PUSHGATE_DEMO', description: 'publish a test pattern with a clock as stream "demo"', defaultValue: false, parse: boolean }),
  spec({ key: 'fastStart', flag: '--fast-start <always|watched|off>', env: 'PUSHGATE_FAST_START', description: 'prime TCP and UDP readers from a keyframe in a short log of recent packets (needs the native plugin): always (or on) keeps every live stream\'s pipeline running from go-live, so first readers are primed too; watched starts it at a stream\'s first PLAY, so unwatched streams cost nothing', defaultValue: 'always', parse: fastStartMode }),
  spec({ key: 'nativeIngest', flag: '--native-ingest <on|off>', env: 'PUSHGATE_NATIVE_INGEST', description: 'read raw H.264/H.265 pushes over plain HTTP on a native thread (needs the native plugin): the same behaviour at about half the CPU; off reads every push in JavaScript', defaultValue: true, parse: boolean }),
  spec({ key: 'logLevel', flag: '--log-level <level>', env: 'PUSHGATE_LOG_LEVEL', description: `log level: ${LOG_LEVELS.join(', ')}`, defaultValue: 'info', parse: logLevel }),
  spec({ key: 'tlsCert', flag: '--tls-cert <path>', env: 'PUSHGATE_TLS_CERT', description: 'PEM certificate (leaf first, then intermediates): turns on HTTPS and RTSPS', defaultValue: '', parse: filePath }),
  spec({ key: 'tlsKey', flag: '--tls-key <path>', env: 'PUSHGATE_TLS_KEY', description: 'PEM private key of --tls-cert (not encrypted)', defaultValue: '', parse: filePath }),
  spec({ key: 'httpsPort', flag: '--https-port <port>', env: 'PUSHGATE_HTTPS_PORT', description: 'HTTPS port for pushes and the API, with --tls-cert (0 = any free port)', defaultValue: 8443, parse: integer(0, 65535) }),
  spec({ key: 'rtspsPort', flag: '--rtsps-port <port>', env: 'PUSHGATE_RTSPS_PORT', description: 'RTSPS port for readers, with --tls-cert (0 = any free port)', defaultValue: 8322, parse: integer(0, 65535) }),
  spec({ key: 'plainHttp', flag: '--plain-http <on|off>', env: 'PUSHGATE_PLAIN_HTTP', description: 'also listen on the plain HTTP port (off needs --tls-cert)', defaultValue: true, parse: boolean }),
  spec({ key: 'drainMs', flag: '--drain-timeout <ms>', env: 'PUSHGATE_DRAIN_TIMEOUT_MS', description: 'on SIGTERM or SIGINT, first drain: /readyz answers 503, new pushes get 503 DRAINING, readers are served until they and the pushes are gone or this long has passed; a second signal stops at once (0 = stop at once)', defaultValue: 0, parse: integer(0, 86_400_000) }),
  spec({ key: 'plainRtsp', flag: '--plain-rtsp <on|off>', env: 'PUSHGATE_PLAIN_RTSP', description: 'also listen on the plain RTSP port (off needs --tls-cert)', defaultValue: true, parse: boolean }),
  spec({ key: 'webrtc', flag: '--webrtc <on|off>', env: 'PUSHGATE_WEBRTC', description: 'WebRTC playback over WHEP (POST /whep/<name>); needs webrtcbin and gstreamer1.0-nice', defaultValue: true, parse: boolean }),
  spec({ key: 'maxWebrtcWatchersPerStream', flag: '--max-webrtc-watchers-per-stream <n>', env: 'PUSHGATE_MAX_WEBRTC_WATCHERS_PER_STREAM', description: 'WebRTC watchers of one stream; beyond it POST /whep answers 503', defaultValue: 50, parse: integer(1, 10_000) }),
  spec({ key: 'maxWebrtcWatchers', flag: '--max-webrtc-watchers <n>', env: 'PUSHGATE_MAX_WEBRTC_WATCHERS', description: 'WebRTC watchers of all streams together; beyond it POST /whep answers 503', defaultValue: 200, parse: integer(1, 100_000) }),
  spec({ key: 'webrtcStunServer', flag: '--webrtc-stun-server <url>', env: 'PUSHGATE_WEBRTC_STUN_SERVER', description: 'stun://host:port: also offer WebRTC watchers the gateway\'s public (server-reflexive) address, for a gateway behind NAT', defaultValue: '', parse: iceServer(['stun']) }),
  spec({ key: 'webrtcTurnServer', flag: '--webrtc-turn-server <url>', env: 'PUSHGATE_WEBRTC_TURN_SERVER', description: 'turn://user:password@host:port (or turns://): also offer relayed candidates, for watchers no direct UDP path reaches', defaultValue: '', parse: iceServer(['turn', 'turns']) }),
  spec({ key: 'webrtcIceGatherTimeoutMs', flag: '--webrtc-ice-gather-timeout <ms>', env: 'PUSHGATE_WEBRTC_ICE_GATHER_TIMEOUT_MS', description: 'a WHEP answer waits at most this long for ICE gathering, then carries the candidates found so far', defaultValue: 2000, parse: integer(100, 30_000) }),
] as const;

export const defaultConfig: Config = Object.fromEntries(OPTIONS.map((o) => [o.key, o.defaultValue])) as unknown as Config;
