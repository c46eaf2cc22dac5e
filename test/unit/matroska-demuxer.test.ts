import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { SECOND, MS } from '../../src/core/clock';
import { isPushgateError, type ErrorCode } from '../../src/core/errors';
import type { StreamTracks, TimedUnit } from '../../src/core/media';
import { lengthPrefixedToAnnexB, opusPacketDuration } from '../../src/ingest/matroska-codecs';
import { MatroskaDemuxer, type MatroskaBlock, type MatroskaEvent, type MatroskaTrack } from '../../src/ingest/matroska-demuxer';
import { MatroskaIngester } from '../../src/ingest/matroska-ingester';
import { sniffFormat } from '../../src/ingest/format-sniffer';
import { fixedChunks } from './helpers/ts-media';
import { randomChunks } from './helpers/random';

const FPS = 25;
const SECONDS = 2;

interface MkvSpec {
  readonly audio?: 'opus' | 'aac';
  /** Unknown-size Segment and Clusters, as MediaRecorder writes them. */
  readonly live?: boolean;
  readonly video?: 'h264' | 'h265' | 'vp8';
  /** x264's -tune zerolatency for 4 s: small frames, some of 256..511 bytes. */
  readonly zerolatency?: boolean;
}

const cache = new Map<string, Buffer>();

/** testsrc2 320x240 at 25 fps (and a sine), muxed by ffmpeg into Matroska. */
function encodeMkv(spec: MkvSpec = {}): Buffer {
  const key = JSON.stringify(spec);
  const cached = cache.get(key);
  if (cached) return cached;
  const video =
    spec.video === 'vp8'
      ? ['-c:v', 'libvpx', '-deadline', 'realtime']
      : spec.video === 'h265'
        ? ['-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error:scenecut=0:bframes=0']
        : spec.zerolatency
          ? ['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-x264-params', 'scenecut=0', '-bf', '0']
          : ['-c:v', 'libx264', '-preset', 'veryfast', '-x264-params', 'scenecut=0', '-bf', '0'];
  const audio = spec.audio === 'opus' ? ['-c:a', 'libopus', '-b:a', '32k'] : spec.audio === 'aac' ? ['-c:a', 'aac', '-b:a', '64k'] : ['-an'];
  const args = [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    '-f', 'lavfi', '-i', `testsrc2=size=320x240:rate=${FPS}`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(spec.zerolatency ? 4 : SECONDS), '-g', String(FPS), '-pix_fmt', 'yuv420p',
    ...video, ...audio, '-ac', '1',
    ...(spec.live ? ['-live', '1', '-cluster_time_limit', '200'] : []),
    '-f', 'matroska', '-',
  ];
  const data = execFileSync('ffmpeg', args, { maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
  cache.set(key, data);
  return data;
}

interface ProbedPacket {
  readonly kind: 'video' | 'audio';
  readonly ptsMs: number;
  readonly size: number;
  readonly keyframe: boolean;
}

/** What ffprobe reads in the same bytes: the reference the demuxer is checked against. */
function probe(data: Buffer): ProbedPacket[] {
  const csv = execFileSync('ffprobe', ['-v', 'error', '-i', '-', '-show_entries', 'packet=codec_type,pts_time,size,flags', '-of', 'csv=p=0'], {
    input: data,
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['pipe', 'pipe', 'pipe'],
  }).toString();
  return csv
    .trim()
    .split('\n')
    .map((line) => {
      const [kind, pts, size, flags] = line.split(',');
      return { kind: kind as 'video' | 'audio', ptsMs: Math.round(Number(pts) * 1000), size: Number(size), keyframe: (flags ?? '').startsWith('K') };
    });
}

function demuxAll(chunks: Iterable<Uint8Array>): { tracks: readonly MatroskaTrack[][]; blocks: MatroskaBlock[] } {
  const demuxer = new MatroskaDemuxer();
  const events: MatroskaEvent[] = [];
  for (const chunk of chunks) events.push(...demuxer.push(chunk));
  events.push(...demuxer.flush());
  return {
    tracks: events.flatMap((e) => (e.kind === 'tracks' ? [[...e.tracks]] : [])),
    blocks: events.flatMap((e) => (e.kind === 'block' ? [e.block] : [])),
  };
}

function digest(tracks: readonly MatroskaTrack[], blocks: readonly MatroskaBlock[]): string[] {
  const kinds = new Map(tracks.map((t) => [t.number, t.type]));
  return blocks.map((b) => `${kinds.get(b.track)} ${b.timeNs / MS} ${b.frames.map((f) => f.byteLength).join('+')} ${b.keyframe ? 'K' : '_'}`);
}

function expectCode(code: ErrorCode, work: () => unknown): void {
  assert.throws(work, (err) => isPushgateError(err) && err.code === code);
}

class Collector {
  readonly tracks: StreamTracks[] = [];
  readonly units: TimedUnit[] = [];
  readonly sink = { tracks: (t: StreamTracks) => this.tracks.push(t), unit: (u: TimedUnit) => this.units.push(u) };
  kind(kind: 'video' | 'audio'): TimedUnit[] {
    return this.units.filter((u) => u.kind === kind);
  }
}

describe('Matroska demuxer', () => {
  for (const live of [false, true]) {
    const shape = live ? 'a live stream (unknown-size Segment and Clusters)' : 'a file';
    void it(`reads the tracks and every block of ${shape} as ffprobe does`, () => {
      const data = encodeMkv({ audio: 'opus', live });
      const { tracks, blocks } = demuxAll([data]);
      assert.equal(tracks.length, 1);
      const [video, audio] = [tracks[0]!.find((t) => t.type === 'video')!, tracks[0]!.find((t) => t.type === 'audio')!];
      assert.equal(video.codecId, 'V_MPEG4/ISO/AVC');
      assert.deepEqual([video.width, video.height], [320, 240]);
      assert.equal(video.codecPrivate?.[0], 1, 'avcC version 1');
      assert.equal(audio.codecId, 'A_OPUS');
      assert.equal(audio.channels, 1);
      const probed = probe(data);
      const kinds = new Map(tracks[0]!.map((t) => [t.number, t.type]));
      // ffprobe shows Opus times less the codec delay (its pre-skip): compare audio without them.
      const comparable = (p: ProbedPacket): ProbedPacket => (p.kind === 'audio' ? { ...p, ptsMs: 0 } : p);
      assert.deepEqual(
        blocks.map((b) => comparable({ kind: kinds.get(b.track) as 'video' | 'audio', ptsMs: b.timeNs / MS, size: b.frames[0]!.byteLength, keyframe: b.keyframe })),
        probed.map(comparable),
      );
      assert.equal(blocks.filter((b) => kinds.get(b.track) === 'video').length, FPS * SECONDS);
    });
  }

  void it('gives the same blocks whatever the chunking, even one byte at a time', () => {
    const data = encodeMkv({ audio: 'opus', live: true });
    const whole = demuxAll([data]);
    const expected = digest(whole.tracks[0]!, whole.blocks);
    for (const chunks of [fixedChunks(data, 1), fixedChunks(data, 7), fixedChunks(data, 4096), randomChunks(data, 42, 3000)]) {
      const cut = demuxAll(chunks);
      assert.deepEqual(digest(cut.tracks[0]!, cut.blocks), expected);
      assert.deepEqual(Buffer.concat(cut.blocks.flatMap((b) => b.frames)), Buffer.concat(whole.blocks.flatMap((b) => b.frames)));
    }
  });

  void it('refuses bytes that are not EBML, and a stream cut inside an element at its end', () => {
    expectCode('INVALID_MEDIA', () => new MatroskaDemuxer().push(Buffer.from('GET / HTTP/1.1\r\n\r\n')));
    const data = encodeMkv({ live: true });
    const demuxer = new MatroskaDemuxer();
    demuxer.push(data.subarray(0, data.byteLength - 100));
    expectCode('TRUNCATED_MEDIA', () => demuxer.flush());
  });

  void it('reads Xiph, EBML and fixed lacing', () => {
    // EBML header, unknown-size Segment and Cluster, Timecode 0, then one laced SimpleBlock per kind.
    const header = Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 0x80, 0x18, 0x53, 0x80, 0x67, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    const cluster = Buffer.from([0x1f, 0x43, 0xb6, 0x75, 0xff, 0xe7, 0x81, 0x00]);
    const frames = [Buffer.alloc(300, 1), Buffer.alloc(5, 2), Buffer.alloc(20, 3)];
    const simpleBlock = (lacing: number, sizes: number[], body: Buffer[]): Buffer => {
      const payload = Buffer.concat([Buffer.from([0x81, 0x00, 0x0a, 0x80 | (lacing << 1), body.length - 1, ...sizes]), ...body]);
      return Buffer.concat([Buffer.from([0xa3, 0x40 | (payload.length >> 8), payload.length & 0xff]), payload]);
    };
    const xiph = simpleBlock(1, [255, 45, 5], frames);
    // EBML lacing: 300 as a 2-byte vint, then 5 - 300 = -295 as a signed 2-byte vint (bias 8191).
    const ebml = simpleBlock(3, [0x41, 0x2c, 0x40 | ((8191 - 295) >> 8), (8191 - 295) & 0xff], frames);
    const fixed = simpleBlock(2, [], [Buffer.alloc(10, 4), Buffer.alloc(10, 5)]);
    const { blocks } = demuxAll([Buffer.concat([header, cluster, xiph, ebml, fixed])]);
    assert.deepEqual(blocks.map((b) => b.frames.map((f) => f.byteLength)), [[300, 5, 20], [300, 5, 20], [10, 10]]);
    assert.deepEqual(blocks.map((b) => b.timeNs), [10 * MS, 10 * MS, 10 * MS]);
    assert.deepEqual([...blocks[0]!.frames[2]!.subarray(0, 2)], [3, 3]);
  });

  void it('is recognised from its first bytes', () => {
    assert.equal(sniffFormat(encodeMkv({ live: true }).subarray(0, 64)), 'matroska');
    assert.equal(sniffFormat(Uint8Array.of(0x1a, 0x45)), 'more');
  });
});

describe('Matroska ingester', () => {
  void it('turns H.264 + Opus into tracks and Annex-B units with smooth rebased times, however chunked', () => {
    const data = encodeMkv({ audio: 'opus', live: true });
    const out = new Collector();
    const ingester = new MatroskaIngester(out.sink);
    const start = 5 * SECOND;
    // Chunks cut anywhere, arriving every 10 ms: as a browser's 100 ms timeslices would, only finer.
    randomChunks(data, 7, 2000).forEach((chunk, i) => ingester.push(chunk, start + i * 10 * MS));
    ingester.end(start + 10 * SECOND);
    assert.equal(out.tracks.length, 1);
    const tracks = out.tracks[0]!;
    assert.deepEqual({ codec: tracks.video.codec, width: tracks.video.width, height: tracks.video.height }, { codec: 'h264', width: 320, height: 240 });
    assert.deepEqual(tracks.audio, { kind: 'audio', codec: 'opus', sampleRate: 48000, channels: 1 });
    const video = out.kind('video');
    assert.equal(video.length, FPS * SECONDS);
    assert.equal(ingester.framesSeen, FPS * SECONDS);
    assert.ok(video[0]!.keyframe);
    // Due when it arrived: the first keyframe is complete a few chunks in.
    assert.ok(video[0]!.pts >= start && video[0]!.pts <= start + 200 * MS, `first unit at ${video[0]!.pts - start} ns`);
    for (const unit of video) {
      assert.deepEqual([...unit.data.subarray(0, 4)], [0, 0, 0, 1], 'Annex-B');
      assert.equal(unit.dts, unit.pts);
      assert.ok(unit.parameterSets && unit.parameterSets.byteLength > 8);
    }
    // The first unit carries the avcC's SPS and PPS.
    const nalTypes = [...video[0]!.data].flatMap((_, i, d) => (d[i] === 0 && d[i + 1] === 0 && d[i + 2] === 0 && d[i + 3] === 1 ? [d[i + 4]! & 0x1f] : []));
    assert.deepEqual(nalTypes.slice(0, 2), [7, 8]);
    for (let i = 1; i < video.length; i++) assert.equal(video[i]!.pts - video[i - 1]!.pts, SECOND / FPS);
    assert.ok(video.filter((u) => u.keyframe).length >= SECONDS);
    const audio = out.kind('audio');
    assert.ok(audio.length >= 40, `${audio.length} Opus packets`);
    for (const unit of audio) assert.equal(unit.duration, 20 * MS);
    for (let i = 1; i < audio.length; i++) assert.equal(audio[i]!.pts - audio[i - 1]!.pts, 20 * MS);
    assert.ok(audio[0]!.pts >= start && audio[0]!.pts < start + 100 * MS, 'audio in sync with video');
  });

  void it('takes AAC audio as ADTS frames', () => {
    const out = new Collector();
    const ingester = new MatroskaIngester(out.sink);
    ingester.push(encodeMkv({ audio: 'aac' }), SECOND);
    ingester.end(SECOND);
    assert.deepEqual(out.tracks[0]!.audio, { kind: 'audio', codec: 'aac', sampleRate: 48000, channels: 1 });
    const audio = out.kind('audio');
    assert.ok(audio.length > 50);
    for (const unit of audio) {
      assert.deepEqual([unit.data[0], unit.data[1]! & 0xf6], [0xff, 0xf0], 'ADTS sync');
      assert.equal(((unit.data[3]! & 3) << 11) | (unit.data[4]! << 3) | (unit.data[5]! >> 5), unit.data.byteLength);
    }
  });

  void it('reads blocks as length-prefixed even when a length looks like a start code (a NAL unit of 256..511 bytes)', () => {
    const data = encodeMkv({ zerolatency: true });
    const { blocks } = demuxAll([data]);
    assert.ok(
      blocks.some((b) => b.frames[0]![0] === 0 && b.frames[0]![1] === 0 && b.frames[0]![2] === 1),
      'the clip has a block starting 00 00 01',
    );
    const out = new Collector();
    const ingester = new MatroskaIngester(out.sink);
    ingester.push(data, SECOND);
    ingester.end(SECOND);
    assert.equal(out.kind('video').length, blocks.length);
  });

  void it('takes H.265 (hvcC) the same way', () => {
    const out = new Collector();
    const ingester = new MatroskaIngester(out.sink);
    for (const chunk of fixedChunks(encodeMkv({ video: 'h265', live: true }), 1000)) ingester.push(chunk, SECOND);
    ingester.end(SECOND);
    assert.deepEqual([out.tracks[0]?.video.codec, out.tracks[0]?.video.width, out.tracks[0]?.video.height], ['h265', 320, 240]);
    const video = out.kind('video');
    assert.equal(video.length, FPS * SECONDS);
    // VPS, SPS, PPS from the hvcC before the first picture (types 32, 33, 34).
    const first = video[0]!.data;
    assert.deepEqual([first[4]! >> 1, video[0]!.keyframe], [32, true]);
  });

  void it('refuses VP8 video with UNSUPPORTED_CODEC', () => {
    const ingester = new MatroskaIngester(new Collector().sink);
    expectCode('UNSUPPORTED_CODEC', () => ingester.push(encodeMkv({ video: 'vp8' }), 0));
  });

  void it('converts length-prefixed NAL units and knows Opus packet durations', () => {
    const block = Buffer.from([0, 0, 0, 2, 0x09, 0xf0, 0, 0, 0, 3, 0x65, 1, 2]);
    assert.deepEqual([...lengthPrefixedToAnnexB(block, 4)], [0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x65, 1, 2]);
    expectCode('INVALID_MEDIA', () => lengthPrefixedToAnnexB(Buffer.from([0, 0, 0, 9, 1]), 4));
    // CELT fullband 20 ms (config 31), one frame; SILK 60 ms (config 3) two frames.
    assert.equal(opusPacketDuration(Uint8Array.of(31 << 3)), 20 * MS);
    assert.equal(opusPacketDuration(Uint8Array.of((3 << 3) | 1)), 120 * MS);
    assert.equal(opusPacketDuration(Uint8Array.of((31 << 3) | 3, 3)), 60 * MS);
  });
});
