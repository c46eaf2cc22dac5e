// What the benchmark makes before it runs: the test clips (encoded by ffmpeg, kept between runs
// since they depend only on their parameters) and the C limit server (compiled every run).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { runCommand } from './processes';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const WORK_DIR = path.join(REPO_ROOT, 'bench', '.work');
const LIMIT_SOURCE = path.join(REPO_ROOT, 'bench', 'limit', 'limit-server.c');

export interface ClipSpec {
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  /** Constant bitrate in kbit/s (x264 nal-hrd=cbr, buffer of 2 s). */
  readonly kbps: number;
  /** Keyframe interval in frames. */
  readonly gop: number;
  readonly seconds: number;
}

export const CLIPS = {
  '4.5M': { width: 1280, height: 720, fps: 30, kbps: 4500, gop: 30, seconds: 20 },
  '1M': { width: 1280, height: 720, fps: 30, kbps: 1000, gop: 30, seconds: 20 },
  '4.5M-gop2s': { width: 1280, height: 720, fps: 30, kbps: 4500, gop: 60, seconds: 20 },
} as const satisfies Record<string, ClipSpec>;
export type ClipName = keyof typeof CLIPS;

export function clipFile(name: ClipName): string {
  const spec: ClipSpec = CLIPS[name];
  return path.join(WORK_DIR, `clip-${spec.width}x${spec.height}p${spec.fps}-${spec.kbps}k-g${spec.gop}-${spec.seconds}s.mkv`);
}

/** The first seconds of a clip as a raw H.264 file, for pushes of a whole file. */
export function shortClipFile(name: ClipName): string {
  return clipFile(name).replace(/\.mkv$/, '-2s.h264');
}

/** A whole clip as a raw H.264 file, for the latency probe's publisher. */
export function rawClipFile(name: ClipName): string {
  return clipFile(name).replace(/\.mkv$/, '.h264');
}

/** Encodes the clips that are not there yet. */
export async function makeClips(): Promise<void> {
  mkdirSync(WORK_DIR, { recursive: true });
  for (const name of Object.keys(CLIPS) as ClipName[]) {
    const spec: ClipSpec = CLIPS[name];
    const file = clipFile(name);
    if (!existsSync(file)) {
      const kbps = `${spec.kbps}k`;
      await runCommand('ffmpeg', [
        '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
        '-f', 'lavfi', '-i', `testsrc2=size=${spec.width}x${spec.height}:rate=${spec.fps}`,
        '-t', String(spec.seconds),
        '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p',
        '-g', String(spec.gop), '-bf', '0', '-x264-params', 'nal-hrd=cbr:scenecut=0',
        '-b:v', kbps, '-maxrate', kbps, '-bufsize', `${2 * spec.kbps}k`,
        '-an', `${file}.tmp.mkv`,
      ], 300_000);
      await runCommand('mv', [`${file}.tmp.mkv`, file], 5000);
    }
    const raw = rawClipFile(name);
    if (!existsSync(raw)) {
      await runCommand('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', '-i', file, '-c:v', 'copy', '-f', 'h264', raw], 60_000);
    }
    const short = shortClipFile(name);
    if (!existsSync(short)) {
      await runCommand('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', '-i', file, '-t', '2', '-c:v', 'copy', '-f', 'h264', short], 60_000);
    }
  }
}

/** Compiles bench/limit/limit-server.c; returns the binary's path. */
export async function buildLimitServer(): Promise<string> {
  mkdirSync(WORK_DIR, { recursive: true });
  const binary = path.join(WORK_DIR, 'limit-server');
  const flags = execFileSync('pkg-config', ['--cflags', '--libs', 'gstreamer-1.0', 'gstreamer-app-1.0', 'gstreamer-rtsp-1.0', 'gstreamer-rtsp-server-1.0'], { encoding: 'utf8' })
    .trim()
    .split(/\s+/);
  await runCommand('gcc', ['-O2', '-Wall', '-Wextra', '-o', binary, LIMIT_SOURCE, ...flags], 60_000);
  return binary;
}
