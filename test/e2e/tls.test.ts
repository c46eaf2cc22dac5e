// HTTPS and RTSPS with a test CA made at test time: real clients that verify the certificate
// (curl --cacert, ffmpeg -tls_verify, a Node TLS RTSP client), readers of both ports sharing one
// pipeline, plain ports that can be switched off, wrong protocols on the TLS ports, and files
// that keep pushgate from starting at all.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { FfmpegReader, GstReader, curlResult, ffmpegPublisher, json, request, type ErrorBody, type PushSummary, type StreamInfo } from './helpers/clients';
import { Gateway, MAIN, ROOT } from './helpers/gateway';
import { MediaDir } from './helpers/media';
import { Proc, run, stopAll, waitFor } from './helpers/processes';
import { RtspClient, accessUnits, controlUrl, parseSdp } from './helpers/rtsp-client';
import { makeTestPki, type TestPki } from './helpers/tls';
import { hashSha256 } from '../../src/auth/secrets';

let media: MediaDir;
let pki: TestPki;
let clip: string;
let tsClip: string;
/** The clip as a raw H.264 (Annex-B) file, for curl -T. */
let annexB: string;
const clients: RtspClient[] = [];

before(async () => {
  media = new MediaDir();
  [pki, clip, tsClip] = await Promise.all([
    makeTestPki(media.dir),
    media.clip({ file: 'cam.mkv', codec: 'h264', seconds: 20, width: 320, height: 240 }),
    media.clip({ file: 'short.ts', codec: 'h264', seconds: 2, width: 320, height: 240 }),
  ]);
  annexB = media.file('cam.h264');
  const convert = await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', '-i', clip, '-c:v', 'copy', '-an', '-f', 'h264', annexB], 20_000);
  if (convert.code !== 0) throw new Error(convert.stderr);
});

after(async () => {
  for (const client of clients) client.close();
  await stopAll();
  media?.remove();
});

const tlsArgs = (): string[] => ['--tls-cert', pki.serverCert, '--tls-key', pki.serverKey, '--https-port', '0', '--rtsps-port', '0'];

/** curl over HTTPS, trusting only the test CA. Returns the status and body. */
async function curlHttps(url: string, extra: readonly string[] = []): Promise<{ status: number; body: string; code: number | null; stderr: string }> {
  const result = await run('curl', ['-sS', '--cacert', pki.caCert, ...extra, '-w', '\n%{http_code}', url], 60_000);
  const lines = result.stdout.trimEnd().split('\n');
  const status = Number(lines.pop());
  return { status, body: lines.join('\n'), code: result.code, stderr: result.stderr };
}

async function streamOver(gateway: Gateway, name: string): Promise<StreamInfo | undefined> {
  const result = await curlHttps(`${gateway.https}/v1/streams/${name}`);
  return result.status === 200 ? (JSON.parse(result.body) as StreamInfo) : undefined;
}

/** `ffmpeg ... -method POST https://...` verifying the certificate against `ca`. */
function ffmpegHttpsPublisher(url: string, ca: string): Proc {
  return new Proc(`ffmpeg https publisher ${url}`, 'ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-stream_loop', '-1', '-i', clip,
    '-c:v', 'copy', '-an', '-f', 'h264', '-content_type', 'video/h264',
    '-tls_verify', '1', '-ca_file', ca, '-method', 'POST', url,
  ]);
}

/** The port of a listener opened and closed here: free, and nothing listens on it now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

function connectError(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code));
  });
}

async function tlsReader(gateway: Gateway, name: string, ca: string = pki.caCert, host = '127.0.0.1'): Promise<RtspClient> {
  const client = await RtspClient.connectTls(host, gateway.rtspsPort, readFileSync(ca));
  clients.push(client);
  await client.playAll(name);
  return client;
}

void describe('with TLS and the plain ports on', () => {
  let gateway: Gateway;

  before(async () => {
    gateway = await Gateway.start([...tlsArgs(), '--log-level', 'debug']);
  });

  after(async () => {
    if (gateway) await gateway.stop();
  });

  void test('the listening line names all four ports and the certificate', () => {
    assert.ok(gateway.httpPort > 0 && gateway.rtspPort > 0 && gateway.httpsPort > 0 && gateway.rtspsPort > 0);
    const line = gateway.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('pushgate listening'));
    assert.match(String(line?.msg), /https:\/\/.*rtsps:\/\//);
    assert.match(JSON.stringify(line?.tls), /127\.0\.0\.1/);
  });

  void test('curl --cacert reads the API over HTTPS, by IP and by name, and pushes a file with -T', async () => {
    const health = await curlHttps(`${gateway.https}/healthz`);
    assert.equal(health.status, 200, health.stderr);
    assert.equal(json<{ status: string }>({ status: health.status, text: health.body, headers: {}, elapsedMs: 0 }).status, 'ok');
    const byName = await curlHttps(`https://localhost:${gateway.httpsPort}/v1/streams`);
    assert.equal(byName.status, 200, byName.stderr);

    const push = await curlHttps(`${gateway.https}/push/curl-file`, ['-T', tsClip, '-H', 'Content-Type: video/mp2t']);
    assert.equal(push.status, 200, `${push.body} ${push.stderr}`);
    const summary = JSON.parse(push.body) as PushSummary;
    assert.equal(summary.stream, 'curl-file');
    assert.ok(summary.frames >= 50, `pushed ${summary.frames} frames`);
  });

  void test('a client that does not trust the CA is refused by the HTTPS port', async () => {
    const result = await run('curl', ['-sS', '--cacert', pki.otherCaCert, `${gateway.https}/healthz`], 20_000);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /certificate|SSL/i);
  });

  void test('ffmpeg pushes over HTTPS (verifying); readers on RTSP and RTSPS share one pipeline', async () => {
    ffmpegHttpsPublisher(`${gateway.https}/push/shared`, pki.caCert);
    await waitFor(async () => (await streamOver(gateway, 'shared'))?.state === 'live', 15_000, 'shared to go live over HTTPS');

    // The first reader (plain RTSP) builds the media; fast start logs its packets from then on.
    const plain = new FfmpegReader(gateway.rtspUrl('shared'), 'tcp');
    await plain.waitForFrames(30, 20_000);
    const secure = new FfmpegReader(gateway.rtspsUrl('shared'), 'tcp');
    const verified = await tlsReader(gateway, 'shared');
    await secure.waitForFrames(30, 20_000);
    await verified.waitForPackets((packets) => accessUnits(packets, 'h264').some((au) => au.keyframe), 10_000, 'a keyframe over verified RTSPS');

    // One media pipeline for all three readers, and all three counted.
    const built = gateway.streamLogs('shared').filter((l) => l.msg === 'building RTSP media pipeline');
    assert.equal(built.length, 1, JSON.stringify(built));
    await waitFor(async () => (await streamOver(gateway, 'shared'))?.readers === 3, 5000, 'three readers counted');

    // Fast start serves the RTSPS server too, from the log the plain reader's media keeps: both
    // RTSPS readers were primed.
    await waitFor(() => gateway.logs.some((l) => l.msg === 'fast start counters' && Number((l.fastStart as { primedJoins: number }).primedJoins) >= 2), 5000, 'primed joins in the fast start counters');

    // gst-launch over RTSPS (gst-launch cannot give rtspsrc a CA database: validation off).
    const gst = new GstReader(gateway.rtspsUrl('shared'), 'tcp', ['tls-validation-flags=0']);
    await gst.waitForFrames(30, 20_000);

    // ffprobe over RTSPS. (ffmpeg 5.1 does not pass -tls_verify on to an rtsps connection.)
    const probe = await run('ffprobe', ['-v', 'error', '-rtsp_transport', 'tcp', '-show_streams', '-of', 'json', gateway.rtspsUrl('shared')], 20_000);
    assert.equal(probe.code, 0, probe.stderr);
    assert.match(probe.stdout, /"codec_name": "h264"/);

    await Promise.all([plain.proc.stop(), secure.proc.stop(), gst.proc.stop()]);
    verified.close();
    await waitFor(async () => (await streamOver(gateway, 'shared'))?.readers === 0, 10_000, 'readers to be gone');
  });

  void test('RTSPS verifies: rtspsrc with the system CAs, or a client trusting another CA, is refused', async () => {
    ffmpegPublisher(clip, gateway.pushUrl('verify'), 'h264');
    await waitFor(async () => (await streamOver(gateway, 'verify'))?.state === 'live', 15_000, 'verify to go live');
    await assert.rejects(tlsReader(gateway, 'verify', pki.otherCaCert), /certificate/i);
    const gst = await run('gst-launch-1.0', ['-q', 'rtspsrc', `location=${gateway.rtspsUrl('verify')}`, '!', 'fakesink', 'num-buffers=10'], 20_000);
    assert.notEqual(gst.code, 0, 'rtspsrc accepted a certificate of an unknown CA');
  });

  void test('ffmpeg pushing over HTTPS with a CA it does not trust fails and creates no stream', async () => {
    const publisher = ffmpegHttpsPublisher(`${gateway.https}/push/untrusted`, pki.otherCaCert);
    const exit = await publisher.waitForExit(15_000);
    assert.notEqual(exit.code, 0);
    assert.equal(await streamOver(gateway, 'untrusted'), undefined);
  });

  void test('plain HTTP on the HTTPS port and plain RTSP on the RTSPS port fail cleanly; a reader goes on', async () => {
    ffmpegHttpsPublisher(`${gateway.https}/push/steady`, pki.caCert);
    await waitFor(async () => (await streamOver(gateway, 'steady'))?.state === 'live', 15_000, 'steady to go live');
    const reader = new FfmpegReader(gateway.rtspsUrl('steady'), 'tcp');
    await reader.waitForFrames(15, 20_000);

    await assert.rejects(request('GET', `http://127.0.0.1:${gateway.httpsPort}/healthz`, { timeoutMs: 5000 }));
    const plain = await RtspClient.connect('127.0.0.1', gateway.rtspsPort);
    clients.push(plain);
    await assert.rejects(plain.options('steady'));
    assert.ok(await plain.waitForClose(5000), 'the RTSPS port kept a plain RTSP connection open');
    // And the other way round: TLS on the plain port.
    await assert.rejects(RtspClient.connectTls('127.0.0.1', gateway.rtspPort, readFileSync(pki.caCert), 3000));

    await reader.waitForMoreFrames(30, 10_000);
    const health = await curlHttps(`${gateway.https}/healthz`);
    assert.equal(health.status, 200);
    await reader.proc.stop();
  });

  void test('RTSPS readers get media only inside the TLS connection: UDP and multicast SETUPs get 461, TCP plays; plain RTSP may use UDP', async () => {
    ffmpegHttpsPublisher(`${gateway.https}/push/tcp-only`, pki.caCert);
    await waitFor(async () => (await streamOver(gateway, 'tcp-only'))?.state === 'live', 15_000, 'tcp-only to go live');
    const setupWith = async (client: RtspClient, transport: string): Promise<number> => {
      const describe = await client.describe('tcp-only');
      assert.equal(describe.status, 200);
      const [video] = parseSdp(describe.body);
      const url = controlUrl(describe.headers['content-base'] ?? client.url('tcp-only'), video?.control);
      return (await client.request('SETUP', url, { Transport: transport })).status;
    };
    const secure = await RtspClient.connectTls('127.0.0.1', gateway.rtspsPort, readFileSync(pki.caCert));
    clients.push(secure);
    assert.equal(await setupWith(secure, 'RTP/AVP;unicast;client_port=40000-40001'), 461);
    assert.equal(await setupWith(secure, 'RTP/AVP/TCP;unicast;interleaved=0-1,RTP/AVP;unicast;client_port=40002-40003'), 461);
    assert.equal(await setupWith(secure, 'RTP/AVP;multicast'), 461);
    assert.equal(await setupWith(secure, 'RTP/AVP/TCP;unicast;interleaved=0-1'), 200);
    const plain = await RtspClient.connect('127.0.0.1', gateway.rtspPort);
    clients.push(plain);
    assert.equal(await setupWith(plain, 'RTP/AVP;multicast'), 461);
    assert.equal(await setupWith(plain, 'RTP/AVP;unicast;client_port=40004-40005'), 200);
  });

  void test('on SIGTERM an HTTPS push is answered 503 and pushgate exits 0', async () => {
    const longPush = new Proc('curl https push', 'curl', ['-sS', '--cacert', pki.caCert, '-T', annexB, '-H', 'Content-Type: video/h264', '-w', '\n%{http_code}', `${gateway.https}/push/to-stop`]);
    await waitFor(async () => (await streamOver(gateway, 'to-stop'))?.state === 'live', 15_000, 'to-stop to go live');
    const exit = await gateway.stop('SIGTERM');
    assert.equal(exit.code, 0);
    await longPush.waitForExit(10_000);
    const result = curlResult(longPush);
    assert.equal(result.status, 503, longPush.tail());
    assert.equal(json<ErrorBody>({ status: result.status, text: result.body, headers: {}, elapsedMs: 0 }).error.code, 'SHUTTING_DOWN');
  });
});

// With users, RTSP requests are checked by pushgate's own RTSPAuth, which replaces
// GstRTSPAuth's check, TLS set-up of new connections included: the native pgrtsptls element
// puts the certificate on each connection instead. Without it RTSPS readers get no handshake.
void describe('with TLS and users', () => {
  let gateway: Gateway;

  before(async () => {
    const config = media.file('users.yaml');
    writeFileSync(config, [
      'users:',
      '  - name: carol',
      `    password: "${hashSha256('carol-pw')}"`,
      '    permissions:',
      '      - {action: publish, streams: ["secure/*"]}',
      '      - {action: read, streams: ["secure/*"]}',
      '',
    ].join('\n'));
    gateway = await Gateway.start([...tlsArgs(), '--config', config]);
  });

  after(async () => {
    if (gateway) await gateway.stop();
  });

  void test('an RTSPS reader with the right password plays; without credentials it gets 401 over TLS', async () => {
    const push = new Proc('curl https push', 'curl', ['-sS', '--cacert', pki.caCert, '-u', 'carol:carol-pw', '-T', annexB, '-H', 'Content-Type: video/h264', `${gateway.https}/push/secure/cam`]);
    await waitFor(async () => (await request('GET', `${gateway.http}/healthz`)).text.includes('"streams":1'), 15_000, 'secure/cam to go live');
    // Verified TLS (the test CA), then refused for want of credentials.
    const anonymous = await RtspClient.connectTls('127.0.0.1', gateway.rtspsPort, readFileSync(pki.caCert));
    clients.push(anonymous);
    const refused = await anonymous.describe('secure/cam');
    assert.equal(refused.status, 401);
    assert.match(refused.headers['www-authenticate'] ?? '', /^Basic realm=/);
    const probe = await run('ffprobe', ['-v', 'error', '-rtsp_transport', 'tcp', '-show_streams', '-of', 'json', `rtsps://carol:carol-pw@127.0.0.1:${gateway.rtspsPort}/secure/cam`], 20_000);
    assert.equal(probe.code, 0, probe.stderr);
    assert.match(probe.stdout, /"codec_name": "h264"/);
    push.kill('SIGKILL');
  });
});

void describe('with TLS and the plain ports off', () => {
  let gateway: Gateway;
  let httpPort: number;
  let rtspPort: number;

  before(async () => {
    [httpPort, rtspPort] = await Promise.all([freePort(), freePort()]);
    gateway = await Gateway.start([...tlsArgs(), '--http-port', String(httpPort), '--rtsp-port', String(rtspPort), '--plain-http', 'off', '--plain-rtsp', 'off']);
  });

  after(async () => {
    if (gateway) await gateway.stop();
  });

  void test('the plain ports refuse connections; pushing over HTTPS and reading over RTSPS work', async () => {
    assert.equal(gateway.httpPort, 0);
    assert.equal(gateway.rtspPort, 0);
    assert.equal(await connectError(httpPort), 'ECONNREFUSED');
    assert.equal(await connectError(rtspPort), 'ECONNREFUSED');
    ffmpegHttpsPublisher(`${gateway.https}/push/only-tls`, pki.caCert);
    await waitFor(async () => (await streamOver(gateway, 'only-tls'))?.state === 'live', 15_000, 'only-tls to go live over HTTPS');
    const reader = await tlsReader(gateway, 'only-tls');
    await reader.waitForPackets((packets) => accessUnits(packets, 'h264').length >= 10, 10_000, 'ten frames over RTSPS');
  });
});

void describe('TLS files that cannot work stop pushgate before it listens', () => {
  /** Runs the CLI with `args`; it must exit by itself. */
  async function startFails(args: readonly string[]): Promise<{ code: number | null; stderr: string; stdout: string }> {
    const result = await run(process.execPath, [MAIN, '--http-port', '0', '--rtsp-port', '0', '--https-port', '0', '--rtsps-port', '0', ...args], 20_000, { cwd: ROOT });
    assert.doesNotMatch(result.stdout, /pushgate listening/);
    return result;
  }

  void test('a missing certificate, a key of another certificate, a non-PEM file, half the pair, plain off without TLS, the demo without plain HTTP', async () => {
    const [missing, mismatch, garbage, halfPair, plainOff, demo] = await Promise.all([
      startFails(['--tls-cert', media.file('nope.pem'), '--tls-key', pki.serverKey]),
      startFails(['--tls-cert', pki.serverCert, '--tls-key', pki.otherKey]),
      startFails(['--tls-cert', clip, '--tls-key', pki.serverKey]),
      startFails(['--tls-cert', pki.serverCert]),
      startFails(['--plain-rtsp', 'off']),
      startFails(['--tls-cert', pki.serverCert, '--tls-key', pki.serverKey, '--plain-http', 'off', '--demo']),
    ]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--tls-cert.*nope\.pem.*no such file/);
    assert.equal(mismatch.code, 2);
    assert.match(mismatch.stderr, /--tls-key .* does not belong to the certificate/);
    assert.equal(garbage.code, 2);
    assert.match(garbage.stderr, /--tls-cert.*not a PEM/);
    assert.equal(halfPair.code, 2);
    assert.match(halfPair.stderr, /--tls-cert .* is set but --tls-key/);
    assert.equal(plainOff.code, 2);
    assert.match(plainOff.stderr, /--plain-rtsp off .* needs --tls-cert/);
    assert.equal(demo.code, 2);
    assert.match(demo.stderr, /--demo .* --plain-http off/);
  });
});
