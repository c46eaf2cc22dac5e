// `npm run bench`: pushgate against the C limit (gst-rtsp-server with the same pipeline, no
// JavaScript), scenario by scenario, alternating the two sides round by round so that a noisy
// machine weighs on both alike. Prints Markdown tables and writes bench/results/latest.json
// (latest-only.json for a run of some scenarios, --only).
//
//   npm run bench -- [--only name,name] [--rounds 3] [--window 8] [--settle 1.5] [--threads] [--pushgate-main path/to/main.js]
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildLimitServer, CLIPS, makeClips, REPO_ROOT } from './assets';
import { killEverything } from './processes';
import {
  churnTable,
  idleTable,
  maxReadersTable,
  readersTable,
  summarizeReaders,
  threadsTable,
  withCpuRatios,
  type ChurnSummary,
  type IdleSummary,
  type MaxReadersSummary,
  type ReadersSummary,
} from './report';
import { runChurn, runIdle, runReaders, type ReadersRun, type RunSettings } from './runs';
import { SCENARIOS, type Scenario } from './scenarios';
import { DEFAULT_PUSHGATE_MAIN, type Side } from './servers';

const RESULTS_DIR = path.join(REPO_ROOT, 'bench', 'results');

interface Options {
  readonly only: readonly string[] | undefined;
  readonly rounds: number;
  readonly windowS: number;
  readonly settleS: number;
  readonly pushgateMain: string;
  readonly threads: boolean;
}

const USAGE = 'npm run bench -- [--only name,name] [--rounds 3] [--window 8] [--settle 1.5] [--threads] [--pushgate-main path/to/main.js]';

function readOptions(): Options {
  const { values } = parseArgs({
    options: {
      help: { type: 'boolean', short: 'h' },
      only: { type: 'string' },
      rounds: { type: 'string', default: '3' },
      window: { type: 'string', default: '8' },
      settle: { type: 'string', default: '1.5' },
      threads: { type: 'boolean', default: false },
      'pushgate-main': { type: 'string', default: DEFAULT_PUSHGATE_MAIN },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n  --window: seconds measured per side and round; --settle: seconds the readers settle first\n  --threads: also print where each server's CPU went, by thread group (always in the JSON)\n  scenarios: ${SCENARIOS.map((s) => s.name).join(', ')}\n`);
    process.exit(0);
  }
  const number = (text: string, name: string): number => {
    const value = Number(text);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
    return value;
  };
  const only = values.only?.split(',').map((name) => name.trim()).filter(Boolean);
  const unknown = only?.filter((name) => !SCENARIOS.some((scenario) => scenario.name === name)) ?? [];
  if (unknown.length) throw new Error(`unknown scenario(s) ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  return {
    only,
    rounds: Math.round(number(values.rounds, 'rounds')),
    windowS: number(values.window, 'window'),
    settleS: number(values.settle, 'settle'),
    pushgateMain: path.resolve(values['pushgate-main']),
    threads: values.threads,
  };
}

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function commandOutput(command: string, args: readonly string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

function machine(): Record<string, string | number> {
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    node: process.version,
    gstreamer: commandOutput('pkg-config', ['--modversion', 'gstreamer-rtsp-server-1.0']),
    ffmpeg: commandOutput('ffmpeg', ['-version']).split('\n', 1)[0] ?? 'unknown',
    commit: commandOutput('git', ['-C', REPO_ROOT, 'describe', '--always', '--dirty']),
  };
}

function runLine(scenario: string, run: ReadersRun): string {
  const mbps = (8 * run.bytes) / run.windowS / 1e6;
  const loss = run.packets + run.lost > 0 ? (100 * run.lost) / (run.packets + run.lost) : 0;
  return (
    `${scenario} round ${run.round + 1} ${run.side}: ${run.playing}/${run.readers} playing, CPU ${run.serverCpuPercent.toFixed(1)} %, ` +
    `peak RSS ${run.peakRssMb.toFixed(0)} MB, ${mbps.toFixed(1)} Mbit/s, loss ${loss.toFixed(2)} %, ` +
    `client ${run.client.busiestProcessCpuPercent.toFixed(0)} % (loop p99 ${run.client.loopDelayP99Ms.toFixed(0)} ms), machine ${run.machineBusyPercent.toFixed(0)} % busy`
  );
}

/** The run's line, and when readers stalled, what the server and its publishers printed. */
function logRun(scenario: string, run: ReadersRun): void {
  log(runLine(scenario, run));
  if (run.serverOutput) log(`  ${run.stalled} readers stalled; the server and its publishers said:${run.serverOutput}`);
}

/** Rounds of every side, the order flipping each round (and each scenario), so neither side always goes first. */
async function benchReaders(scenario: Extract<Scenario, { kind: 'readers' }>, index: number, options: Options, settings: RunSettings): Promise<ReadersSummary[]> {
  const runs = new Map<Side, ReadersRun[]>(scenario.sides.map((side) => [side, []]));
  const errors = new Map<Side, string[]>(scenario.sides.map((side) => [side, []]));
  for (let round = 0; round < options.rounds; round++) {
    const order = (round + index) % 2 === 0 ? scenario.sides : [...scenario.sides].reverse();
    for (const side of order) {
      try {
        const run = await runReaders(scenario, side, round, settings);
        runs.get(side)!.push(run);
        logRun(scenario.name, run);
        if (run.failures.length) log(`  reader failures: ${run.failures.join('; ')}`);
      } catch (error) {
        errors.get(side)!.push(describeError(error));
        log(`${scenario.name} round ${round + 1} ${side} FAILED: ${describeError(error)}`);
      }
    }
  }
  return scenario.sides.map((side) => summarizeReaders(scenario.name, scenario.description, side, runs.get(side)!, errors.get(side)!));
}

async function benchChurn(scenario: Extract<Scenario, { kind: 'reader-churn' | 'publish-churn' }>, settings: RunSettings): Promise<ChurnSummary[]> {
  const summaries: ChurnSummary[] = [];
  for (const side of scenario.sides) {
    try {
      const run = await runChurn(scenario, side, settings);
      summaries.push({ scenario: scenario.name, description: scenario.description, side, run, error: undefined });
      log(
        `${scenario.name} ${side}: ${run.churn.succeeded}/${run.churn.cycles} cycles in ${run.churn.durationS.toFixed(1)} s, ` +
          `RSS ${run.rssBeforeMb.toFixed(1)} -> ${run.rssAfterMb.toFixed(1)} MB` +
          (run.leftover ? `, left over: ${run.leftover.streams} streams, ${run.leftover.readers} readers` : ''),
      );
      if (run.warmupFailures.length) log(`  warm-up failures: ${run.warmupFailures.join('; ')}`);
      if (run.churn.failures.length) log(`  cycle failures: ${run.churn.failures.join('; ')}`);
    } catch (error) {
      summaries.push({ scenario: scenario.name, description: scenario.description, side, run: undefined, error: describeError(error) });
      log(`${scenario.name} ${side} FAILED: ${describeError(error)}`);
    }
  }
  return summaries;
}

/**
 * Climbs the ladder per side until a step fails, then halves the gap between the last step held
 * and the first one failed `refinements` times: a coarse ladder alone makes one step 12-14 % of
 * the result, too coarse for a 90 % target.
 */
async function benchMaxReaders(scenario: Extract<Scenario, { kind: 'max-readers' }>, settings: RunSettings): Promise<MaxReadersSummary[]> {
  const summaries: MaxReadersSummary[] = [];
  for (const side of scenario.step.sides) {
    /** Undefined when the step held cleanly, else why not. */
    const hold = async (readers: number): Promise<string | undefined> => {
      const step = { ...scenario.step, name: `${scenario.name}-${readers}`, readersPerStream: readers };
      try {
        const run = await runReaders(step, side, 0, { ...settings, windowS: scenario.holdS });
        logRun(step.name, run);
        // Readers that fall behind lose nothing yet but get less than the stream's rate.
        const expectedMbps = (readers * CLIPS[step.clip].kbps) / 1000;
        const receivedMbps = (8 * run.bytes) / run.windowS / 1e6;
        const clean = run.lost === 0 && run.stalled === 0 && run.playing === readers && receivedMbps >= 0.95 * expectedMbps;
        if (clean) return undefined;
        return (
          `${readers}: ${run.playing}/${readers} playing, ${run.lost} lost, ${run.stalled} stalled, ` +
          `${receivedMbps.toFixed(0)} of ${expectedMbps.toFixed(0)} Mbit/s, client ${run.client.busiestProcessCpuPercent.toFixed(0)} % of a core`
        );
      } catch (error) {
        log(`${step.name} ${side} FAILED: ${describeError(error)}`);
        return `${readers}: ${describeError(error)}`;
      }
    };
    let held = 0;
    let failedAt: number | undefined;
    let stoppedBy = 'the top of the ladder';
    for (const readers of scenario.ladder) {
      const failure = await hold(readers);
      if (failure) {
        failedAt = readers;
        stoppedBy = failure;
        break;
      }
      held = readers;
    }
    for (let i = 0; i < scenario.refinements && held > 0 && failedAt !== undefined; i++) {
      const readers = Math.round((held + failedAt) / 2);
      if (readers === held || readers === failedAt) break;
      const failure = await hold(readers);
      if (failure) {
        failedAt = readers;
        stoppedBy = failure;
      } else {
        held = readers;
      }
    }
    summaries.push({ scenario: scenario.name, side, held, stoppedBy });
  }
  return summaries;
}

async function benchIdle(scenario: Extract<Scenario, { kind: 'idle-streams' }>, settings: RunSettings): Promise<IdleSummary[]> {
  const summaries: IdleSummary[] = [];
  for (const side of scenario.sides) {
    try {
      const run = await runIdle(scenario, side, settings);
      summaries.push({ scenario: scenario.name, side, run, error: undefined });
      log(`${scenario.name} ${side}: ${run.streams} streams ${run.rssMb.toFixed(1)} MB, ${run.moreStreams} streams ${run.moreRssMb.toFixed(1)} MB: ${run.perStreamMb.toFixed(2)} MB per idle stream`);
    } catch (error) {
      summaries.push({ scenario: scenario.name, side, run: undefined, error: describeError(error) });
      log(`${scenario.name} ${side} FAILED: ${describeError(error)}`);
    }
  }
  return summaries;
}

async function main(): Promise<void> {
  const options = readOptions();
  const scenarios = SCENARIOS.filter((scenario) => !options.only || options.only.includes(scenario.name));
  const startedAt = new Date();
  log('building the C limit server and the clips');
  const settings: RunSettings = { windowS: options.windowS, settleS: options.settleS, pushgateMain: options.pushgateMain, limitBinary: await buildLimitServer() };
  await makeClips();

  const readers: ReadersSummary[] = [];
  const churn: ChurnSummary[] = [];
  const idle: IdleSummary[] = [];
  const maxReaders: MaxReadersSummary[] = [];
  for (const [index, scenario] of scenarios.entries()) {
    log(`${scenario.name}: ${scenario.description}`);
    if (scenario.kind === 'readers') readers.push(...(await benchReaders(scenario, index, options, settings)));
    else if (scenario.kind === 'idle-streams') idle.push(...(await benchIdle(scenario, settings)));
    else if (scenario.kind === 'max-readers') maxReaders.push(...(await benchMaxReaders(scenario, settings)));
    else churn.push(...(await benchChurn(scenario, settings)));
  }

  const summaries = withCpuRatios(readers);
  const durationS = (Date.now() - startedAt.getTime()) / 1000;
  const tables = [
    `Steady state: ${options.rounds} round(s) of ${options.windowS} s per side, sides alternating; CPU in % of one core; ` +
      'CPU pg/limit is the median of the rounds\' ratios (lowest–highest in brackets).',
    '',
    readersTable(summaries),
    ...(options.threads ? ['', 'Where the server CPU went (mean over the rounds):', '', threadsTable(summaries)] : []),
    '',
    'Memory under churn (after warm-up; RSS of the server process):',
    '',
    churnTable(churn),
    '',
    'Most readers held without loss:',
    '',
    maxReadersTable(maxReaders),
    '',
    'Idle streams (no readers; RSS of the server process after the window):',
    '',
    idleTable(idle),
  ].join('\n');
  process.stdout.write(`\n${tables}\n`);
  for (const summary of summaries) {
    for (const error of summary.errors) process.stdout.write(`\n${summary.scenario} ${summary.side}: ${error}`);
  }

  mkdirSync(RESULTS_DIR, { recursive: true });
  const report = { startedAt: startedAt.toISOString(), durationS, machine: machine(), options, clips: CLIPS, scenarios, readers: summaries, churn, idle, maxReaders };
  // A partial run (--only) must not overwrite the last full run's numbers.
  const base = options.only ? 'latest-only' : 'latest';
  writeFileSync(path.join(RESULTS_DIR, `${base}.json`), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(path.join(RESULTS_DIR, `${base}.md`), `${tables}\n`);
  log(`done in ${durationS.toFixed(0)} s: bench/results/${base}.json, bench/results/${base}.md`);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killEverything();
    process.exit(130);
  });
}
process.on('exit', killEverything);

main().catch((error: unknown) => {
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  killEverything();
  process.exit(1);
});
