// The shared ingest vectors (test/vectors/*.json, described in test/vectors/README.md): what a
// vector's description means as bytes, arrivals and units, how the TypeScript implementation
// answers it, and the line script the native driver (native/tests/ingest-vectors.c) reads.
// Both implementations' answers are brought to the same canonical form (a list of strings per
// vector) and compared with the vector's `expect`, so neither can drift from the other.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { MS, SECOND } from '../../src/core/clock';
import type { TimedUnit, VideoCodec } from '../../src/core/media';
import { BodyDecoder } from '../../src/http/body-decoder';
import { AnnexBFramer } from '../../src/ingest/annexb-framer';
import { FrameClock } from '../../src/ingest/frame-clock';
import { Pacer } from '../../src/ingest/pacer';
import { seededRandom } from '../unit/helpers/random';

export const VECTOR_DIR = path.resolve(__dirname, '../../../test/vectors');
/** Built by scripts/build-native.sh from native/tests/ingest-vectors.c. */
export const NATIVE_DRIVER = path.resolve(__dirname, '../../../native/build/ingest-vectors');

/** A long output list is expected by its length, a digest of every line, and a few lines by index. */
export interface ListDigest {
  readonly count: number;
  readonly sha256: string;
  readonly samples: Readonly<Record<string, string>>;
}
export type ExpectedList = readonly string[] | ListDigest;

/** What a vector's implementation answers: lines, or the error that ended it (after `lines`). */
export interface Outcome {
  readonly lines: string[];
  readonly error?: string;
}

export interface Expectation {
  readonly lines: ExpectedList;
  readonly error?: string;
}

interface VectorBase {
  readonly name: string;
  readonly comment?: string;
  readonly expect: Expectation;
  /** A recorded difference: what one implementation answers instead, and which is right. */
  readonly divergence?: { readonly comment: string; readonly ts?: Expectation; readonly native?: Expectation };
}

/** Bytes: latin1 text, or `{hex}`, `{fill, byte}`, `{repeat, times}` (text repeated), `{nal, sc?, zeros?}`, `{gop}`. */
export type Segment =
  | string
  | { readonly hex: string }
  | { readonly fill: number; readonly byte: string }
  | { readonly repeat: string; readonly times: number }
  | { readonly nal: string; readonly sc?: 3 | 4; readonly zeros?: number }
  | { readonly gop: Gop };

/** SPS PPS (VPS SPS PPS) IDR, then `frames - 1` P frames, each a single slice NAL. */
export interface Gop {
  readonly frames: number;
  readonly idrBytes: number;
  readonly pBytes: number;
  readonly sc?: 3 | 4;
  /** Parameter sets before the IDR (default true). */
  readonly headers?: boolean;
}

/** How bytes are cut into reads: whole, every n bytes, given sizes (the rest last), or seeded random sizes. */
export type Cutting = 'whole' | { readonly every: number } | readonly number[] | { readonly random: number; readonly max: number };

export interface BodyVector extends VectorBase {
  /** Absent: chunked. */
  readonly contentLength?: number;
  readonly wire: readonly Segment[];
  /** Each cutting is run and must give the expected result (default ['whole']). */
  readonly reads?: readonly Cutting[];
}

export interface FramingVector extends VectorBase {
  readonly codec: VideoCodec;
  readonly maxUnitBytes?: number;
  readonly maxLeadingGarbageBytes?: number;
  readonly input: readonly Segment[];
  readonly chunks?: readonly Cutting[];
  /** Each unit line says after which push it came out ("@3"), or "@end" for the final flush. */
  readonly emitAt?: boolean;
}

/** Arrival times (ns) of consecutive frames, or a frame rate the bitstream declares from then on. */
export type ArrivalSegment =
  | { readonly at: readonly number[] }
  | { readonly burst: number; readonly at: number }
  | { readonly steady: { readonly frames: number; readonly fps: number; readonly start: number; readonly speed?: number; readonly tickMs?: number } }
  | { readonly declare: number };

export interface ClockVector extends VectorBase {
  /** Declared by the first SPS; absent: undeclared (30 fps assumed, then learned). */
  readonly frameRate?: number;
  readonly arrivals: readonly ArrivalSegment[];
}

export interface PaceVector extends VectorBase {
  /** Stamp arrivals with a frame clock at this declared rate; absent: each unit's `pts` is given. */
  readonly frameRate?: number;
  /** Units offered by the publisher; it can only deliver while the pacer has room. */
  readonly units: { readonly count: number; readonly bytes: number; readonly offeredMs: { readonly every: number } | { readonly at: readonly number[] }; readonly ptsMs?: { readonly every: number } | { readonly at: readonly number[] } };
  readonly untilMs: number;
}

export interface VectorFile<V> {
  readonly comment?: string;
  readonly parameterSets?: Readonly<Record<VideoCodec, readonly string[]>>;
  readonly vectors: readonly V[];
}

export type Kind = 'body' | 'framing' | 'clock' | 'pace';
export const FILES: Readonly<Record<Kind, string>> = {
  body: 'chunked-body.json',
  framing: 'annexb-framing.json',
  clock: 'frame-clock.json',
  pace: 'pacing.json',
};

export function loadVectors<V>(kind: Kind): VectorFile<V> {
  return JSON.parse(readFileSync(path.join(VECTOR_DIR, FILES[kind]), 'utf8')) as VectorFile<V>;
}

// ---------------------------------------------------------------- bytes from descriptions

function hexBytes(hex: string): Buffer {
  return Buffer.from(hex.replace(/\s+/g, ''), 'hex');
}

function startCode(sc: 3 | 4 = 4): Buffer {
  return sc === 3 ? Buffer.from([0, 0, 1]) : Buffer.from([0, 0, 0, 1]);
}

/** A slice NAL unit of `size` bytes that opens a picture; its filler never forms a start code. */
function slice(codec: VideoCodec, keyframe: boolean, size: number, seed: number): Buffer {
  const header = codec === 'h264' ? [keyframe ? 0x65 : 0x41] : [keyframe ? 0x26 : 0x02, 0x01];
  const nal = Buffer.alloc(Math.max(size, header.length + 1), 0x20 + (seed % 0x60));
  nal.set(header, 0);
  nal[header.length] = 0x80; // first_mb_in_slice 0 / first_slice_segment_in_pic_flag
  return nal;
}

function gopBytes(codec: VideoCodec, gop: Gop, parameterSets: readonly string[]): Buffer {
  const sc = startCode(gop.sc);
  const parts: Buffer[] = [];
  if (gop.headers !== false) for (const set of parameterSets) parts.push(sc, hexBytes(set));
  parts.push(sc, slice(codec, true, gop.idrBytes, 0));
  for (let i = 1; i < gop.frames; i++) parts.push(sc, slice(codec, false, gop.pBytes, i));
  return Buffer.concat(parts);
}

export function segmentBytes(segments: readonly Segment[], codec: VideoCodec = 'h264', parameterSets: readonly string[] = []): Buffer {
  return Buffer.concat(
    segments.map((segment) => {
      if (typeof segment === 'string') return Buffer.from(segment, 'latin1');
      if ('hex' in segment) return hexBytes(segment.hex);
      if ('fill' in segment) return Buffer.alloc(segment.fill, parseInt(segment.byte, 16));
      if ('repeat' in segment) return Buffer.from(segment.repeat.repeat(segment.times), 'latin1');
      if ('nal' in segment) return Buffer.concat([startCode(segment.sc), hexBytes(segment.nal), Buffer.alloc(segment.zeros ?? 0)]);
      return gopBytes(codec, segment.gop, parameterSets);
    }),
  );
}

export function cut(data: Buffer, cutting: Cutting): Buffer[] {
  const sizes: number[] = [];
  if (cutting === 'whole') {
    sizes.push(data.length);
  } else if (Array.isArray(cutting)) {
    sizes.push(...(cutting as readonly number[]));
  } else if ('random' in cutting) {
    const random = seededRandom(cutting.random);
    for (let at = 0; at < data.length; ) {
      const size = 1 + Math.floor(random() * cutting.max);
      sizes.push(size);
      at += size;
    }
  } else {
    const { every } = cutting as { readonly every: number };
    for (let at = 0; at < data.length; at += every) sizes.push(every);
  }
  const pieces: Buffer[] = [];
  let at = 0;
  for (const size of sizes) {
    if (at >= data.length) break;
    pieces.push(data.subarray(at, at + size));
    at += size;
  }
  if (at < data.length) pieces.push(data.subarray(at));
  return pieces;
}

export function cuttingName(cutting: Cutting): string {
  return typeof cutting === 'string' ? cutting : JSON.stringify(cutting);
}

export function arrivalEvents(segments: readonly ArrivalSegment[]): ({ arrival: number } | { declare: number })[] {
  const events: ({ arrival: number } | { declare: number })[] = [];
  for (const segment of segments) {
    if ('declare' in segment) {
      events.push({ declare: segment.declare });
    } else if ('burst' in segment) {
      for (let i = 0; i < segment.burst; i++) events.push({ arrival: segment.at });
    } else if ('at' in segment) {
      for (const arrival of segment.at) events.push({ arrival });
    } else {
      const { frames, fps, start, speed = 1, tickMs } = segment.steady;
      for (let i = 0; i < frames; i++) {
        const ideal = (i * SECOND) / fps / speed;
        const offset = tickMs ? Math.ceil(ideal / (tickMs * MS)) * tickMs * MS : Math.round(ideal);
        events.push({ arrival: start + offset });
      }
    }
  }
  return events;
}

function msList(spec: { readonly every: number } | { readonly at: readonly number[] }, count: number): number[] {
  if ('every' in spec) return Array.from({ length: count }, (_, i) => Math.round(i * spec.every));
  return spec.at.slice(0, count);
}

export function paceUnits(vector: PaceVector): { offered: number; pts: number | undefined; bytes: number }[] {
  const { count, bytes, offeredMs, ptsMs } = vector.units;
  const offered = msList(offeredMs, count);
  const pts = ptsMs ? msList(ptsMs, count) : undefined;
  return offered.map((at, i) => ({ offered: at * MS, pts: pts ? (pts[i] as number) * MS : undefined, bytes }));
}

// ---------------------------------------------------------------- canonical lines

/** FNV-1a, 32 bits, as 8 hex digits: a cheap fingerprint of a unit's bytes, the same in C. */
export function fnv1a(data: Uint8Array): string {
  let hash = 0x811c9dc5;
  for (const byte of data) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash.toString(16).padStart(8, '0');
}

export function unitLine(size: number, keyframe: boolean, parameterSets: number, fingerprint: string, at?: string): string {
  return `${size} ${keyframe ? 'key' : 'delta'} ps=${parameterSets} ${fingerprint}${at === undefined ? '' : ` @${at}`}`;
}

export function bodyLines(body: Buffer, done: boolean): string[] {
  return [`body ${JSON.stringify(body.toString('latin1'))}`, done ? 'done' : 'not done'];
}

// ---------------------------------------------------------------- the TypeScript implementation

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function tsBody(vector: BodyVector, cutting: Cutting): Outcome {
  const decoder = new BodyDecoder(vector.contentLength);
  const out: Uint8Array[] = [];
  try {
    for (const read of cut(segmentBytes(vector.wire), cutting)) out.push(...decoder.decode(read));
  } catch (err) {
    return { lines: [], error: errorMessage(err) };
  }
  return { lines: bodyLines(Buffer.concat(out), decoder.done) };
}

export function tsFraming(vector: FramingVector, parameterSets: readonly string[], cutting: Cutting): Outcome {
  const framer = new AnnexBFramer(vector.codec, {
    ...(vector.maxUnitBytes === undefined ? {} : { maxUnitBytes: vector.maxUnitBytes }),
    ...(vector.maxLeadingGarbageBytes === undefined ? {} : { maxLeadingGarbageBytes: vector.maxLeadingGarbageBytes }),
  });
  const lines: string[] = [];
  const record = (units: ReturnType<AnnexBFramer['flush']>, at: string): void => {
    for (const unit of units) lines.push(unitLine(unit.data.length, unit.keyframe, unit.parameterSets.length, fnv1a(unit.data), vector.emitAt ? at : undefined));
  };
  try {
    const chunks = cut(segmentBytes(vector.input, vector.codec, parameterSets), cutting);
    chunks.forEach((chunk, i) => record(framer.push(chunk), String(i)));
    record(framer.flush(), 'end');
  } catch (err) {
    return { lines, error: errorMessage(err) };
  }
  return { lines };
}

export function tsClock(vector: ClockVector): Outcome {
  const clock = new FrameClock();
  if (vector.frameRate !== undefined) clock.declareFrameRate(vector.frameRate);
  const lines: string[] = [];
  for (const event of arrivalEvents(vector.arrivals)) {
    if ('declare' in event) {
      clock.declareFrameRate(event.declare);
    } else {
      const { pts, duration } = clock.stamp(event.arrival);
      lines.push(`${pts} ${duration}`);
    }
  }
  return { lines };
}

/** Waits for the microtasks of an already resolved promise: whether the pacer has room now. */
async function hasRoom(pacer: Pacer): Promise<boolean> {
  let room = false;
  void pacer.waitForRoom().then(() => (room = true));
  await Promise.resolve();
  await Promise.resolve();
  return room;
}

/**
 * Simulated time on a 1 ms grid (setTimeout mocked by the caller's `tick`): at each step the
 * pacer releases what is due, then the publisher delivers what it has offered while the pacer
 * has room. One line per unit: arrival, pts, release (ns).
 */
export async function tsPace(vector: PaceVector, tick: (ms: number) => void): Promise<Outcome> {
  let now = 0;
  const clock = { now: () => now };
  const units = paceUnits(vector);
  const arrival: number[] = [];
  const pts: number[] = [];
  const release: number[] = [];
  const index = new Map<TimedUnit, number>();
  const pacer = new Pacer({ clock, release: (unit) => (release[index.get(unit) as number] = now) });
  const frameClock = vector.frameRate === undefined ? undefined : new FrameClock();
  if (vector.frameRate !== undefined) frameClock?.declareFrameRate(vector.frameRate);
  let next = 0;
  try {
    for (let step = 0; step <= vector.untilMs; step++) {
      if (step > 0) {
        now = step * MS;
        tick(1);
      }
      while (next < units.length && (units[next] as { offered: number }).offered <= now && (await hasRoom(pacer))) {
        const unit = units[next] as { pts: number | undefined; bytes: number };
        const stamped = frameClock ? frameClock.stamp(now) : { pts: unit.pts as number, duration: 0 };
        arrival[next] = now;
        pts[next] = stamped.pts;
        const timed: TimedUnit = { kind: 'video', data: new Uint8Array(unit.bytes), keyframe: false, pts: stamped.pts, dts: stamped.pts, duration: stamped.duration };
        index.set(timed, next);
        pacer.enqueue(timed);
        next++;
      }
    }
  } finally {
    pacer.close();
  }
  return { lines: arrival.map((a, i) => `${a} ${pts[i]} ${release[i] ?? 'held'}`) };
}

// ---------------------------------------------------------------- the native driver's script

/** Reads as driver lines: "read <hex>", and "again <n>" for n more copies of the same read. */
function readLines(command: string, pieces: readonly Buffer[]): string[] {
  const lines: string[] = [];
  for (let i = 0; i < pieces.length; ) {
    const piece = pieces[i] as Buffer;
    let same = 1;
    while (i + same < pieces.length && (pieces[i + same] as Buffer).equals(piece)) same++;
    lines.push(`${command} ${piece.toString('hex')}`);
    if (same > 1) lines.push(`again ${same - 1}`);
    i += same;
  }
  return lines;
}

export function bodyScript(vector: BodyVector, cutting: Cutting): string[] {
  return [vector.contentLength === undefined ? 'body chunked' : `body length ${vector.contentLength}`, ...readLines('read', cut(segmentBytes(vector.wire), cutting)), 'end'];
}

export function framingScript(vector: FramingVector, parameterSets: readonly string[], cutting: Cutting): string[] {
  const chunks = cut(segmentBytes(vector.input, vector.codec, parameterSets), cutting);
  return [
    `framer ${vector.codec} ${vector.maxUnitBytes ?? 8 * 1024 * 1024} ${vector.maxLeadingGarbageBytes ?? 64 * 1024} ${vector.emitAt ? 1 : 0}`,
    ...readLines('read', chunks),
    'end',
  ];
}

export function clockScript(vector: ClockVector): string[] {
  const lines = ['clock'];
  if (vector.frameRate !== undefined) lines.push(`declare ${vector.frameRate}`);
  for (const event of arrivalEvents(vector.arrivals)) lines.push('declare' in event ? `declare ${event.declare}` : `stamp ${event.arrival}`);
  lines.push('end');
  return lines;
}

export function paceScript(vector: PaceVector): string[] {
  const lines = [`pace ${vector.frameRate ?? 0} ${vector.untilMs}`];
  for (const unit of paceUnits(vector)) lines.push(`offer ${unit.offered} ${unit.bytes} ${unit.pts ?? 0}`);
  lines.push('end');
  return lines;
}

/** The driver's answer to each script: result lines, then "ok" or "error <message as UTF-8 hex>". */
export function parseDriverOutput(output: string): Outcome[] {
  const outcomes: Outcome[] = [];
  let lines: string[] = [];
  for (const line of output.split('\n')) {
    if (line === '') continue;
    if (line === 'ok') {
      outcomes.push({ lines });
      lines = [];
    } else if (line.startsWith('error ')) {
      outcomes.push({ lines, error: Buffer.from(line.slice('error '.length), 'hex').toString('utf8') });
      lines = [];
    } else if (line.startsWith('body ')) {
      const [, hex = '', done] = line.split(' ');
      lines.push(...bodyLines(Buffer.from(hex, 'hex'), done === '1'));
    } else {
      lines.push(line);
    }
  }
  return outcomes;
}

/** Runs scripts through the native driver, one outcome per script; throws if it is not built or fails. */
export function runDriver(scripts: readonly (readonly string[])[]): Outcome[] {
  assert.ok(existsSync(NATIVE_DRIVER), `${NATIVE_DRIVER} is missing: build it with bash scripts/build-native.sh`);
  const result = spawnSync(NATIVE_DRIVER, [], { input: scripts.map((lines) => lines.join('\n')).join('\n') + '\n', encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(result.error, undefined, `running ${NATIVE_DRIVER}`);
  assert.equal(result.status, 0, `${NATIVE_DRIVER} failed: ${result.stderr}`);
  const outcomes = parseDriverOutput(result.stdout);
  assert.equal(outcomes.length, scripts.length, `${NATIVE_DRIVER} answered ${outcomes.length} of ${scripts.length} scripts`);
  return outcomes;
}

// ---------------------------------------------------------------- comparison

function digest(lines: readonly string[]): string {
  return createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 16);
}

/** What an outcome would be recorded as in a vector file (long lists as a digest with samples). */
export function recordable(outcome: Outcome): Expectation {
  const { lines } = outcome;
  const list: ExpectedList =
    lines.length <= 40
      ? lines
      : {
          count: lines.length,
          sha256: digest(lines),
          samples: Object.fromEntries(
            [0, 1, 2, 10, 30, 60, 100, 150, 200, 299, lines.length - 1].filter((i, k, all) => i < lines.length && all.indexOf(i) === k).map((i) => [String(i), lines[i] as string]),
          ),
        };
  return { lines: list, ...(outcome.error === undefined ? {} : { error: outcome.error }) };
}

export function assertOutcome(actual: Outcome, expected: Expectation, what: string): void {
  const hint = `${what}\n  actual (as it would be recorded): ${JSON.stringify(recordable(actual))}`;
  assert.equal(actual.error, expected.error, `${what}: error\n${hint}`);
  if (Array.isArray(expected.lines)) {
    assert.deepEqual(actual.lines, expected.lines, hint);
    return;
  }
  const list = expected.lines as ListDigest;
  for (const [index, line] of Object.entries(list.samples)) assert.equal(actual.lines[Number(index)], line, `${what}: line ${index}\n${hint}`);
  assert.equal(actual.lines.length, list.count, `${what}: number of lines\n${hint}`);
  assert.equal(digest(actual.lines), list.sha256, `${what}: digest of all lines\n${hint}`);
}

export function expectationFor(vector: VectorBase, side: 'ts' | 'native'): Expectation {
  return vector.divergence?.[side] ?? vector.expect;
}
