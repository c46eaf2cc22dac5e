// What a process costs, read from /proc: CPU time (utime + stime of all its threads) and resident
// memory (VmRSS, and the kernel's own peak VmHWM), plus the whole machine's busy time.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const CLOCK_TICKS_PER_S = readClockTicks();

function readClockTicks(): number {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
}

/** CPU seconds and name of a process or thread from its stat file, or undefined once it is gone. */
function readStat(file: string): { name: string; cpuSeconds: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces: count fields from after its closing paren.
  const nameEnd = stat.lastIndexOf(')');
  const fields = stat.slice(nameEnd + 2).split(' ');
  // Fields 14 (utime) and 15 (stime) of stat(5) are at 11 and 12 after the name.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? { name: stat.slice(stat.indexOf('(') + 1, nameEnd), cpuSeconds: ticks / CLOCK_TICKS_PER_S } : undefined;
}

/** CPU seconds the process has used so far, or undefined once it is gone. */
export function processCpuSeconds(pid: number): number | undefined {
  return readStat(`/proc/${pid}/stat`)?.cpuSeconds;
}

/** Linux keeps a thread's name to this many characters, cutting longer ones. */
const THREAD_NAME_MAX = 15;

/**
 * A thread's group: its name with the numbers taken out, so that threads doing one job add up
 * (GStreamer names a streaming thread after its element and pad: "src-video-3-cam2", kept as
 * "src-video-3-cam"). A name cut at the length limit ends in "…".
 */
function threadGroup(name: string): string {
  const group = name.replace(/\d+/g, '#');
  return name.length >= THREAD_NAME_MAX ? `${group}…` : group;
}

/**
 * Cut names cut numbers off at different places ("src-video-3-cam…", "src-video-12-ca…"):
 * a cut group joins the shortest cut group its name starts with.
 */
function mergeCutGroups(seconds: Map<string, number>): Map<string, number> {
  const cut = [...seconds.keys()].filter((group) => group.endsWith('…')).sort((a, b) => a.length - b.length);
  const merged = new Map<string, number>();
  for (const [group, used] of seconds) {
    const into = group.endsWith('…') ? (cut.find((other) => group.startsWith(other.slice(0, -1))) ?? group) : group;
    merged.set(into, (merged.get(into) ?? 0) + used);
  }
  return merged;
}

/** CPU seconds of each live thread of a process, by thread id. */
function threadCpuSeconds(pid: number): Map<string, { name: string; cpuSeconds: number }> {
  const threads = new Map<string, { name: string; cpuSeconds: number }>();
  let ids: string[];
  try {
    ids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return threads;
  }
  for (const id of ids) {
    const stat = readStat(`/proc/${pid}/task/${id}/stat`);
    if (stat) threads.set(id, stat);
  }
  return threads;
}

/** Thread groups that used less than this share of the process's CPU are pooled as "other". */
const MINOR_GROUP_SHARE = 0.01;

/**
 * Where a process's CPU went between two readings, in % of one core by thread group. Threads
 * that ended in between are not in `after`: their time shows as "ended threads".
 */
function cpuByThreadGroup(
  before: Map<string, { cpuSeconds: number }>,
  after: Map<string, { name: string; cpuSeconds: number }>,
  processCpuSeconds: number,
  windowS: number,
): Record<string, number> {
  const seconds = new Map<string, number>();
  let counted = 0;
  for (const [id, thread] of after) {
    const used = thread.cpuSeconds - (before.get(id)?.cpuSeconds ?? 0);
    const group = threadGroup(thread.name);
    seconds.set(group, (seconds.get(group) ?? 0) + used);
    counted += used;
  }
  if (processCpuSeconds - counted > 0) seconds.set('ended threads', processCpuSeconds - counted);
  const groups: Record<string, number> = {};
  let other = 0;
  for (const [group, used] of [...mergeCutGroups(seconds)].sort((a, b) => b[1] - a[1])) {
    if (used < MINOR_GROUP_SHARE * processCpuSeconds) other += used;
    else groups[group] = (100 * used) / windowS;
  }
  if ((100 * other) / windowS >= 0.05) groups.other = (100 * other) / windowS;
  return groups;
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
  #markThreads = new Map<string, { cpuSeconds: number }>();
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
    this.#markThreads = threadCpuSeconds(this.#pid);
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

  /** Ends sampling: CPU since mark() (in all and by thread group), peak RSS over the whole run. Safe to call twice. */
  stop(): { cpuPercent: number; cpuSeconds: number; windowS: number; cpuByThread: Record<string, number>; peakRssMb: number; hwmMb: number } {
    this.#sample();
    clearInterval(this.#timer);
    const threads = threadCpuSeconds(this.#pid);
    const cost = this.cpuSinceMark();
    const cpuByThread = cpuByThreadGroup(this.#markThreads, threads, cost.cpuSeconds, cost.windowS);
    return { ...cost, cpuByThread, peakRssMb: this.#peakRssMb, hwmMb: this.#lastMemory?.hwmMb ?? NaN };
  }

  #sample(): void {
    const memory = processMemory(this.#pid);
    if (!memory) return;
    this.#lastMemory = memory;
    this.#peakRssMb = Math.max(this.#peakRssMb, memory.rssMb);
  }
}
