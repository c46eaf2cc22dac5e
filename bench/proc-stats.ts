// What a process costs, read from /proc: CPU time (utime + stime of all its threads) and resident
// memory (VmRSS, and the kernel's own peak VmHWM), plus the whole machine's busy time.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const CLOCK_TICKS_PER_S = readClockTicks();

function readClockTicks(): number {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
}

/** CPU seconds the process has used so far, or undefined once it is gone. */
export function processCpuSeconds(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces: count fields from after its closing paren.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 (utime) and 15 (stime) of stat(5) are at 11 and 12 after the name.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? ticks / CLOCK_TICKS_PER_S : undefined;
}

export interface Memory {
  readonly rssMb: number;
  readonly hwmMb: number;
}

export function processMemory(pid: number): Memory | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  const rssKb = kb('VmRSS');
  return Number.isFinite(rssKb) ? { rssMb: rssKb / 1024, hwmMb: kb('VmHWM') / 1024 } : undefined;
}

/** Busy and total jiffies of all CPUs since boot, from /proc/stat. */
function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest times are already in user/nice).
  const total = values.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: total - idle, total };
}

/** Measures the machine's CPU use between start() and the returned function's call, in % of all cores. */
export function machineBusyMeter(): () => number {
  const start = machineTicks();
  return () => {
    const end = machineTicks();
    const total = end.total - start.total;
    return total > 0 ? (100 * (end.busy - start.busy)) / total : 0;
  };
}

/**
 * Samples one process every `intervalMs` from start() to stop(): the peak of VmRSS, and CPU time
 * between mark() and stop() (the measurement window) as % of one core.
 */
export class ProcessSampler {
  readonly #pid: number;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #peakRssMb = 0;
  #lastMemory: Memory | undefined;
  #markCpu: number | undefined;
  #markAt = 0;

  constructor(pid: number, intervalMs = 250) {
    this.#pid = pid;
    this.#intervalMs = intervalMs;
  }

  start(): void {
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), this.#intervalMs);
  }

  /** Starts the CPU measurement window. */
  mark(): void {
    this.#markCpu = processCpuSeconds(this.#pid);
    this.#markAt = performance.now();
  }

  get rssMb(): number {
    this.#sample();
    return this.#lastMemory?.rssMb ?? NaN;
  }

  /** CPU used since mark(): seconds, and % of one core. */
  cpuSinceMark(): { cpuPercent: number; cpuSeconds: number; windowS: number } {
    const cpuEnd = processCpuSeconds(this.#pid);
    const windowS = (performance.now() - this.#markAt) / 1000;
    const cpuSeconds = cpuEnd !== undefined && this.#markCpu !== undefined ? cpuEnd - this.#markCpu : NaN;
    return { cpuPercent: windowS > 0 ? (100 * cpuSeconds) / windowS : NaN, cpuSeconds, windowS };
  }

  /** Ends sampling: CPU since mark(), peak RSS over the whole run. Safe to call twice. */
  stop(): { cpuPercent: number; cpuSeconds: number; windowS: number; peakRssMb: number; hwmMb: number } {
    this.#sample();
    clearInterval(this.#timer);
    return { ...this.cpuSinceMark(), peakRssMb: this.#peakRssMb, hwmMb: this.#lastMemory?.hwmMb ?? NaN };
  }

  #sample(): void {
    const memory = processMemory(this.#pid);
    if (!memory) return;
    this.#lastMemory = memory;
    this.#peakRssMb = Math.max(this.#peakRssMb, memory.rssMb);
  }
}
