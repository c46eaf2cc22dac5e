// The proof every hostile test ends with: a reader that started before the attack still
// receives the stream, with no RTP sequence gap, and the gateway process is alive.
import assert from 'node:assert/strict';
import { ffmpegPublisher, getStream } from './clients';
import type { Gateway } from './gateway';
import { waitFor } from './processes';
import { RtspClient } from './rtsp-client';

export class Witness {
  readonly client: RtspClient;
  readonly #name: string;

  private constructor(client: RtspClient, name: string) {
    this.client = client;
    this.#name = name;
  }

  /** Publishes `clip` (H.264, ffmpeg -re, looped) as `name`, waits for it to go live, and watches it. */
  static async ofNewStream(gateway: Gateway, clip: string, name: string): Promise<Witness> {
    ffmpegPublisher(clip, gateway.pushUrl(name), 'h264', { loop: true });
    await waitFor(async () => (await getStream(gateway.http, name))?.state === 'live', 10_000, `${name} to go live`);
    return Witness.start(gateway, name);
  }

  /** Plays `name` over TCP and waits for its first packets. */
  static async start(gateway: Gateway, name: string): Promise<Witness> {
    const client = await RtspClient.connect('127.0.0.1', gateway.rtspPort);
    await client.playAll(name);
    await client.waitForPackets((p) => p.length >= 20, 5000, `the witness's first packets of ${name}`);
    return new Witness(client, name);
  }

  /** Video RTP sequence numbers that went missing since PLAY. */
  gaps(): number {
    let gaps = 0;
    const video = this.client.rtp(0);
    for (let i = 1; i < video.length; i++) gaps += (video[i]!.seq - video[i - 1]!.seq - 1) & 0xffff;
    return gaps;
  }

  /** Asserts the gateway is alive and this reader keeps receiving, with nothing lost. */
  async assertIntact(gateway: Gateway, what: string): Promise<void> {
    assert.ok(gateway.proc.running, `pushgate died during ${what}\n${gateway.logTail()}`);
    const before = this.client.rtp(0).length;
    try {
      await this.client.waitForPackets((p) => p.filter((x) => x.channel === 0).length >= before + 30, 5000, `more packets of ${this.#name} after ${what}`);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${gateway.logTail()}`);
    }
    assert.equal(this.gaps(), 0, `the witness lost RTP packets during ${what}`);
    const alive = await fetch(`${gateway.http}/healthz`);
    assert.equal(alive.status, 200);
  }

  close(): void {
    this.client.close();
  }
}
