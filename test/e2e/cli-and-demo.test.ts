// The command line: --help, bad option values, and --demo (a test pattern published as "demo").
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { FfmpegReader, ffprobe, getStream } from './helpers/clients';
import { Gateway, MAIN, ROOT } from './helpers/gateway';
import { run, stopAll, waitFor } from './helpers/processes';

const gateways: Gateway[] = [];

after(async () => {
  for (const gateway of gateways) await gateway.stop().catch(() => {});
  await stopAll();
});

function pushgate(args: readonly string[], env: NodeJS.ProcessEnv = {}): ReturnType<typeof run> {
  return run(process.execPath, [MAIN, ...args], 15_000, { cwd: ROOT, env: { ...process.env, ...env } });
}

void test('--help explains every option with its environment variable and default, and exits 0', async () => {
  const result = await pushgate(['--help']);
  assert.equal(result.code, 0, result.stderr);
  for (const option of ['--host', '--http-port', '--rtsp-port', '--grace-period', '--idle-timeout', '--session-timeout', '--rtsp-threads', '--demo', '--log-level']) {
    assert.ok(result.stdout.includes(option), `--help does not mention ${option}:\n${result.stdout}`);
  }
  for (const env of ['PUSHGATE_HTTP_PORT', 'PUSHGATE_RTSP_PORT', 'PUSHGATE_GRACE_PERIOD_MS', 'PUSHGATE_IDLE_TIMEOUT_MS']) {
    assert.ok(result.stdout.includes(env), `--help does not mention ${env}`);
  }
  assert.match(result.stdout, /8080/);
  assert.match(result.stdout, /8554/);
});

void test('a bad option value exits non-zero with a message naming the option', async () => {
  const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
    [['--http-port', 'abc'], {}, /--http-port/],
    [['--rtsp-port', '70000'], {}, /--rtsp-port/],
    [['--grace-period', '-5'], {}, /--grace-period/],
    [['--log-level', 'loud'], {}, /--log-level/],
    [[], { PUSHGATE_IDLE_TIMEOUT_MS: 'soon' }, /--idle-timeout|PUSHGATE_IDLE_TIMEOUT_MS/],
    [['--no-such-option'], {}, /--no-such-option/],
  ];
  for (const [args, env, message] of cases) {
    const result = await pushgate(args, env);
    const what = `pushgate ${args.join(' ')} ${JSON.stringify(env)}`;
    assert.ok(result.code !== 0 && result.code !== null, `${what} exited ${result.code}`);
    assert.match(result.stderr, message, `${what}: ${result.stderr}`);
    assert.ok(!/pushgate listening/.test(result.stdout), `${what} started anyway`);
  }
});

void test('--demo publishes a 1280x720 H.264 test pattern as "demo", with GStreamer state changes in the debug log', async () => {
  const gateway = await Gateway.start(['--demo', '--log-level', 'debug']);
  gateways.push(gateway);
  await waitFor(async () => (await getStream(gateway.http, 'demo'))?.state === 'live', 10_000, 'demo to go live');
  const url = `rtsp://localhost:${gateway.rtspPort}/demo`;
  const probe = await ffprobe(url);
  assert.equal(probe.code, 0, probe.stderr);
  assert.deepEqual(probe.streams.map((s) => [s.codec_name, s.width, s.height]), [['h264', 1280, 720]]);
  const reader = new FfmpegReader(url, 'tcp');
  await reader.waitForFrames(30, 10_000);
  await reader.proc.stop();

  const stateChanges = gateway.logs.filter((l) => l.stream === 'demo' && l.level === 20 && /state/i.test(String(l.msg)));
  assert.ok(stateChanges.length > 0, `no debug line about a GStreamer state change of the demo:\n${gateway.logTail(40)}`);
  assert.ok(
    stateChanges.some((l) => l.to === 'PLAYING' && l.element === 'demo-publisher'),
    `no state change of the demo publisher to PLAYING in ${JSON.stringify(stateChanges)}`,
  );
  // The RTSP media pipeline too: gst-rtsp-server watches its bus on its own thread, and the
  // native relay brings its messages to the log with the stream's name.
  await waitFor(
    () => gateway.logs.some((l) => l.stream === 'demo' && l.msg === 'GStreamer state changed' && l.element !== 'demo-publisher' && l.to === 'PLAYING'),
    3000,
    'a debug line about the RTSP media pipeline of "demo" going to PLAYING',
  );
  const exit = await gateway.stop();
  assert.equal(exit.code, 0);
});
