// A WHEP client in the test process: a receive-only webrtcbin that offers H.264 (and Opus),
// POSTs its offer with every ICE candidate, sets the answer, and decodes what arrives
// (avdec_h264 output-corrupt=false: only whole pictures count). Decoded frames are pulled from
// an appsink on a Node timer, so no JavaScript runs on a streaming thread.
import http from 'node:http';
import { Gst, GstApp, GstSdp, loadGstWebRtc } from '../../../src/gst/runtime';

const RECVONLY = 3;
const GATHERING_COMPLETE = 2;

export interface WhepResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly text: string;
}

export function post(url: string, body: string, headers: Record<string, string> = {}): Promise<WhepResponse> {
  return send('POST', url, body, { 'content-type': 'application/sdp', ...headers });
}

export function send(method: string, url: string, body: string | undefined, headers: Record<string, string> = {}): Promise<WhepResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      res.on('error', reject);
    });
    req.setTimeout(15_000, () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

type Emitter = { emit(signal: string, ...args: unknown[]): unknown };

export class WhepClient {
  readonly #pipeline: InstanceType<typeof Gst.Pipeline>;
  readonly #webrtc: InstanceType<typeof Gst.Element>;
  readonly #sink: InstanceType<typeof GstApp.AppSink>;
  readonly #audioSink: InstanceType<typeof GstApp.AppSink> | undefined;
  /** Decoded audio buffers. */
  audioBuffers = 0;
  readonly #timer: NodeJS.Timeout;
  /** performance.now() of each decoded frame. */
  readonly frameTimes: number[] = [];
  width = 0;
  height = 0;
  postedAt = 0;
  response: WhepResponse | undefined;
  #closed = false;

  constructor(options: { audio?: boolean } = {}) {
    // Its boxed types (session descriptions) must be known before a promise's reply is read.
    if (!loadGstWebRtc()) throw new Error('GstWebRTC typelib missing (gir1.2-gst-plugins-bad-1.0)');
    const audio = options.audio ? ' rtpopusdepay name=adepay ! opusdec ! appsink name=aout sync=false async=false max-buffers=500 drop=true' : '';
    const pipeline = Gst.parseLaunch(
      'webrtcbin name=w bundle-policy=max-bundle latency=0 rtph264depay name=vdepay ! avdec_h264 output-corrupt=false ! videoconvert ! video/x-raw,format=I420 ! appsink name=out sync=false async=false max-buffers=200 drop=true' +
        audio,
    );
    if (!(pipeline instanceof Gst.Pipeline)) throw new Error('no pipeline');
    this.#pipeline = pipeline;
    this.#webrtc = pipeline.getByName('w')!;
    const sink = pipeline.getByName('out');
    if (!(sink instanceof GstApp.AppSink)) throw new Error('no appsink');
    this.#sink = sink;
    const audioSink = pipeline.getByName('aout');
    this.#audioSink = audioSink instanceof GstApp.AppSink ? audioSink : undefined;
    const w = this.#webrtc as unknown as Emitter & { connect(signal: string, handler: (pad: InstanceType<typeof Gst.Pad>) => void): number };
    // A test client may run JavaScript on webrtcbin's streaming thread once per track: each
    // new pad goes to the depayloader of its media (gst_parse's delayed links would take the
    // first pad for either, before its caps are known).
    w.connect('pad-added', (pad) => {
      const media = pad.getCurrentCaps()?.getStructure(0)?.getString('media');
      const depay = pipeline.getByName(media === 'audio' ? 'adepay' : 'vdepay');
      const sinkPad = depay?.getStaticPad('sink');
      if (sinkPad && !sinkPad.isLinked()) pad.link(sinkPad);
    });
    w.emit('add-transceiver', RECVONLY, Gst.Caps.fromString('application/x-rtp,media=video,encoding-name=H264,payload=102,clock-rate=90000,packetization-mode=(string)1,profile-level-id=(string)42e01f'));
    if (options.audio) w.emit('add-transceiver', RECVONLY, Gst.Caps.fromString('application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000,encoding-params=(string)2'));
    pipeline.setState(Gst.State.PLAYING);
    this.#timer = setInterval(() => this.#pull(), 5);
  }

  /** The offer with every candidate. */
  async offer(): Promise<string> {
    const w = this.#webrtc as unknown as Emitter;
    const promise = Gst.Promise.new();
    w.emit('create-offer', Gst.Structure.newEmpty('offer-options'), promise);
    promise.wait();
    let offer = promise.getReply()?.getValue('offer') as unknown;
    if (offer && typeof (offer as { getBoxed?: unknown }).getBoxed === 'function') offer = (offer as { getBoxed(): unknown }).getBoxed();
    if (!offer) throw new Error('webrtcbin made no offer');
    w.emit('set-local-description', offer, Gst.Promise.new());
    const deadline = performance.now() + 5000;
    const w2 = this.#webrtc as unknown as { iceGatheringState: number; localDescription: { sdp: InstanceType<typeof GstSdp.SDPMessage> } | null };
    while (w2.iceGatheringState !== GATHERING_COMPLETE && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const local = w2.localDescription;
    if (!local) throw new Error('no local description');
    return local.sdp.asText();
  }

  /** POSTs the offer; on 201 sets the answer. */
  async connect(url: string, headers: Record<string, string> = {}): Promise<WhepResponse> {
    const offer = await this.offer();
    this.postedAt = performance.now();
    const response = await post(url, offer, headers);
    this.response = response;
    if (response.status === 201) this.setAnswer(response.text);
    return response;
  }

  setAnswer(text: string): void {
    const gi = loadGstWebRtc();
    if (!gi) throw new Error('GstWebRTC typelib missing');
    const [result, message] = GstSdp.SDPMessage.newFromText(text);
    if (result !== GstSdp.SDPResult.OK) throw new Error('bad answer SDP');
    const answer = gi.WebRTCSessionDescription.new(gi.WebRTCSDPType.ANSWER, message);
    (this.#webrtc as unknown as Emitter).emit('set-remote-description', answer, Gst.Promise.new());
  }

  get frames(): number {
    return this.frameTimes.length;
  }

  /** Milliseconds from the POST to the first decoded frame. */
  get firstFrameMs(): number | undefined {
    const first = this.frameTimes[0];
    return first === undefined ? undefined : first - this.postedAt;
  }

  #pull(): void {
    while (this.#audioSink?.tryPullSample(0)) this.audioBuffers++;
    for (;;) {
      const sample = this.#sink.tryPullSample(0);
      if (!sample) return;
      this.frameTimes.push(performance.now());
      if (this.width === 0) {
        const s = sample.getCaps()?.getStructure(0);
        this.width = s?.getInt('width')[1] ?? 0;
        this.height = s?.getInt('height')[1] ?? 0;
      }
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#pipeline.setState(Gst.State.NULL);
  }
}

/** Waits until `condition()` holds, polling. */
export async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
