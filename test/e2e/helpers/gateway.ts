// Runs the real pushgate CLI (dist/src/main.js) on free ports, learns its ports from its
// "pushgate listening" log line, keeps every log line, and stops it with a signal.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Proc, within, type Exit } from './processes';

export const ROOT = path.resolve(__dirname, '../../../..');
/** The CLI under test; PUSHGATE_E2E_MAIN runs the same tests against another build. */
export const MAIN = process.env.PUSHGATE_E2E_MAIN ?? path.join(ROOT, 'dist/src/main.js');

export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

export class Gateway {
  readonly proc: Proc;
  readonly logs: LogLine[] = [];
  /** Lines on stdout that are not JSON, and everything on stderr. */
  readonly otherOutput: string[] = [];
  /** 0 when the port is off (plain ports with TLS can be). */
  httpPort = 0;
  rtspPort = 0;
  /** 0 without TLS. */
  httpsPort = 0;
  rtspsPort = 0;
  #logWaiters: (() => void)[] = [];

  private constructor(args: readonly string[]) {
    this.proc = new Proc('pushgate', process.execPath, [MAIN, ...args], { cwd: ROOT, env: cleanEnv() });
    this.proc.onLine((line, stream) => {
      if (stream === 'stdout' && line.startsWith('{')) {
        try {
          this.logs.push(JSON.parse(line) as LogLine);
        } catch {
          this.otherOutput.push(line);
        }
      } else if (line.trim()) {
        this.otherOutput.push(line);
      }
      for (const wake of this.#logWaiters.splice(0)) wake();
    });
    void this.proc.exited.then(() => {
      for (const wake of this.#logWaiters.splice(0)) wake();
    });
  }

  /** Starts pushgate with `--http-port 0 --rtsp-port 0` plus `args`, resolved once it listens. */
  static async start(args: readonly string[] = [], timeoutMs = 15_000): Promise<Gateway> {
    const gateway = new Gateway(['--http-port', '0', '--rtsp-port', '0', ...args]);
    const listening = await gateway.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('pushgate listening'), timeoutMs, 'the "pushgate listening" log line');
    gateway.httpPort = Number(listening.httpPort ?? 0);
    gateway.rtspPort = Number(listening.rtspPort ?? 0);
    gateway.httpsPort = Number(listening.httpsPort ?? 0);
    gateway.rtspsPort = Number(listening.rtspsPort ?? 0);
    const ok = (port: number): boolean => Number.isInteger(port) && port >= 0;
    const ports = [gateway.httpPort, gateway.rtspPort, gateway.httpsPort, gateway.rtspsPort];
    if (!ports.every(ok) || !(gateway.httpPort || gateway.httpsPort) || !(gateway.rtspPort || gateway.rtspsPort)) {
      throw new Error(`bad ports in ${JSON.stringify(listening)}`);
    }
    return gateway;
  }

  get pid(): number {
    return this.proc.pid;
  }

  get http(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  /** The HTTPS base URL, named as the test certificate names it. */
  get https(): string {
    return `https://127.0.0.1:${this.httpsPort}`;
  }

  rtspsUrl(name: string): string {
    return `rtsps://127.0.0.1:${this.rtspsPort}/${name}`;
  }

  pushUrl(name: string): string {
    return `${this.http}/push/${name}`;
  }

  rtspUrl(name: string): string {
    return `rtsp://127.0.0.1:${this.rtspPort}/${name}`;
  }

  /** Waits for a log line matching `predicate` (already logged or future). */
  async waitForLog(predicate: (line: LogLine) => boolean, timeoutMs: number, what: string): Promise<LogLine> {
    const deadline = performance.now() + timeoutMs;
    let checked = 0;
    for (;;) {
      for (; checked < this.logs.length; checked++) {
        const line = this.logs[checked]!;
        if (predicate(line)) return line;
      }
      if (!this.proc.running) throw new Error(`pushgate exited (${JSON.stringify(this.proc.exit)}) before ${what}\n${this.proc.tail()}`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${this.logTail()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.#logWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Log lines about one stream (pino's child bindings put it in "stream"). */
  streamLogs(name: string): LogLine[] {
    return this.logs.filter((l) => l.stream === name);
  }

  logTail(lines = 25): string {
    return this.logs
      .slice(-lines)
      .map((l) => JSON.stringify(l))
      .concat(this.otherOutput.slice(-10))
      .join('\n');
  }

  /** Resident memory of the gateway process in bytes (Linux /proc). */
  rssBytes(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    if (!match) throw new Error('no VmRSS in /proc status');
    return Number(match[1]) * 1024;
  }

  /** Sends `signal` and waits for the exit (SIGKILL after `timeoutMs`, reported as such). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<Exit> {
    if (!this.proc.running) return this.proc.exited;
    this.proc.kill(signal);
    const exit = await within(this.proc.exited, timeoutMs);
    if (exit) return exit;
    this.proc.kill('SIGKILL');
    await this.proc.exited;
    throw new Error(`pushgate did not exit within ${timeoutMs} ms of ${signal}; killed\n${this.logTail()}`);
  }
}

/** The environment without PUSHGATE_* variables that could change the gateway's options. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('PUSHGATE_')) env[key] = value;
  return env;
}
