import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCli } from '../../src/config/cli';
import { ConfigError, defaultConfig } from '../../src/config/config';

void test('with no flags every option has its documented default', () => {
  assert.deepEqual(parseCli([], {}), defaultConfig);
  assert.equal(defaultConfig.httpPort, 8080);
  assert.equal(defaultConfig.rtspPort, 8554);
  assert.equal(defaultConfig.graceMs, 5000);
});

void test('flags and environment variables set options, flags winning', () => {
  const config = parseCli(['--http-port', '9000', '--demo'], { PUSHGATE_HTTP_PORT: '7000', PUSHGATE_RTSP_PORT: '9554', PUSHGATE_GRACE_PERIOD_MS: '100' });
  assert.equal(config.httpPort, 9000);
  assert.equal(config.rtspPort, 9554);
  assert.equal(config.graceMs, 100);
  assert.equal(config.demo, true);
});

void test('a bad value is refused with a message naming the option and what was expected', () => {
  assert.throws(() => parseCli(['--http-port', 'abc'], {}), (err: unknown) => err instanceof ConfigError && /--http-port.*PUSHGATE_HTTP_PORT.*integer from 0 to 65535/.test(err.message));
  assert.throws(() => parseCli([], { PUSHGATE_LOG_LEVEL: 'loud' }), (err: unknown) => err instanceof ConfigError && /--log-level.*loud/.test(err.message));
  assert.throws(() => parseCli([], { PUSHGATE_DEMO: 'maybe' }), (err: unknown) => err instanceof ConfigError && /--demo/.test(err.message));
});

void test('--native-ingest is on by default and takes on/off', () => {
  assert.equal(defaultConfig.nativeIngest, true);
  assert.equal(parseCli(['--native-ingest', 'off'], {}).nativeIngest, false);
  assert.equal(parseCli([], { PUSHGATE_NATIVE_INGEST: 'no' }).nativeIngest, false);
  assert.throws(() => parseCli(['--native-ingest', 'maybe'], {}), (err: unknown) => err instanceof ConfigError && /--native-ingest/.test(err.message));
});

void test('--fast-start takes always (or on), watched or off', () => {
  assert.equal(defaultConfig.fastStart, 'always');
  assert.equal(parseCli(['--fast-start', 'on'], {}).fastStart, 'always');
  assert.equal(parseCli(['--fast-start', 'watched'], {}).fastStart, 'watched');
  assert.equal(parseCli([], { PUSHGATE_FAST_START: 'false' }).fastStart, 'off');
  assert.throws(() => parseCli(['--fast-start', 'sometimes'], {}), (err: unknown) => err instanceof ConfigError && /--fast-start.*always, watched, off.*sometimes/.test(err.message));
});
