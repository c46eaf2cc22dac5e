// Child processes of the benchmark. Every process started here is remembered until it exits, so
// a scenario can stop what it started in `finally`, and the benchmark kills whatever is left if
// it is interrupted or fails.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

const live = new Set<BenchProcess>();
const OUTPUT_TAIL_CHARS = 4000;

export class BenchProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  #running = true;
  #outputTail = '';
  #stdoutTail = '';
  readonly #lineListeners: ((line: string) => void)[] = [];

  constructor(name: string, command: string, args: readonly string[], options: SpawnOptions = {}) {
    this.name = name;
    this.child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    live.add(this);
    this.exited = new Promise<void>((resolve) => {
      const done = (): void => {
        this.#running = false;
        live.delete(this);
        resolve();
      };
      this.child.once('error', (err) => {
        this.#outputTail += `\n[spawn error] ${err.message}`;
        done();
      });
      this.child.once('close', done);
    });
    // stdout is read line by line (and must always be drained); stderr keeps a tail for errors.
    let partial = '';
    this.child.stdout?.setEncoding('utf8');
    this.child.stdout?.on('data', (text: string) => {
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) for (const listener of this.#lineListeners) listener(line);
      this.#stdoutTail = (this.#stdoutTail + text).slice(-OUTPUT_TAIL_CHARS);
    });
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (text: string) => {
      this.#outputTail = (this.#outputTail + text).slice(-OUTPUT_TAIL_CHARS);
    });
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.name} did not start${this.outputTail()}`);
    return this.child.pid;
  }

  get running(): boolean {
    return this.#running;
  }

  /** How it exited, and the end of what it printed, for error messages. */
  outputTail(): string {
    const parts = [];
    if (!this.#running) parts.push(` (exit code ${this.child.exitCode}, signal ${this.child.signalCode})`);
    if (this.#stdoutTail.trim()) parts.push(`\n--- ${this.name} stdout ---\n${this.#stdoutTail.trimEnd()}`);
    if (this.#outputTail.trim()) parts.push(`\n--- ${this.name} stderr ---\n${this.#outputTail.trimEnd()}`);
    return parts.join('');
  }

  /** Resolves with the first stdout line that `match` turns into a value; throws on exit or timeout. */
  waitForLine<T>(match: (line: string) => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const settle = (action: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        action();
      };
      const timer = setTimeout(() => settle(() => reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms${this.outputTail()}`))), timeoutMs);
      this.#lineListeners.push((line) => {
        const value = match(line);
        if (value !== undefined) settle(() => resolve(value));
      });
      void this.exited.then(() => settle(() => reject(new Error(`${this.name} exited before ${what}${this.outputTail()}`))));
    });
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. Safe to call twice. */
  async stop(graceMs = 3000): Promise<void> {
    if (!this.#running) return;
    this.child.kill('SIGTERM');
    if (!(await within(this.exited, graceMs))) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}

/** Stops several processes (or anything that stops) at once. */
export async function stopAll(processes: readonly { stop(graceMs?: number): Promise<void> }[], graceMs?: number): Promise<void> {
  await Promise.all(processes.map((p) => p.stop(graceMs)));
}

/** Runs a command to completion; throws with its stderr unless it exits 0. */
export async function runCommand(command: string, args: readonly string[], timeoutMs: number): Promise<void> {
  const proc = new BenchProcess(command, command, args);
  if (!(await within(proc.exited, timeoutMs))) {
    await proc.stop(1000);
    throw new Error(`${command} did not finish within ${timeoutMs} ms${proc.outputTail()}`);
  }
  if (proc.child.exitCode !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${proc.child.exitCode})${proc.outputTail()}`);
}

/** True if `promise` settles within `timeoutMs` (and leaves no timer behind), false otherwise. */
export function within(promise: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    promise.then(done, done);
  });
}

/** Kills every child still running, at once; for process exit and interruption. */
export function killEverything(): void {
  for (const proc of live) proc.child.kill('SIGKILL');
}
