// A small RTSP 1.0 client over TCP for the end-to-end tests: requests with their status codes,
// SDP, interleaved RTP/RTCP ($-framed) with arrival times, and what is inside the RTP payloads
// (NAL unit types, FU-A/STAP-A and their H.265 equivalents). It measures what real players only
// hint at: exact response times, RTP timestamps, when the first keyframe arrives.
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';

export interface RtspResponse {
  readonly status: number;
  readonly reason: string;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** performance.now() when the whole response had arrived. */
  readonly receivedAt: number;
  /** Milliseconds from the request being written to the response being complete. */
  readonly elapsedMs: number;
}

export interface RtpPacket {
  readonly channel: number;
  readonly marker: boolean;
  readonly payloadType: number;
  readonly seq: number;
  readonly timestamp: number;
  readonly ssrc: number;
  readonly payload: Buffer;
  /** performance.now() at arrival. */
  readonly arrivalMs: number;
  /** Date.now() at arrival. */
  readonly arrivalWallMs: number;
}

export interface RtcpSenderReport {
  readonly channel: number;
  readonly ssrc: number;
  /** The sender's wall clock (NTP) as Unix milliseconds. */
  readonly ntpUnixMs: number;
  readonly rtpTimestamp: number;
  readonly arrivalWallMs: number;
}

export interface SdpMedia {
  readonly type: string;
  readonly payloadType: number;
  /** e.g. "H264", "H265", "MPEG4-GENERIC" */
  readonly encoding: string;
  readonly clockRate: number;
  readonly control: string | undefined;
  readonly fmtp: string | undefined;
}

export class RtspError extends Error {
  override readonly name = 'RtspError';
}

const NTP_UNIX_OFFSET_S = 2_208_988_800;

export class RtspClient {
  readonly host: string;
  readonly port: number;
  readonly packets: RtpPacket[] = [];
  readonly senderReports: RtcpSenderReport[] = [];
  /** Channels on which an RTCP BYE arrived. */
  readonly byeChannels = new Set<number>();
  /** RTP packets received (kept in `packets` only while `keepPackets`). */
  packetCount = 0;
  /** False for long, high-bitrate reads: only count packets. */
  keepPackets = true;
  session: string | undefined;
  /** performance.now() when the server closed the connection (or it failed). */
  closedAt: number | undefined;
  readonly #socket: net.Socket;
  readonly #scheme: 'rtsp' | 'rtsps';
  #buffer: Buffer = Buffer.alloc(0);
  #cseq = 0;
  #pending: { resolve: (r: RtspResponse) => void; reject: (e: Error) => void; sentAt: number } | undefined;
  #closeWaiters: (() => void)[] = [];
  /** UDP tracks' sockets (RTP, RTCP): their datagrams count as channels 2i and 2i+1. */
  readonly #udpSockets: dgram.Socket[] = [];
  #packetWaiters: (() => void)[] = [];

  private constructor(socket: net.Socket, host: string, port: number, scheme: 'rtsp' | 'rtsps' = 'rtsp') {
    this.#socket = socket;
    this.#scheme = scheme;
    this.host = host;
    this.port = port;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    const onClose = (): void => {
      this.closedAt ??= performance.now();
      this.#pending?.reject(new RtspError('the RTSP connection closed before the response'));
      this.#pending = undefined;
      for (const wake of this.#closeWaiters.splice(0)) wake();
      for (const wake of this.#packetWaiters.splice(0)) wake();
    };
    socket.on('close', onClose);
    socket.on('error', onClose);
  }

  static connect(host: string, port: number, timeoutMs = 5000): Promise<RtspClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new RtspError(`RTSP connect to ${host}:${port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeListener('error', reject);
        resolve(new RtspClient(socket, host, port));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  /**
   * The same over TLS (RTSPS), verifying the server's certificate against `ca` and its name
   * against `host`; rejects when the handshake fails.
   */
  static connectTls(host: string, port: number, ca: string | Buffer, timeoutMs = 5000): Promise<RtspClient> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host, port, ca, ...(net.isIP(host) ? {} : { servername: host }) });
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new RtspError(`RTSPS connect to ${host}:${port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new RtspClient(socket, host, port, 'rtsps'));
      });
      socket.once('error', (err: Error) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  url(path: string): string {
    return `${this.#scheme}://${this.host}:${this.port}/${path.replace(/^\//, '')}`;
  }

  get closed(): boolean {
    return this.closedAt !== undefined;
  }

  /** Sends one request and waits for its response; rejects on timeout (the request hung). */
  request(method: string, url: string, headers: Record<string, string> = {}, timeoutMs = 5000): Promise<RtspResponse> {
    if (this.#pending) throw new RtspError('one request at a time');
    if (this.closed) return Promise.reject(new RtspError('the RTSP connection is closed'));
    const lines = [`${method} ${url} RTSP/1.0`, `CSeq: ${++this.#cseq}`, 'User-Agent: pushgate-e2e'];
    if (this.session && !('Session' in headers)) lines.push(`Session: ${this.session}`);
    for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
    const sentAt = performance.now();
    return new Promise<RtspResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending = undefined;
        reject(new RtspError(`${method} ${url} got no response within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending = {
        sentAt,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.#socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
  }

  options(path: string): Promise<RtspResponse> {
    return this.request('OPTIONS', this.url(path));
  }

  describe(path: string, timeoutMs = 5000): Promise<RtspResponse> {
    return this.request('DESCRIBE', this.url(path), { Accept: 'application/sdp' }, timeoutMs);
  }

  /** SETUP over interleaved TCP on channels (2i, 2i+1). Remembers the session. */
  setupTcp(controlUrl: string, index: number): Promise<RtspResponse> {
    return this.#setup(controlUrl, `RTP/AVP/TCP;unicast;interleaved=${2 * index}-${2 * index + 1}`);
  }

  play(path: string, timeoutMs = 5000): Promise<RtspResponse> {
    return this.request('PLAY', this.url(path), { Range: 'npt=0.000-' }, timeoutMs);
  }

  teardown(path: string): Promise<RtspResponse> {
    return this.request('TEARDOWN', this.url(path));
  }

  /**
   * SETUP over unicast UDP: RTP to an even local port, RTCP to the next one. Their datagrams
   * are recorded as channels (2i, 2i+1), as interleaved ones would be.
   */
  async setupUdp(controlUrl: string, index: number): Promise<RtspResponse> {
    const [rtp, rtcp] = await bindUdpPair();
    for (const [socket, channel] of [[rtp, 2 * index], [rtcp, 2 * index + 1]] as const) {
      this.#udpSockets.push(socket);
      socket.on('message', (data: Buffer) => this.#onInterleaved(channel, data));
    }
    const port = rtp.address().port;
    return this.#setup(controlUrl, `RTP/AVP;unicast;client_port=${port}-${port + 1}`);
  }

  /** One SETUP; remembers the session it answers with. */
  async #setup(controlUrl: string, transport: string): Promise<RtspResponse> {
    const response = await this.request('SETUP', controlUrl, { Transport: transport });
    if (response.status === 200 && response.headers.session) this.session = response.headers.session.split(';')[0]!.trim();
    return response;
  }

  /** DESCRIBE + SETUP of every track (over TCP unless told) + PLAY. Throws unless each answers 200. */
  async playAll(path: string, transport: 'tcp' | 'udp' = 'tcp'): Promise<{ describe: RtspResponse; medias: SdpMedia[]; play: RtspResponse }> {
    const describe = await this.describe(path);
    if (describe.status !== 200) throw new RtspError(`DESCRIBE ${path} answered ${describe.status} ${describe.reason}`);
    const medias = parseSdp(describe.body);
    const base = describe.headers['content-base'] ?? this.url(path);
    for (const [index, media] of medias.entries()) {
      const control = controlUrl(base, media.control);
      const setup = transport === 'udp' ? await this.setupUdp(control, index) : await this.setupTcp(control, index);
      if (setup.status !== 200) throw new RtspError(`SETUP of track ${index} answered ${setup.status} ${setup.reason}`);
    }
    const play = await this.play(path);
    if (play.status !== 200) throw new RtspError(`PLAY ${path} answered ${play.status} ${play.reason}`);
    return { describe, medias, play };
  }

  /** Resolves when the server closes the connection, or false after `timeoutMs`. */
  waitForClose(timeoutMs: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#closeWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Waits until `predicate` holds for the packets received so far (checked on every packet). */
  async waitForPackets(predicate: (packets: readonly RtpPacket[]) => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!predicate(this.packets)) {
      const left = deadline - performance.now();
      if (left <= 0) throw new RtspError(`timed out after ${timeoutMs} ms waiting for ${what} (${this.packets.length} RTP packets so far)`);
      if (this.closed) throw new RtspError(`the connection closed while waiting for ${what} (${this.packets.length} RTP packets so far)`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 100));
        this.#packetWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The RTP packets of one interleaved channel (0 = first track's RTP). */
  rtp(channel = 0): RtpPacket[] {
    return this.packets.filter((p) => p.channel === channel);
  }

  close(): void {
    this.#socket.destroy();
    for (const socket of this.#udpSockets.splice(0)) socket.close();
  }

  #onData(chunk: Buffer): void {
    this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : chunk;
    for (;;) {
      if (this.#buffer.length === 0) return;
      if (this.#buffer[0] === 0x24) {
        if (this.#buffer.length < 4) return;
        const channel = this.#buffer[1]!;
        const length = this.#buffer.readUInt16BE(2);
        if (this.#buffer.length < 4 + length) return;
        const data = this.#buffer.subarray(4, 4 + length);
        this.#buffer = this.#buffer.subarray(4 + length);
        this.#onInterleaved(channel, Buffer.from(data));
        continue;
      }
      const end = this.#buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.#buffer.subarray(0, end).toString('latin1');
      const headers: Record<string, string> = {};
      const [startLine = '', ...headerLines] = head.split('\r\n');
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const length = Number(headers['content-length'] ?? 0);
      if (this.#buffer.length < end + 4 + length) return;
      const body = this.#buffer.subarray(end + 4, end + 4 + length).toString('utf8');
      this.#buffer = this.#buffer.subarray(end + 4 + length);
      const match = /^RTSP\/1\.0 (\d{3}) ?(.*)$/.exec(startLine);
      if (!match) continue; // a request from the server: not expected, ignored
      const pending = this.#pending;
      this.#pending = undefined;
      const receivedAt = performance.now();
      pending?.resolve({
        status: Number(match[1]),
        reason: match[2] ?? '',
        headers,
        body,
        receivedAt,
        elapsedMs: receivedAt - pending.sentAt,
      });
    }
  }

  #onInterleaved(channel: number, data: Buffer): void {
    const arrivalMs = performance.now();
    const arrivalWallMs = Date.now();
    if (channel % 2 === 1) {
      this.#onRtcp(channel, data, arrivalWallMs);
      return;
    }
    this.packetCount++;
    if (this.keepPackets) {
      const packet = parseRtp(channel, data, arrivalMs, arrivalWallMs);
      if (packet) this.packets.push(packet);
    }
    for (const wake of this.#packetWaiters.splice(0)) wake();
  }

  #onRtcp(channel: number, data: Buffer, arrivalWallMs: number): void {
    // A compound packet: walk its parts.
    for (let offset = 0; offset + 4 <= data.length; ) {
      const type = data[offset + 1]!;
      const length = (data.readUInt16BE(offset + 2) + 1) * 4;
      if (type === 200 && offset + 20 <= data.length) {
        const seconds = data.readUInt32BE(offset + 8);
        const fraction = data.readUInt32BE(offset + 12);
        this.senderReports.push({
          channel,
          ssrc: data.readUInt32BE(offset + 4),
          ntpUnixMs: (seconds - NTP_UNIX_OFFSET_S) * 1000 + (fraction / 2 ** 32) * 1000,
          rtpTimestamp: data.readUInt32BE(offset + 16),
          arrivalWallMs,
        });
      } else if (type === 203) {
        this.byeChannels.add(channel);
      }
      offset += length;
    }
  }
}

/** Two UDP sockets on 127.0.0.1, on an even port and the next one (RTP and RTCP). */
async function bindUdpPair(): Promise<[dgram.Socket, dgram.Socket]> {
  const bind = (port: number): Promise<dgram.Socket | undefined> =>
    new Promise((resolve) => {
      const socket = dgram.createSocket('udp4');
      socket.once('error', () => {
        socket.close();
        resolve(undefined);
      });
      socket.bind(port, '127.0.0.1', () => resolve(socket));
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    const rtp = await bind(0);
    if (!rtp) continue;
    const port = rtp.address().port;
    const rtcp = port % 2 === 0 ? await bind(port + 1) : undefined;
    if (rtcp) return [rtp, rtcp];
    rtp.close();
  }
  throw new RtspError('no free pair of UDP ports');
}

export function parseRtp(channel: number, data: Buffer, arrivalMs: number, arrivalWallMs: number): RtpPacket | undefined {
  if (data.length < 12 || data[0]! >> 6 !== 2) return undefined;
  const csrcCount = data[0]! & 0x0f;
  const hasExtension = (data[0]! & 0x10) !== 0;
  const hasPadding = (data[0]! & 0x20) !== 0;
  let offset = 12 + 4 * csrcCount;
  if (hasExtension && offset + 4 <= data.length) offset += 4 + 4 * data.readUInt16BE(offset + 2);
  let end = data.length;
  if (hasPadding) end -= data[data.length - 1]!;
  return {
    channel,
    marker: (data[1]! & 0x80) !== 0,
    payloadType: data[1]! & 0x7f,
    seq: data.readUInt16BE(2),
    timestamp: data.readUInt32BE(4),
    ssrc: data.readUInt32BE(8),
    payload: data.subarray(offset, Math.max(offset, end)),
    arrivalMs,
    arrivalWallMs,
  };
}

export function parseSdp(sdp: string): SdpMedia[] {
  const medias: { type: string; payloadType: number; encoding: string; clockRate: number; control?: string; fmtp?: string }[] = [];
  for (const raw of sdp.split(/\r?\n/)) {
    const line = raw.trim();
    const current = medias[medias.length - 1];
    if (line.startsWith('m=')) {
      const [type = '', , , pt = ''] = line.slice(2).split(' ');
      medias.push({ type, payloadType: Number(pt), encoding: '', clockRate: 0 });
    } else if (current && line.startsWith('a=rtpmap:')) {
      const match = /^a=rtpmap:(\d+) ([^/]+)\/(\d+)/.exec(line);
      if (match && Number(match[1]) === current.payloadType) {
        current.encoding = match[2]!.toUpperCase();
        current.clockRate = Number(match[3]);
      }
    } else if (current && line.startsWith('a=control:')) {
      current.control = line.slice('a=control:'.length);
    } else if (current && line.startsWith('a=fmtp:')) {
      current.fmtp = line.slice('a=fmtp:'.length);
    }
  }
  return medias.map((m) => ({ ...m, control: m.control, fmtp: m.fmtp }));
}

export function controlUrl(base: string, control: string | undefined): string {
  if (!control || control === '*') return base;
  if (/^rtsp:\/\//i.test(control)) return control;
  return `${base.replace(/\/$/, '')}/${control}`;
}

// ---- what is inside the RTP payloads ----

export type Codec = 'h264' | 'h265';

/** NAL unit types a packet carries (for fragments: only the start fragment names its type). */
export function nalTypes(payload: Buffer, codec: Codec): number[] {
  if (payload.length < 2) return [];
  if (codec === 'h264') {
    const type = payload[0]! & 0x1f;
    if (type === 28 || type === 29) {
      // FU-A/B: S bit starts the NAL unit.
      return payload[1]! & 0x80 ? [payload[1]! & 0x1f] : [];
    }
    if (type === 24) return aggregated(payload, 1, (b) => b & 0x1f);
    return [type];
  }
  const type = (payload[0]! >> 1) & 0x3f;
  if (type === 49) return payload.length > 2 && payload[2]! & 0x80 ? [payload[2]! & 0x3f] : [];
  if (type === 48) return aggregated(payload, 2, (b) => (b >> 1) & 0x3f);
  return [type];
}

function aggregated(payload: Buffer, headerBytes: number, typeOf: (firstByte: number) => number): number[] {
  const types: number[] = [];
  for (let offset = headerBytes; offset + 2 < payload.length; ) {
    const size = payload.readUInt16BE(offset);
    if (size === 0 || offset + 2 + size > payload.length) break;
    types.push(typeOf(payload[offset + 2]!));
    offset += 2 + size;
  }
  return types;
}

/** IDR (H.264) or IRAP (H.265) slice. */
export function isKeyframeNal(type: number, codec: Codec): boolean {
  return codec === 'h264' ? type === 5 : type >= 16 && type <= 23;
}

export interface AccessUnitInfo {
  readonly timestamp: number;
  readonly firstArrivalMs: number;
  readonly lastArrivalMs: number;
  readonly nalTypes: number[];
  readonly keyframe: boolean;
  readonly packets: number;
}

/** Groups a track's RTP packets into access units: same timestamp, ended by the marker bit. */
export function accessUnits(packets: readonly RtpPacket[], codec: Codec): AccessUnitInfo[] {
  const units: AccessUnitInfo[] = [];
  let current: { timestamp: number; firstArrivalMs: number; lastArrivalMs: number; nalTypes: number[]; packets: number } | undefined;
  for (const packet of packets) {
    if (current && current.timestamp !== packet.timestamp) {
      // A unit whose marker was lost: close it anyway.
      units.push({ ...current, keyframe: current.nalTypes.some((t) => isKeyframeNal(t, codec)) });
      current = undefined;
    }
    current ??= { timestamp: packet.timestamp, firstArrivalMs: packet.arrivalMs, lastArrivalMs: packet.arrivalMs, nalTypes: [], packets: 0 };
    current.lastArrivalMs = packet.arrivalMs;
    current.packets++;
    current.nalTypes.push(...nalTypes(packet.payload, codec));
    if (packet.marker) {
      units.push({ ...current, keyframe: current.nalTypes.some((t) => isKeyframeNal(t, codec)) });
      current = undefined;
    }
  }
  return units;
}

/** Difference b - a of two 32-bit RTP timestamps, across a wrap. */
export function rtpDelta(a: number, b: number): number {
  const d = (b - a) >>> 0;
  return d > 0x7fffffff ? d - 0x100000000 : d;
}

/**
 * `count` DESCRIBEs of `name`, `concurrency` connections at a time, each closed on its answer
 * (with an Authorization header if given). Resolves with how many were answered 200.
 */
export function describeMany(port: number, name: string, count: number, options: { concurrency?: number; authorization?: string } = {}): Promise<number> {
  const concurrency = options.concurrency ?? 20;
  const authorization = options.authorization ? `Authorization: ${options.authorization}\r\n` : '';
  return new Promise((resolve) => {
    let started = 0;
    let finished = 0;
    let answered = 0;
    const next = (): void => {
      if (started >= count) return;
      started++;
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.write(`DESCRIBE rtsp://127.0.0.1:${port}/${name} RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n${authorization}\r\n`);
      });
      socket.setTimeout(5000, () => socket.destroy());
      socket.once('data', (data) => {
        if (data.toString('latin1').startsWith('RTSP/1.0 200')) answered++;
        socket.destroy();
      });
      socket.on('error', () => {});
      socket.on('close', () => {
        if (++finished === count) resolve(answered);
        else next();
      });
    };
    for (let i = 0; i < Math.min(concurrency, count); i++) next();
  });
}
