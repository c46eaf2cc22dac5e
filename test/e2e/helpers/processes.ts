// Child processes for the end-to-end tests: every process started here is remembered so a test
// file can kill whatever is left in `after`, and every wait has a deadline.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** performance.now() at exit. */
  readonly at: number;
}

export class Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly startedAt = performance.now();
  stdout = '';
  stderr = '';
  exit: Exit | undefined;
  readonly exited: Promise<Exit>;
  readonly #lineListeners: ((line: string, stream: 'stdout' | 'stderr') => void)[] = [];
  readonly #partial = { stdout: '', stderr: '' };

  constructor(name: string, command: string, args: readonly string[], options: SpawnOptions = {}) {
    this.name = name;
    this.child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    live.add(this);
    this.exited = new Promise<Exit>((resolve) => {
      this.child.once('error', (err) => {
        this.stderr += `\n[spawn error] ${err.message}`;
        this.exit ??= { code: null, signal: null, at: performance.now() };
        live.delete(this);
        resolve(this.exit);
      });
      this.child.once('close', (code, signal) => {
        this.exit ??= { code, signal, at: performance.now() };
        live.delete(this);
        resolve(this.exit);
      });
    });
    for (const stream of ['stdout', 'stderr'] as const) {
      this.child[stream]?.setEncoding('utf8');
      this.child[stream]?.on('data', (text: string) => {
        this[stream] += text;
        const parts = (this.#partial[stream] + text).split('\n');
        this.#partial[stream] = parts.pop() ?? '';
        for (const line of parts) for (const listener of this.#lineListeners) listener(line, stream);
      });
    }
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.name} has no pid (did it start?)`);
    return this.child.pid;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  onLine(listener: (line: string, stream: 'stdout' | 'stderr') => void): void {
    this.#lineListeners.push(listener);
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.running) this.child.kill(signal);
  }

  /** Waits for the process to exit; throws after `timeoutMs` with its output tail. */
  async waitForExit(timeoutMs: number): Promise<Exit> {
    const exit = await within(this.exited, timeoutMs);
    if (!exit) throw new Error(`${this.name} still running after ${timeoutMs} ms\n${this.tail()}`);
    return exit;
  }

  /** Kills (SIGTERM, then SIGKILL) and waits. Safe to call twice. */
  async stop(graceMs = 2000): Promise<Exit> {
    if (!this.running) return this.exited;
    this.kill('SIGTERM');
    const exit = await within(this.exited, graceMs);
    if (exit) return exit;
    this.kill('SIGKILL');
    return this.exited;
  }

  /** The last lines of its output, for assertion messages. */
  tail(chars = 1500): string {
    return `--- ${this.name} stdout (tail) ---\n${this.stdout.slice(-chars)}\n--- ${this.name} stderr (tail) ---\n${this.stderr.slice(-chars)}`;
  }
}

const live = new Set<Proc>();

/** Kills every process still running (call it in `after`). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop(1000)));
}

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly elapsedMs: number;
}

/** Runs a command to its end; SIGKILLs it (and reports code null) after `timeoutMs`. */
export async function run(command: string, args: readonly string[], timeoutMs: number, options: SpawnOptions = {}): Promise<RunResult> {
  const proc = new Proc(command, command, args, options);
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  const exit = await proc.exited;
  clearTimeout(timer);
  return { code: exit.code, signal: exit.signal, stdout: proc.stdout, stderr: proc.stderr, elapsedMs: exit.at - proc.startedAt };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `promise`'s value, or undefined if it takes longer than `ms` (the timer never outlives it). */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `condition` until it returns a truthy value; throws with `what` after `timeoutMs`. */
export async function waitFor<T>(condition: () => T | Promise<T>, timeoutMs: number, what: string, intervalMs = 50): Promise<NonNullable<T>> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (performance.now() >= deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(intervalMs);
  }
}
