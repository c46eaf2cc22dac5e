// Turns runs into the benchmark's summary: one row per scenario and side (rounds pooled), the
// pushgate/limit CPU ratio (the median of the rounds' ratios), and Markdown tables for the
// terminal and docs/benchmarks.md.
import type { ChurnRun, IdleRun, ReadersRun } from './runs';
import type { Side } from './servers';

/** A load-client process above this (% of one core) may have limited what it measured. */
export const CLIENT_SATURATED_PERCENT = 90;

export interface ReadersSummary {
  readonly scenario: string;
  readonly description: string;
  readonly side: Side;
  readonly rounds: number;
  readonly readers: number;
  /** Lowest count of playing readers over the rounds. */
  readonly playing: number;
  readonly serverCpuPercent: number;
  /** Server CPU of each round that ran, by round number: the ratio pairs the sides' rounds. */
  readonly roundCpuPercents: readonly { readonly round: number; readonly cpuPercent: number }[];
  /** Server CPU by thread group, mean over the rounds (% of one core): where the CPU goes. */
  readonly cpuByThread: Readonly<Record<string, number>>;
  readonly peakRssMb: number;
  /** Received by all readers together, mean over the rounds. */
  readonly receivedMbps: number;
  readonly lossPercent: number;
  readonly stalled: number;
  readonly firstKeyframeP50Ms: number;
  readonly firstKeyframeP95Ms: number;
  readonly noKeyframe: number;
  /** Push-to-reader latency of the probe's SEI markers, pooled over readers and rounds. */
  readonly latencyP50Ms: number;
  readonly latencyP95Ms: number;
  readonly latencyMaxMs: number;
  readonly clientCpuPercent: number;
  readonly clientBusiestProcessCpuPercent: number;
  readonly clientSaturated: boolean;
  readonly machineBusyPercent: number;
  /**
   * pushgate's CPU over the limit's (pushgate rows only): the median over rounds of each round's
   * ratio. A round runs both sides back to back, so a burst of load from a neighbour on this
   * shared machine skews one round's ratio, not the result.
   */
  readonly cpuRatio: number | undefined;
  /** The lowest and highest of the rounds' ratios. */
  readonly cpuRatioRange?: readonly [number, number];
  /** Why no ratio is given although both sides ran: they did not deliver the same work. */
  readonly cpuRatioWithheld?: string;
  readonly failures: readonly string[];
  readonly errors: readonly string[];
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

const mean = (values: readonly number[]): number => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN);

export function summarizeReaders(scenario: string, description: string, side: Side, runs: readonly ReadersRun[], errors: readonly string[]): ReadersSummary {
  const cpuSeconds = runs.reduce((sum, run) => sum + run.serverCpuSeconds, 0);
  const windowS = runs.reduce((sum, run) => sum + run.windowS, 0);
  const lost = runs.reduce((sum, run) => sum + run.lost, 0);
  const packets = runs.reduce((sum, run) => sum + run.packets, 0);
  const keyframes = runs.flatMap((run) => run.firstKeyframeMs);
  const latencies = runs.flatMap((run) => run.latencyMs);
  const busiest = Math.max(...runs.map((run) => run.client.busiestProcessCpuPercent));
  return {
    scenario,
    description,
    side,
    rounds: runs.length,
    readers: runs[0]?.readers ?? 0,
    playing: runs.length ? Math.min(...runs.map((run) => run.playing)) : 0,
    serverCpuPercent: windowS > 0 ? (100 * cpuSeconds) / windowS : NaN,
    roundCpuPercents: runs.map((run) => ({ round: run.round, cpuPercent: run.serverCpuPercent })),
    cpuByThread: meanByKey(runs.map((run) => run.serverCpuByThread)),
    peakRssMb: runs.length ? Math.max(...runs.map((run) => run.peakRssMb)) : NaN,
    receivedMbps: mean(runs.map((run) => (8 * run.bytes) / run.windowS / 1e6)),
    lossPercent: packets + lost > 0 ? (100 * lost) / (packets + lost) : NaN,
    stalled: runs.reduce((sum, run) => sum + run.stalled, 0),
    firstKeyframeP50Ms: percentile(keyframes, 50),
    firstKeyframeP95Ms: percentile(keyframes, 95),
    noKeyframe: runs.reduce((sum, run) => sum + run.noKeyframe, 0),
    latencyP50Ms: percentile(latencies, 50),
    latencyP95Ms: percentile(latencies, 95),
    latencyMaxMs: latencies.length ? latencies.reduce((a, b) => Math.max(a, b)) : NaN,
    clientCpuPercent: mean(runs.map((run) => run.client.cpuPercent)),
    clientBusiestProcessCpuPercent: busiest,
    clientSaturated: busiest > CLIENT_SATURATED_PERCENT,
    machineBusyPercent: mean(runs.map((run) => run.machineBusyPercent)),
    cpuRatio: undefined,
    failures: [...new Set(runs.flatMap((run) => run.failures))],
    errors,
  };
}

/** The mean of each key over the records (a key missing from a record counts as 0 there). */
function meanByKey(records: readonly Readonly<Record<string, number>>[]): Record<string, number> {
  const sums = new Map<string, number>();
  for (const record of records) for (const [key, value] of Object.entries(record)) sums.set(key, (sums.get(key) ?? 0) + value);
  return Object.fromEntries([...sums].sort((a, b) => b[1] - a[1]).map(([key, sum]) => [key, sum / records.length]));
}

/** A side that delivered less than this share of the other's data did different work. */
const COMPARABLE_DELIVERY = 0.9;

/**
 * Fills in pushgate's CPU ratio to the limit in each scenario that has both, unless one side
 * delivered much less data than the other (a failed round: a CPU ratio would mean nothing).
 */
export function withCpuRatios(summaries: readonly ReadersSummary[]): ReadersSummary[] {
  return summaries.map((summary) => {
    if (summary.side !== 'pushgate') return summary;
    const limit = summaries.find((other) => other.scenario === summary.scenario && other.side === 'limit');
    if (!limit || !(limit.serverCpuPercent > 0)) return { ...summary, cpuRatio: undefined };
    const [less, more] = [summary.receivedMbps, limit.receivedMbps].sort((a, b) => a - b) as [number, number];
    if (more > 0 && less / more < COMPARABLE_DELIVERY) {
      const short = summary.receivedMbps < limit.receivedMbps ? 'pushgate' : 'limit';
      return { ...summary, cpuRatio: undefined, cpuRatioWithheld: `${short} got ${Math.round((100 * less) / more)} %` };
    }
    const ratios = summary.roundCpuPercents.flatMap(({ round, cpuPercent }) => {
      const other = limit.roundCpuPercents.find((run) => run.round === round)?.cpuPercent;
      return other && other > 0 ? [cpuPercent / other] : [];
    });
    if (!ratios.length) return { ...summary, cpuRatio: summary.serverCpuPercent / limit.serverCpuPercent };
    return { ...summary, cpuRatio: median(ratios), cpuRatioRange: [Math.min(...ratios), Math.max(...ratios)] };
  });
}

function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

// ---- formatting ----

function ratioCell(ratio: number, range: readonly [number, number] | undefined): string {
  const spread = range && range[0] !== range[1] ? ` (${fixed(range[0], 2)}–${fixed(range[1], 2)})` : '';
  return `${fixed(ratio, 2)}x${spread}`;
}

function fixed(value: number | undefined, digits: number): string {
  return value === undefined || !Number.isFinite(value) ? '–' : value.toFixed(digits);
}

function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

export function readersTable(summaries: readonly ReadersSummary[]): string {
  const header = ['scenario', 'side', 'readers ok', 'server CPU %', 'peak RSS MB', 'recv Mbit/s', 'loss %', 'first KF p50/p95 ms', 'latency p50/p95/max ms', 'CPU pg/limit', 'client CPU %'];
  const rows = summaries.map((s) => {
    if (s.rounds === 0) return [s.scenario, s.side, 'failed', '', '', '', '', '', '', '', ''];
    const readers = `${s.playing}/${s.readers}${s.stalled ? ` (${s.stalled} stalled)` : ''}`;
    const keyframe = `${fixed(s.firstKeyframeP50Ms, 0)}/${fixed(s.firstKeyframeP95Ms, 0)}${s.noKeyframe ? ` (${s.noKeyframe} none)` : ''}`;
    const client = `${fixed(s.clientCpuPercent, 0)}${s.clientSaturated ? ' SATURATED' : ''}`;
    return [
      s.scenario,
      s.side,
      readers,
      fixed(s.serverCpuPercent, 1),
      fixed(s.peakRssMb, 0),
      fixed(s.receivedMbps, 1),
      fixed(s.lossPercent, 2),
      keyframe,
      Number.isFinite(s.latencyP50Ms) ? `${fixed(s.latencyP50Ms, 1)}/${fixed(s.latencyP95Ms, 1)}/${fixed(s.latencyMaxMs, 1)}` : '',
      s.cpuRatio === undefined ? (s.cpuRatioWithheld ? `none: ${s.cpuRatioWithheld}` : '') : ratioCell(s.cpuRatio, s.cpuRatioRange),
      client,
    ];
  });
  return markdownTable(header, rows);
}

/** How many of a side's busiest thread groups a thread table shows (the rest are summed). */
const THREAD_GROUPS_SHOWN = 6;

/** Where each side's server CPU went, per scenario: the busiest thread groups, % of one core. */
export function threadsTable(summaries: readonly ReadersSummary[]): string {
  const rows = summaries
    .filter((s) => s.rounds > 0)
    .map((s) => {
      const groups = Object.entries(s.cpuByThread);
      const shown = groups.slice(0, THREAD_GROUPS_SHOWN).map(([group, percent]) => `${group} ${fixed(percent, 1)}`);
      const rest = groups.slice(THREAD_GROUPS_SHOWN).reduce((sum, [, percent]) => sum + percent, 0);
      if (rest > 0) shown.push(`rest ${fixed(rest, 1)}`);
      return [s.scenario, s.side, fixed(s.serverCpuPercent, 1), shown.join(', ')];
    });
  return markdownTable(['scenario', 'side', 'server CPU %', 'by thread group (numbers in names as #), % of one core'], rows);
}

export interface ChurnSummary {
  readonly scenario: string;
  readonly description: string;
  readonly run: ChurnRun | undefined;
  readonly side: Side;
  readonly error: string | undefined;
}

export function churnTable(summaries: readonly ChurnSummary[]): string {
  const header = ['scenario', 'side', 'cycles ok', 'cycles/s', 'server CPU %', 'RSS before → after MB', 'per cycle KB', 'peak RSS MB', 'left over', 'client CPU %'];
  const rows = summaries.map(({ scenario, side, run }) => {
    if (!run) return [scenario, side, 'failed', '', '', '', '', '', '', ''];
    const growthMb = run.rssAfterMb - run.rssBeforeMb;
    return [
      scenario,
      side,
      `${run.churn.succeeded}/${run.churn.cycles}`,
      fixed(run.churn.cycles / run.churn.durationS, 1),
      fixed(run.serverCpuPercent, 1),
      `${fixed(run.rssBeforeMb, 1)} → ${fixed(run.rssAfterMb, 1)} (${growthMb >= 0 ? '+' : ''}${fixed(growthMb, 1)})`,
      fixed((1024 * growthMb) / run.churn.cycles, 1),
      fixed(run.peakRssMb, 0),
      run.leftover ? `${run.leftover.streams} streams, ${run.leftover.readers} readers` : '',
      fixed(run.churn.client.cpuPercent, 0),
    ];
  });
  return markdownTable(header, rows);
}

export interface IdleSummary {
  readonly scenario: string;
  readonly side: Side;
  readonly run: IdleRun | undefined;
  readonly error: string | undefined;
}

export function idleTable(summaries: readonly IdleSummary[]): string {
  const header = ['scenario', 'side', 'streams', 'RSS MB', 'streams', 'RSS MB', 'per idle stream MB'];
  const rows = summaries.map(({ scenario, side, run }) =>
    run
      ? [scenario, side, String(run.streams), fixed(run.rssMb, 1), String(run.moreStreams), fixed(run.moreRssMb, 1), fixed(run.perStreamMb, 2)]
      : [scenario, side, 'failed', '', '', '', ''],
  );
  return markdownTable(header, rows);
}

export interface MaxReadersSummary {
  readonly scenario: string;
  readonly side: Side;
  /** The largest step held with every reader playing, no loss and no stall (0: none). */
  readonly held: number;
  readonly stoppedBy: string;
}

export function maxReadersTable(summaries: readonly MaxReadersSummary[]): string {
  const limit = (scenario: string): number | undefined => summaries.find((s) => s.scenario === scenario && s.side === 'limit')?.held;
  const rows = summaries.map((s) => {
    const of = s.side === 'pushgate' ? limit(s.scenario) : undefined;
    return [s.scenario, s.side, String(s.held), of ? `${fixed((100 * s.held) / of, 0)} %` : '', s.stoppedBy];
  });
  return markdownTable(['scenario', 'side', 'readers held', 'of limit', 'stopped at'], rows);
}
