// The latency probe's publisher: replays a raw H.264 clip access unit by access unit at its
// frame rate, forever, with a probe SEI (the send time) before the first slice of each unit.
// It writes to pushgate as a chunked HTTP POST, or to the C limit through a FIFO.
// With --aud-after, each unit is followed at once by the next one's access unit delimiter: the
// stream's bytes are the same as with an AUD opening every unit, but a receiver learns that a
// unit is complete when it is sent rather than when the next one starts. With --ffmpeg-writes,
// the POST is written as ffmpeg writes it (see ffmpegLikeOutput).
//
//   node probe-publisher.js --clip file.h264 --fps 30 [--aud-after] [--ffmpeg-writes] (--url http://host:port/push/name | --fifo path)
import { createWriteStream, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { AnnexBFramer } from '../../src/ingest/annexb-framer';
import { probeSei, wallClockMs } from './sei';

const START_CODE = Buffer.from([0, 0, 0, 1]);
/** An H.264 access unit delimiter (type 9, primary_pic_type 7: any slice type). */
const AUD = Buffer.from([0, 0, 0, 1, 0x09, 0xf0]);

/** The clip's access units, each with the probe SEI's insertion point (its first slice). */
function loadUnits(file: string): { data: Buffer; firstSlice: number }[] {
  const framer = new AnnexBFramer('h264');
  const units = [...framer.push(readFileSync(file)), ...framer.flush()];
  return units.map((unit) => ({ data: Buffer.from(unit.data), firstSlice: firstSliceOffset(unit.data) }));
}

/** Offset of the start code of the first VCL NAL unit (types 1-5). */
function firstSliceOffset(data: Uint8Array): number {
  for (let i = 0; i + 3 < data.length; i++) {
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
      const type = data[i + 3]! & 0x1f;
      if (type >= 1 && type <= 5) return i > 0 && data[i - 1] === 0 ? i - 1 : i;
    }
  }
  return 0;
}

/**
 * A chunked POST written as ffmpeg (libavformat's http protocol) writes it: User-Agent Lavf, no
 * Content-Type, each chunk's size line, data and CRLF as three writes on a socket with Nagle's algorithm on
 * (ffmpeg does not set TCP_NODELAY), so the data waits for the size line's acknowledgement.
 */
function ffmpegLikeOutput(url: string): Writable {
  const target = new URL(url);
  const socket = net.connect({ host: target.hostname, port: Number(target.port), noDelay: false });
  socket.write(`POST ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\nUser-Agent: Lavf/59.27.100\r\nTransfer-Encoding: chunked\r\n\r\n`);
  socket.on('data', (answer: Buffer) => {
    process.stderr.write(`probe publisher: answered ${answer.toString('latin1').split('\r\n')[0]}\n`);
    process.exit(1);
  });
  socket.on('error', (error) => {
    process.stderr.write(`probe publisher: ${error.message}\n`);
    process.exit(1);
  });
  return new Writable({
    write(unit: Buffer, _encoding, done): void {
      socket.write(`${unit.byteLength.toString(16)}\r\n`);
      socket.write(unit);
      socket.write('\r\n', done);
    },
  });
}

function openOutput(url: string | undefined, fifo: string | undefined, ffmpegWrites: boolean): Writable {
  if (fifo) return createWriteStream(fifo);
  if (!url) throw new Error('--url or --fifo is required');
  if (ffmpegWrites) return ffmpegLikeOutput(url);
  const request = http.request(url, { method: 'POST', headers: { 'content-type': 'video/h264', 'transfer-encoding': 'chunked' } });
  request.on('response', (response) => {
    process.stderr.write(`probe publisher: answered ${response.statusCode}\n`);
    process.exit(1);
  });
  request.setNoDelay(true);
  return request;
}

function main(): void {
  const { values } = parseArgs({ options: { clip: { type: 'string' }, fps: { type: 'string', default: '30' }, url: { type: 'string' }, fifo: { type: 'string' }, 'aud-after': { type: 'boolean', default: false }, 'ffmpeg-writes': { type: 'boolean', default: false } } });
  if (!values.clip) throw new Error('--clip is required');
  const units = loadUnits(values.clip);
  if (units.length === 0) throw new Error(`no access units in ${values.clip}`);
  const periodMs = 1000 / Number(values.fps);
  const output = openOutput(values.url, values.fifo, values['ffmpeg-writes']);
  output.on('error', (error) => {
    process.stderr.write(`probe publisher: ${error.message}\n`);
    process.exit(1);
  });
  const startedAt = performance.now();
  let index = 0;
  const sendNext = (): void => {
    const unit = units[index % units.length]!;
    const sentAt = wallClockMs();
    const parts = [unit.data.subarray(0, unit.firstSlice), START_CODE, probeSei(sentAt), unit.data.subarray(unit.firstSlice)];
    if (values['aud-after']) parts.push(AUD);
    output.write(Buffer.concat(index === 0 && values['aud-after'] ? [AUD, ...parts] : parts));
    index++;
    // Due times from the start, so timer lateness does not accumulate.
    setTimeout(sendNext, Math.max(0, startedAt + index * periodMs - performance.now()));
  };
  sendNext();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(0));
}

main();
