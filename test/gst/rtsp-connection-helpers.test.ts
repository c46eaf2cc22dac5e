// Real GStreamer, in process: the native elements that serve the RTSP server beside pgsessions
// (pgconnectionlimit, pgrtsptls, pgmountkey, pgmediawatch) load from native/build; without
// them pushgate goes on and a warning names what is lost.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConnectionLimit } from '../../src/gst/connection-limit';
import { MediaWatch } from '../../src/gst/media-watch';
import { MountKey } from '../../src/gst/mount-key';
import { TlsConnections } from '../../src/gst/rtsp-tls';
import { Gst, GstRtspServer } from '../../src/gst/runtime';
import { recordingLogger, type Logged } from './helpers/recording-logger';

const warningsIn = (lines: readonly Logged[]): string[] => lines.filter((l) => l.level === 'warn').map((l) => l.msg ?? '');

void test('pgconnectionlimit attaches to a server with no connections counted or refused', () => {
  const lines: Logged[] = [];
  const limit = ConnectionLimit.attach([new GstRtspServer.RTSPServer()], { total: 10, perAddress: 2 }, recordingLogger(lines));
  assert.ok(limit, `the plugin did not load (run scripts/build-native.sh): ${warningsIn(lines).join('; ')}`);
  assert.equal(limit.open, 0);
  assert.equal(limit.refused, 0);
  assert.deepEqual(warningsIn(lines), []);
});

void test('without pgconnectionlimit, RTSP connections are not limited and a warning says so', () => {
  const lines: Logged[] = [];
  // The plugin is built here, so a factory name nobody registered stands for a missing plugin.
  assert.equal(ConnectionLimit.attach([new GstRtspServer.RTSPServer()], { total: 10, perAddress: 2 }, recordingLogger(lines), 'pgconnectionlimit-not-built'), undefined);
  assert.equal(warningsIn(lines).length, 1);
  assert.match(warningsIn(lines)[0]!, /pgconnectionlimit-not-built.*build-native\.sh.*not limited/);
});

void test('pgrtsptls attaches to a server and detaches idempotently; without it a warning says RTSPS connections get no certificate', () => {
  const lines: Logged[] = [];
  const tls = TlsConnections.attach([new GstRtspServer.RTSPServer()], recordingLogger(lines));
  assert.ok(tls);
  tls.close();
  tls.close();
  assert.deepEqual(warningsIn(lines), []);
  assert.equal(TlsConnections.attach([new GstRtspServer.RTSPServer()], recordingLogger(lines), 'pgrtsptls-not-built'), undefined);
  assert.match(warningsIn(lines)[0]!, /pgrtsptls-not-built.*build-native\.sh.*no certificate/);
});

void test('pgmountkey keys a factory by mount; without it the factory keeps its own key and a warning says so', () => {
  const lines: Logged[] = [];
  MountKey.create(recordingLogger(lines)).apply(new GstRtspServer.RTSPMediaFactory());
  assert.deepEqual(warningsIn(lines), []);
  MountKey.create(recordingLogger(lines), 'pgmountkey-not-built').apply(new GstRtspServer.RTSPMediaFactory());
  assert.match(warningsIn(lines)[0]!, /pgmountkey-not-built.*build-native\.sh.*keyed in JavaScript/);
});

void test('pgmediawatch tells a watched media that was never prepared is not unprepared; without it, that cannot be told', () => {
  const lines: Logged[] = [];
  const media = GstRtspServer.RTSPMedia.new(Gst.Bin.new('bin-watch'));
  const watch = MediaWatch.create(recordingLogger(lines));
  watch.watch(media);
  assert.equal(watch.isUnprepared(media), false);
  assert.deepEqual(warningsIn(lines), []);
  const blind = MediaWatch.create(recordingLogger(lines), 'pgmediawatch-not-built');
  blind.watch(media);
  assert.equal(blind.isUnprepared(media), undefined);
  assert.match(warningsIn(lines)[0]!, /pgmediawatch-not-built.*build-native\.sh.*not followed/);
});
