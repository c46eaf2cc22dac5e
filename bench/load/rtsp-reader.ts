// One RTSP reader of the load client: DESCRIBE, SETUP of the first (video) track over TCP
// interleaved or UDP unicast on its own sockets, PLAY, then counting what arrives. RTSP responses
// and $-framed packets share the TCP connection, so one parser reads both.
import dgram from 'node:dgram';
import net from 'node:net';
import { RtpCounter } from './rtp-counter';
import type { Transport } from './protocol';

const REQUEST_TIMEOUT_MS = 10_000;
const UDP_RECEIVE_BUFFER = 2 * 1024 * 1024;
const INTERLEAVED = 0x24; // '$'

interface Response {
  readonly status: number;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: string;
}

export class RtspReader {
  readonly counter = new RtpCounter();
  readonly #host: string;
  readonly #port: number;
  readonly #url: string;
  #socket: net.Socket | undefined;
  #udp: dgram.Socket[] = [];
  #rest: Buffer | undefined;
  #cseq = 0;
  #session: string | undefined;
  #pending: { resolve: (response: Response) => void; reject: (error: Error) => void } | undefined;
  #closed = false;
  #firstPacket: (() => void) | undefined;

  readonly path: string;

  constructor(host: string, port: number, path: string) {
    this.#host = host;
    this.#port = port;
    this.path = path;
    this.#url = `rtsp://${host}:${port}/${path}`;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Connects and plays; for UDP, `bindPair` gives the RTP/RTCP sockets. Throws on any failure. */
  async play(transport: Transport, bindPair?: () => Promise<dgram.Socket[]>): Promise<void> {
    await this.#connect();
    const describe = await this.#request('DESCRIBE', this.#url, { Accept: 'application/sdp' });
    if (describe.status !== 200) throw new Error(`DESCRIBE answered ${describe.status}`);
    const base = describe.headers.get('content-base') ?? `${this.#url}/`;
    const control = trackControl(base, describe.body);
    let transportHeader = 'RTP/AVP/TCP;unicast;interleaved=0-1';
    if (transport === 'udp') {
      if (!bindPair) throw new Error('UDP readers need a port pair');
      this.#udp = await bindPair();
      if (this.#closed) {
        for (const socket of this.#udp) socket.close();
        throw new Error('reader closed');
      }
      const [rtp, rtcp] = this.#udp;
      if (!rtp || !rtcp) throw new Error('UDP port pair missing');
      rtp.on('message', (packet: Buffer) => this.#onRtp(packet, 0, packet.length));
      rtcp.on('message', () => undefined);
      transportHeader = `RTP/AVP;unicast;client_port=${rtp.address().port}-${rtcp.address().port}`;
    }
    const setup = await this.#request('SETUP', control, { Transport: transportHeader });
    if (setup.status !== 200) throw new Error(`SETUP answered ${setup.status}`);
    this.#session = setup.headers.get('session')?.split(';')[0]?.trim();
    this.counter.playSentAt = performance.now();
    const play = await this.#request('PLAY', this.#url, { Range: 'npt=0.000-' });
    if (play.status !== 200) throw new Error(`PLAY answered ${play.status}`);
  }

  /** Resolves at the first RTP packet; throws after `timeoutMs`. */
  waitForFirstPacket(timeoutMs: number): Promise<void> {
    if (this.counter.packets > 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#firstPacket = undefined;
        reject(new Error(`no RTP packet within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#firstPacket = () => {
        clearTimeout(timer);
        this.#firstPacket = undefined;
        resolve();
      };
    });
  }

  /** TEARDOWN and wait for its answer (media keeps flowing until then). */
  async teardown(): Promise<void> {
    const response = await this.#request('TEARDOWN', this.#url);
    if (response.status !== 200) throw new Error(`TEARDOWN answered ${response.status}`);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket?.destroy();
    for (const socket of this.#udp) socket.close();
    this.#pending?.reject(new Error('reader closed'));
    this.#pending = undefined;
  }

  #connect(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const socket = net.connect({ host: this.#host, port: this.#port });
      this.#socket = socket;
      socket.setNoDelay(true);
      socket.once('connect', () => resolve());
      socket.on('data', (chunk: Buffer) => this.#onData(chunk));
      socket.on('error', (err) => {
        reject(err);
        this.#fail(err);
      });
      socket.on('close', () => this.#fail(new Error('the server closed the connection')));
    });
  }

  #fail(error: Error): void {
    this.#pending?.reject(error);
    this.#pending = undefined;
    this.close();
  }

  #request(method: string, url: string, headers: Record<string, string> = {}): Promise<Response> {
    const socket = this.#socket;
    if (!socket || this.#closed) return Promise.reject(new Error('not connected'));
    const lines = [`${method} ${url} RTSP/1.0`, `CSeq: ${++this.#cseq}`, 'User-Agent: pushgate-bench'];
    if (this.#session) lines.push(`Session: ${this.#session}`);
    for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
    return new Promise<Response>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending = undefined;
        reject(new Error(`${method} got no answer within ${REQUEST_TIMEOUT_MS} ms`));
      }, REQUEST_TIMEOUT_MS);
      this.#pending = {
        resolve: (response) => {
          clearTimeout(timer);
          resolve(response);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
  }

  #onData(chunk: Buffer): void {
    const data = this.#rest ? Buffer.concat([this.#rest, chunk]) : chunk;
    let offset = 0;
    while (offset < data.length) {
      if (data[offset] === INTERLEAVED) {
        if (offset + 4 > data.length) break;
        const length = data.readUInt16BE(offset + 2);
        if (offset + 4 + length > data.length) break;
        // Channel 0 is RTP of the track; 1 is its RTCP, which is not counted.
        if (data[offset + 1] === 0) this.#onRtp(data, offset + 4, length);
        offset += 4 + length;
        continue;
      }
      const consumed = this.#parseResponse(data, offset);
      if (consumed === 0) break;
      offset += consumed;
    }
    this.#rest = offset < data.length ? data.subarray(offset) : undefined;
  }

  #onRtp(packet: Buffer, start: number, length: number): void {
    this.counter.onPacket(packet, start, length);
    this.#firstPacket?.();
  }

  /** Parses one RTSP message at `offset`; returns the bytes it took, 0 if incomplete. */
  #parseResponse(data: Buffer, offset: number): number {
    const headEnd = data.indexOf('\r\n\r\n', offset, 'latin1');
    if (headEnd < 0) return 0;
    const [startLine = '', ...lines] = data.toString('latin1', offset, headEnd).split('\r\n');
    const headers = new Map<string, string>();
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const bodyLength = Number(headers.get('content-length') ?? 0);
    const end = headEnd + 4 + bodyLength;
    if (end > data.length) return 0;
    const match = /^RTSP\/1\.0 (\d{3})/.exec(startLine);
    if (match) {
      const pending = this.#pending;
      this.#pending = undefined;
      pending?.resolve({ status: Number(match[1]), headers, body: data.toString('utf8', headEnd + 4, end) });
    }
    return end - offset;
  }
}

/** The control URL of the first video track in an SDP (of the first track if none is video). */
function trackControl(base: string, sdp: string): string {
  const tracks: { video: boolean; control: string | undefined }[] = [];
  for (const raw of sdp.split(/\r?\n/)) {
    const line = raw.trim();
    const current = tracks[tracks.length - 1];
    if (line.startsWith('m=')) tracks.push({ video: line.startsWith('m=video'), control: undefined });
    else if (current && line.startsWith('a=control:')) current.control = line.slice('a=control:'.length);
  }
  const control = (tracks.find((track) => track.video) ?? tracks[0])?.control;
  if (!control || control === '*') return base;
  if (/^rtsp:\/\//i.test(control)) return control;
  return `${base.replace(/\/$/, '')}/${control}`;
}

/** Binds an RTP socket on an even port and RTCP on the next one, from `next()` upwards. */
export async function bindUdpPair(host: string, next: () => number): Promise<dgram.Socket[]> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = next();
    const rtp = await bindSocket(host, port);
    if (!rtp) continue;
    const rtcp = await bindSocket(host, port + 1);
    if (rtcp) return [rtp, rtcp];
    rtp.close();
  }
  throw new Error('no free UDP port pair');
}

function bindSocket(host: string, port: number): Promise<dgram.Socket | undefined> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: UDP_RECEIVE_BUFFER });
    socket.once('error', () => {
      socket.close();
      resolve(undefined);
    });
    socket.bind(port, host, () => {
      socket.removeAllListeners('error');
      socket.on('error', () => undefined);
      resolve(socket);
    });
  });
}
