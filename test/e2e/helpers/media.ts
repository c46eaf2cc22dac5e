// Media made at test time by ffmpeg into a temporary directory, removed when the test file ends.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AnnexBFramer } from '../../../src/ingest/annexb-framer';
import { run } from './processes';

export interface ClipSpec {
  /** File name inside the media directory; its extension picks the container (.mkv or .ts). */
  readonly file: string;
  readonly codec: 'h264' | 'h265';
  readonly width?: number;
  readonly height?: number;
  readonly fps?: number;
  readonly seconds?: number;
  /** Keyframe interval in frames. */
  readonly gop?: number;
  /** Adds an AAC track (48 kHz stereo sine). */
  readonly audio?: boolean;
  /** ffmpeg video bitrate, e.g. "2M"; the encoder's default quality otherwise. */
  readonly bitrate?: string;
}

export class MediaDir {
  readonly dir: string;

  constructor() {
    this.dir = mkdtempSync(path.join(tmpdir(), 'pushgate-e2e-'));
  }

  file(name: string): string {
    return path.join(this.dir, name);
  }

  /** Encodes testsrc2 (and a sine for audio) with the given parameters. */
  async clip(spec: ClipSpec): Promise<string> {
    const { width = 640, height = 360, fps = 30, seconds = 10, gop = 30 } = spec;
    const out = this.file(spec.file);
    const video =
      spec.codec === 'h264'
        ? ['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-x264-params', 'scenecut=0']
        : ['-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error:scenecut=0:bframes=0'];
    const args = [
      '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
      '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${fps}`,
      ...(spec.audio ? ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'] : []),
      '-t', String(seconds),
      ...video,
      '-g', String(gop), '-bf', '0', '-pix_fmt', 'yuv420p',
      ...(spec.bitrate ? ['-b:v', spec.bitrate, '-maxrate', spec.bitrate, '-bufsize', spec.bitrate] : []),
      ...(spec.audio ? ['-c:a', 'aac', '-b:a', '96k', '-ac', '2'] : ['-an']),
      out,
    ];
    const result = await run('ffmpeg', args, 120_000);
    if (result.code !== 0) throw new Error(`ffmpeg could not make ${spec.file}: ${result.stderr}`);
    return out;
  }

  /** Copies the streams of `source` into another container, e.g. a raw .h264/.hevc elementary stream. */
  async remux(source: string, file: string, format: 'h264' | 'hevc' | 'mpegts'): Promise<string> {
    const out = this.file(file);
    const result = await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', '-i', source, '-c', 'copy', '-f', format, out], 60_000);
    if (result.code !== 0) throw new Error(`ffmpeg could not remux ${source} to ${file}: ${result.stderr}`);
    return out;
  }

  size(file: string): number {
    return statSync(file).size;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Raw Annex-B bytes' access units (one picture each), cut by pushgate's own framer. */
export function accessUnitsIn(bytes: Uint8Array, codec: 'h264' | 'h265'): Buffer[] {
  const framer = new AnnexBFramer(codec);
  return [...framer.push(bytes), ...framer.flush()].map((unit) => Buffer.from(unit.data));
}

/** A raw Annex-B file's access units. */
export function accessUnitsOf(file: string, codec: 'h264' | 'h265'): Buffer[] {
  return accessUnitsIn(readFileSync(file), codec);
}
