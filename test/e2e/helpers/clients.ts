// Real clients around the gateway: ffmpeg/curl/gst-launch publishers, ffmpeg/gst-launch RTSP
// readers that report how many frames they decoded, and small HTTP helpers for the API and for
// pushes whose every byte the test controls.
import http from 'node:http';
import { Proc, run, waitFor } from './processes';

// ---- HTTP ----

export interface HttpResult {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly text: string;
  readonly elapsedMs: number;
}

export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string };
  readonly push?: PushSummary;
}

export interface PushSummary {
  readonly stream: string;
  readonly bytes: number;
  readonly durationMs: number;
  readonly frames: number;
}

export interface StreamInfo {
  readonly name: string;
  readonly state: string;
  readonly format: string;
  readonly video: { codec: string; width: number; height: number; frameRate: number | null; profile: string | null } | null;
  readonly audio: { codec: string; sampleRate: number; channels: number } | null;
  readonly bitrateKbps: number;
  readonly bytesIn: number;
  readonly framesIn: number;
  readonly readers: number;
  readonly publisher: { remoteAddress: string; ingest: 'native' | 'node' } | null;
  readonly liveSince: string | null;
}

export function json<T>(result: HttpResult): T {
  try {
    return JSON.parse(result.text) as T;
  } catch {
    throw new Error(`expected JSON, got HTTP ${result.status}: ${result.text.slice(0, 300)}`);
  }
}

/** http://host:port/path -> request options, the path exactly as written (no URL normalisation of "..", "//"). */
function target(url: string): { host: string; port: number; path: string } {
  const match = /^http:\/\/([^/:]+):(\d+)(\/.*)?$/.exec(url);
  if (!match) throw new Error(`not an http://host:port/path URL: ${url}`);
  return { host: match[1]!, port: Number(match[2]), path: match[3] ?? '/' };
}

/** One HTTP request with a body known in advance (no keep-alive). */
export function request(method: string, url: string, options: { headers?: Record<string, string>; body?: Buffer | string; timeoutMs?: number } = {}): Promise<HttpResult> {
  const startedAt = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request({ ...target(url), method, headers: options.headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, elapsedMs: performance.now() - startedAt }));
      res.on('error', reject);
    });
    req.setTimeout(options.timeoutMs ?? 10_000, () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

export async function getStreams(gatewayHttp: string): Promise<StreamInfo[]> {
  const result = await request('GET', `${gatewayHttp}/v1/streams`);
  if (result.status !== 200) throw new Error(`GET /v1/streams answered ${result.status}: ${result.text}`);
  return json<{ streams: StreamInfo[] }>(result).streams;
}

export async function getStream(gatewayHttp: string, name: string): Promise<StreamInfo | undefined> {
  const result = await request('GET', `${gatewayHttp}/v1/streams/${name}`);
  if (result.status === 404) return undefined;
  if (result.status !== 200) throw new Error(`GET /v1/streams/${name} answered ${result.status}: ${result.text}`);
  return json<StreamInfo>(result);
}

/**
 * A push whose body the test writes itself (chunked). The response may arrive while the body
 * is still being written: pushgate answers errors without draining.
 */
export class ManualPush {
  readonly response: Promise<HttpResult>;
  readonly #req: http.ClientRequest;
  #error: Error | undefined;

  constructor(url: string, contentType: string | undefined) {
    const startedAt = performance.now();
    const headers: Record<string, string> = { 'transfer-encoding': 'chunked' };
    if (contentType) headers['content-type'] = contentType;
    this.#req = http.request({ ...target(url), method: 'POST', headers, agent: false });
    this.response = new Promise((resolve, reject) => {
      this.#req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, elapsedMs: performance.now() - startedAt }));
        res.on('error', reject);
      });
      this.#req.on('error', (err) => {
        this.#error = err;
        reject(err);
      });
    });
    // Callers that never look at the response must not crash the test file.
    this.response.catch(() => {});
    this.#req.flushHeaders();
  }

  get failed(): Error | undefined {
    return this.#error;
  }

  /** Writes a chunk; resolves once the socket took it (false if the request is gone). */
  write(data: Buffer): Promise<boolean> {
    if (this.#req.destroyed || this.#error) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.#req.write(data, (err) => resolve(!err));
    });
  }

  end(): void {
    if (!this.#req.destroyed) this.#req.end();
  }

  destroy(): void {
    this.#req.destroy();
  }
}

/** Writes `data` in chunks at `bytesPerSecond` (roughly), stopping early if the push failed. */
export async function writePaced(push: ManualPush, data: Buffer, bytesPerSecond: number, chunkBytes = 188 * 50): Promise<void> {
  const startedAt = performance.now();
  for (let offset = 0; offset < data.length; offset += chunkBytes) {
    if (!(await push.write(data.subarray(offset, offset + chunkBytes)))) return;
    const due = startedAt + ((offset + chunkBytes) / bytesPerSecond) * 1000;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

// ---- publishers ----

export type PushFormat = 'h264' | 'hevc' | 'mpegts';

export const CONTENT_TYPES: Record<PushFormat, string> = { h264: 'video/h264', hevc: 'video/h265', mpegts: 'video/mp2t' };

/**
 * `ffmpeg -re -stream_loop -1 -i file ... -f <format> -method POST url`: a live publisher.
 * ffmpeg 5.1 sends no Content-Type of its own for these muxers: it is given explicitly unless
 * `contentType` is false.
 */
export function ffmpegPublisher(file: string, url: string, format: PushFormat, options: { loop?: boolean; contentType?: boolean } = {}): Proc {
  const streams = format === 'mpegts' ? ['-c', 'copy'] : ['-c:v', 'copy', '-an'];
  return new Proc(`ffmpeg publisher ${url}`, 'ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    '-re', ...(options.loop === false ? [] : ['-stream_loop', '-1']), '-i', file,
    ...streams,
    '-f', format, ...(options.contentType === false ? [] : ['-content_type', CONTENT_TYPES[format]]), '-method', 'POST', url,
  ]);
}

/** `gst-launch-1.0 videotestsrc is-live=true ! x264enc tune=zerolatency ! ... ! curlhttpsink`. */
export function gstPublisher(url: string, options: { width?: number; height?: number } = {}): Proc {
  const { width = 320, height = 240 } = options;
  return new Proc(`gst-launch publisher ${url}`, 'gst-launch-1.0', [
    '-q', 'videotestsrc', 'is-live=true', '!', `video/x-raw,width=${width},height=${height},framerate=30/1`, '!',
    'x264enc', 'tune=zerolatency', 'speed-preset=ultrafast', 'key-int-max=30', '!', 'h264parse', '!',
    'video/x-h264,stream-format=byte-stream,alignment=au', '!',
    'curlhttpsink', `location=${url}`, 'content-type=video/h264',
  ]);
}

export interface CurlPushResult {
  readonly status: number;
  readonly body: string;
  readonly elapsedMs: number;
  readonly exitCode: number | null;
}

/** `curl -T file -H 'Content-Type: ...' url`: a file sent as fast as TCP allows (PUT). */
export async function curlPush(file: string, url: string, contentType: string, timeoutMs = 60_000): Promise<CurlPushResult> {
  const result = await run('curl', ['-sS', '-T', file, '-H', `Content-Type: ${contentType}`, '-w', '\n%{http_code}', url], timeoutMs);
  const lines = result.stdout.trimEnd().split('\n');
  const status = Number(lines.pop());
  return { status, body: lines.join('\n'), elapsedMs: result.elapsedMs, exitCode: result.code };
}

/** The same, as a process the test can watch and kill. Its stdout ends with the status code. */
export function curlPushProc(file: string, url: string, contentType: string, extra: readonly string[] = []): Proc {
  return new Proc(`curl -T ${url}`, 'curl', ['-sS', ...extra, '-T', file, '-H', `Content-Type: ${contentType}`, '-w', '\n%{http_code}', url]);
}

export function curlResult(proc: Proc): { status: number; body: string } {
  const lines = proc.stdout.trimEnd().split('\n');
  const status = Number(lines.pop());
  return { status, body: lines.join('\n') };
}

/** An Authorization header for HTTP Basic. */
export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

// ---- readers ----

/** An RTSP reader process that decodes what it receives and reports a running frame count. */
export interface Reader {
  readonly proc: Proc;
  /** Frames decoded so far. */
  readonly frames: number;
  readonly running: boolean;
  /** Waits until at least `count` frames were decoded in total. */
  waitForFrames(count: number, timeoutMs: number): Promise<void>;
  /** Waits until `more` frames more than now were decoded. */
  waitForMoreFrames(more: number, timeoutMs: number): Promise<void>;
}

abstract class ReaderBase implements Reader {
  abstract readonly proc: Proc;
  abstract readonly frames: number;
  protected abstract readonly label: string;

  get running(): boolean {
    return this.proc.running;
  }

  async waitForFrames(count: number, timeoutMs: number): Promise<void> {
    try {
      await waitFor(() => this.frames >= count || !this.proc.running, timeoutMs, `${this.label} to decode ${count} frames`);
    } catch (err) {
      throw new Error(`${(err as Error).message}: it decoded ${this.frames}\n${this.proc.tail()}`);
    }
    if (this.frames < count) throw new Error(`${this.label} exited after ${this.frames} frames (wanted ${count})\n${this.proc.tail()}`);
  }

  waitForMoreFrames(more: number, timeoutMs: number): Promise<void> {
    return this.waitForFrames(this.frames + more, timeoutMs);
  }
}

/** `ffmpeg -rtsp_transport tcp|udp -i url -f null -` with `-progress` to count decoded frames. */
export class FfmpegReader extends ReaderBase {
  readonly proc: Proc;
  protected readonly label: string;
  #frames = 0;
  #ended = false;

  constructor(url: string, transport: 'tcp' | 'udp', extra: readonly string[] = []) {
    super();
    this.label = `ffmpeg reader (${transport}) of ${url}`;
    this.proc = new Proc(this.label, 'ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-nostdin',
      '-rtsp_transport', transport, ...extra, '-i', url,
      '-progress', 'pipe:1', '-stats_period', '0.2', '-f', 'null', '-',
    ]);
    this.proc.onLine((line, stream) => {
      if (stream !== 'stdout') return;
      const frame = /^frame=(\d+)/.exec(line);
      if (frame) this.#frames = Math.max(this.#frames, Number(frame[1]));
      if (line === 'progress=end') this.#ended = true;
    });
  }

  get frames(): number {
    return this.#frames;
  }

  /** ffmpeg reached the end of its input (rather than being killed). */
  get reachedEnd(): boolean {
    return this.#ended;
  }
}

/** `gst-launch-1.0 rtspsrc protocols=tcp|udp ! decodebin ! fpsdisplaysink` (video-only streams). */
export class GstReader extends ReaderBase {
  readonly proc: Proc;
  protected readonly label: string;
  #frames = 0;
  #eos = false;

  /** `extra`: more rtspsrc properties, e.g. `tls-validation-flags=0`. */
  constructor(url: string, protocols: 'tcp' | 'udp', extra: readonly string[] = []) {
    super();
    this.label = `gst-launch rtspsrc reader (${protocols}) of ${url}`;
    this.proc = new Proc(this.label, 'gst-launch-1.0', [
      '-v', 'rtspsrc', `location=${url}`, `protocols=${protocols}`, 'latency=100', ...extra, '!',
      'decodebin', '!', 'fpsdisplaysink', 'video-sink=fakesink', 'text-overlay=false', 'sync=false', 'fps-update-interval=200',
    ]);
    this.proc.onLine((line) => {
      const rendered = /rendered: (\d+)/.exec(line);
      if (rendered) this.#frames = Math.max(this.#frames, Number(rendered[1]));
      if (/Got EOS from element/.test(line)) this.#eos = true;
    });
  }

  get frames(): number {
    return this.#frames;
  }

  get sawEos(): boolean {
    return this.#eos;
  }
}

export interface ProbeResult {
  readonly code: number | null;
  readonly stderr: string;
  readonly elapsedMs: number;
  readonly streams: { codec_type?: string; codec_name?: string; width?: number; height?: number; r_frame_rate?: string; sample_rate?: string; channels?: number }[];
}

/** ffprobe -show_streams over RTSP. */
export async function ffprobe(url: string, transport: 'tcp' | 'udp' = 'tcp', timeoutMs = 20_000): Promise<ProbeResult> {
  const result = await run('ffprobe', ['-v', 'error', '-rtsp_transport', transport, '-show_streams', '-of', 'json', url], timeoutMs);
  let streams: ProbeResult['streams'] = [];
  try {
    streams = (JSON.parse(result.stdout || '{}') as { streams?: ProbeResult['streams'] }).streams ?? [];
  } catch {
    // left empty: the assertion on streams reports stderr
  }
  return { code: result.code, stderr: result.stderr, elapsedMs: result.elapsedMs, streams };
}
