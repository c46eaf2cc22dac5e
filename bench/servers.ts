// The two servers under test, started the same way for every scenario: pushgate fed by ffmpeg
// over HTTP, and the C limit fed by the same ffmpeg command through a FIFO per stream (one
// limit-server process with one mount per stream).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { REPO_ROOT } from './assets';
import { BenchProcess, runCommand, stopAll } from './processes';

export type Side = 'pushgate' | 'limit';
export const SIDES: readonly Side[] = ['pushgate', 'limit'];

export const HOST = '127.0.0.1';
/** pushgate's native plugins (scripts/build-native.sh). */
const NATIVE_BUILD_DIR = path.join(REPO_ROOT, 'native', 'build');
/** The pushgate this checkout builds (dist/src/main.js). */
export const DEFAULT_PUSHGATE_MAIN = path.resolve(__dirname, '..', 'src', 'main.js');
const START_TIMEOUT_MS = 15_000;
const LIVE_TIMEOUT_MS = 15_000;

export interface StreamSpec {
  readonly name: string;
  /** A clip ffmpeg can -stream_loop (.mkv). */
  readonly clip: string;
  /** Publish with the latency probe instead of ffmpeg: the same clip as raw H.264. */
  readonly probe: { readonly rawClip: string; readonly fps: number; readonly audAfter: boolean; readonly ffmpegWrites: boolean } | undefined;
}

const PROBE_SCRIPT = path.join(__dirname, 'latency', 'probe-publisher.js');

export interface RunningServer {
  readonly side: Side;
  /** The process whose CPU and memory are measured. */
  readonly pid: number;
  readonly rtspPort: number;
  /** pushgate only. */
  readonly httpPort: number | undefined;
  /** Throws, with the server's last output, if it is no longer running. */
  checkAlive(): void;
  /** The end of what the server and its publishers printed: why readers stalled. */
  outputTail(): string;
  /** Stops the publishers, then the server. */
  stop(): Promise<void>;
}

function outputOf(server: BenchProcess, publishers: readonly BenchProcess[]): () => string {
  return () => [server, ...publishers].map((process) => process.outputTail()).join('');
}

function aliveCheck(server: BenchProcess): () => void {
  return () => {
    if (!server.running) throw new Error(`${server.name} died${server.outputTail()}`);
  };
}

/** The probe replaying the clip frame by frame with send-time SEIs, to a URL or a FIFO. */
function probePublisher(stream: StreamSpec, target: { url: string } | { fifo: string }): BenchProcess {
  const probe = stream.probe!;
  const output = 'url' in target ? ['--url', target.url] : ['--fifo', target.fifo];
  return new BenchProcess(`probe publisher ${stream.name}`, process.execPath, [
    PROBE_SCRIPT, '--clip', probe.rawClip, '--fps', String(probe.fps), ...(probe.audAfter ? ['--aud-after'] : []), ...(probe.ffmpegWrites ? ['--ffmpeg-writes'] : []), ...output,
  ]);
}

/** ffmpeg replaying a clip in real time, forever, as raw H.264 to `output`. */
function publisher(name: string, clip: string, output: readonly string[]): BenchProcess {
  return new BenchProcess(`publisher ${name}`, 'ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    '-re', '-stream_loop', '-1', '-i', clip,
    '-c:v', 'copy', '-an', '-f', 'h264',
    ...output,
  ]);
}

export interface ServerBinaries {
  readonly pushgateMain: string;
  readonly limitBinary: string;
}

export function startServer(side: Side, streams: readonly StreamSpec[], binaries: ServerBinaries): Promise<RunningServer> {
  return side === 'pushgate' ? startPushgate(streams, binaries.pushgateMain) : startLimit(streams, binaries.limitBinary);
}

interface ListeningLine {
  readonly msg?: unknown;
  readonly httpPort?: unknown;
  readonly rtspPort?: unknown;
}

const LOAD_LIMITS = [
  '--max-streams', '1000', '--max-publishers-per-address', '1000',
  '--max-readers-per-stream', '100000', '--max-readers', '100000',
  '--max-connections', '100000', '--max-rtsp-connections-per-address', '100000',
];

async function startPushgate(streams: readonly StreamSpec[], main: string): Promise<RunningServer> {
  const server = new BenchProcess('pushgate', process.execPath, [
    main, '--host', HOST, '--http-port', '0', '--rtsp-port', '0', '--log-level', 'info',
    // Every load comes from one address, and the ladders go past the defaults meant for the
    // open internet: the limits are lifted, as the C limit has none.
    ...LOAD_LIMITS,
  ]);
  const publishers: BenchProcess[] = [];
  const stop = (): Promise<void> => stopAll(publishers).then(() => server.stop(5000));
  try {
    const ports = await server.waitForLine(
      (line) => {
        if (!line.includes('pushgate listening')) return undefined;
        const parsed = JSON.parse(line) as ListeningLine;
        return typeof parsed.httpPort === 'number' && typeof parsed.rtspPort === 'number' ? { http: parsed.httpPort, rtsp: parsed.rtspPort } : undefined;
      },
      START_TIMEOUT_MS,
      'listening line',
    );
    for (const stream of streams) {
      const url = `http://${HOST}:${ports.http}/push/${stream.name}`;
      publishers.push(stream.probe ? probePublisher(stream, { url }) : publisher(stream.name, stream.clip, ['-content_type', 'video/h264', '-method', 'POST', url]));
    }
    await Promise.all(streams.map((stream) => waitForPushgateLive(ports.http, stream.name, server)));
    return { side: 'pushgate', pid: server.pid, rtspPort: ports.rtsp, httpPort: ports.http, checkAlive: aliveCheck(server), outputTail: outputOf(server, publishers), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function waitForPushgateLive(httpPort: number, name: string, server: BenchProcess): Promise<void> {
  const deadline = performance.now() + LIVE_TIMEOUT_MS;
  while (performance.now() < deadline) {
    if (!server.running) throw new Error(`pushgate exited${server.outputTail()}`);
    try {
      const response = await fetch(`http://${HOST}:${httpPort}/v1/streams/${name}`);
      const body = (await response.json()) as { state?: unknown };
      if (response.ok && body.state === 'live') return;
    } catch {
      // not up yet
    }
    await delay(100);
  }
  throw new Error(`pushgate: stream ${name} not live within ${LIVE_TIMEOUT_MS} ms${server.outputTail()}`);
}

async function startLimit(streams: readonly StreamSpec[], binary: string): Promise<RunningServer> {
  const fifoDir = mkdtempSync(path.join(tmpdir(), 'pushgate-bench-'));
  const publishers: BenchProcess[] = [];
  let server: BenchProcess | undefined;
  const stop = async (): Promise<void> => {
    await stopAll(publishers);
    await server?.stop(3000);
    rmSync(fifoDir, { recursive: true, force: true });
  };
  try {
    const fifos = streams.map((stream) => path.join(fifoDir, `${stream.name}.h264`));
    for (const fifo of fifos) await runCommand('mkfifo', [fifo], 5000);
    // pushgate's native plugins: the limit's payloader is pushgate's, pgrtpbatch included.
    const started = new BenchProcess('limit-server', binary, ['--host', HOST, '--port', '0', '--plugin-dir', NATIVE_BUILD_DIR, ...streams.map((stream, i) => `${stream.name}=${fifos[i]}`)]);
    server = started;
    const port = started.waitForLine((line) => /^listening (\d+)$/.exec(line)?.[1], START_TIMEOUT_MS, 'listening line');
    const live = streams.map((stream) => started.waitForLine((line) => (line === `live ${stream.name}` ? true : undefined), LIVE_TIMEOUT_MS, `live ${stream.name}`));
    for (const waiting of live) waiting.catch(() => undefined); // awaited below, unless startup fails first
    const rtspPort = Number(await port);
    streams.forEach((stream, i) =>
      publishers.push(stream.probe ? probePublisher(stream, { fifo: fifos[i]! }) : publisher(stream.name, stream.clip, ['-y', fifos[i]!])),
    );
    await Promise.all(live);
    return { side: 'limit', pid: started.pid, rtspPort, httpPort: undefined, checkAlive: aliveCheck(started), outputTail: outputOf(started, publishers), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
