// HTTP/1.1 or RTSP/1.0 written piece by piece over a raw socket, for requests no client would
// send (broken chunk framing, absurd lengths, heads sent one byte at a time, garbage).
import net from 'node:net';

export interface RawExchange {
  /** Everything the server sent, as latin1. */
  readonly text: string;
  /** The status of the first response, or 0 when none arrived. */
  readonly status: number;
  /** The body of the first response (after the blank line). */
  readonly body: string;
  /** The server closed (or reset) the connection before `waitMs` ran out. */
  readonly closedByServer: boolean;
  readonly elapsedMs: number;
}

export interface RawOptions {
  /** Pieces written in order, `gapMs` apart. */
  readonly pieces: readonly (string | Buffer)[];
  readonly gapMs?: number;
  /** Half-close (FIN) after the last piece. */
  readonly endAfter?: boolean;
  /** Destroy (abrupt close) after the last piece instead of waiting for an answer. */
  readonly abortAfter?: boolean;
  /** How long to wait for the server to answer and close. */
  readonly waitMs: number;
}

/** Sends `pieces` and collects what comes back until the server closes or `waitMs` passes. */
export function rawExchange(port: number, options: RawOptions, host = '127.0.0.1'): Promise<RawExchange> {
  const startedAt = performance.now();
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    let text = '';
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (closedByServer: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const status = /^(?:HTTP|RTSP)\/\d\.\d (\d{3})/.exec(text);
      const split = text.indexOf('\r\n\r\n');
      resolve({ text, status: status ? Number(status[1]) : 0, body: split >= 0 ? text.slice(split + 4) : '', closedByServer, elapsedMs: performance.now() - startedAt });
    };
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    socket.once('connect', () => {
      void (async () => {
        for (const piece of options.pieces) {
          if (socket.destroyed) return;
          socket.write(piece);
          if (options.gapMs) await new Promise((r) => setTimeout(r, options.gapMs));
        }
        if (options.abortAfter) {
          finish(false);
          return;
        }
        if (options.endAfter && !socket.destroyed) socket.end();
        timer = setTimeout(() => finish(false), options.waitMs);
      })();
    });
  });
}
