// Real GStreamer, in process: the native pgsessions element loads from native/build and answers
// for an RTSP server; without it pushgate handles sessions through introspection and says what
// that costs. (Counting and closing real readers is covered end to end: api, media-release.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { attachRtspSessions } from '../../src/gst/rtsp-sessions';
import { GstRtspServer } from '../../src/gst/runtime';
import { recordingLogger, type Logged } from './helpers/recording-logger';

const warningsIn = (lines: readonly Logged[]): string[] => lines.filter((l) => l.level === 'warn').map((l) => l.msg ?? '');

for (const factory of ['pgsessions', 'pgsessions-not-built']) {
  void test(`${factory}: a server without readers has no sessions to count or close`, () => {
    const lines: Logged[] = [];
    const sessions = attachRtspSessions([new GstRtspServer.RTSPServer()], 30, recordingLogger(lines), factory);
    assert.equal(sessions.count('bin-1-'), 0);
    sessions.close('bin-1-');
    assert.equal(sessions.count('bin-1-'), 0);
    const warnings = warningsIn(lines);
    if (factory === 'pgsessions') {
      assert.deepEqual(warnings, [], 'the plugin did not load (run scripts/build-native.sh)');
    } else {
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /pgsessions-not-built.*build-native\.sh.*release their RTSP media late/);
    }
  });
}

for (const factory of ['pgsessions', 'pgsessions-not-built']) {
  void test(`${factory}: reap() removes the sessions whose timeout has passed, and only those`, async () => {
    const server = new GstRtspServer.RTSPServer();
    const pool = server.getSessionPool()!;
    const sessions = attachRtspSessions([server], 30, recordingLogger([]), factory);
    const expiring = pool.create()!;
    expiring.setTimeout(1);
    expiring.extraTimeout = 0;
    const lasting = pool.create()!;
    lasting.setTimeout(60);
    assert.equal(sessions.reap(), 0);
    await sleep(1200);
    assert.equal(sessions.reap(), 1);
    assert.equal(pool.getNSessions(), 1);
    assert.equal(pool.find(lasting.getSessionid()!)?.getSessionid(), lasting.getSessionid());
  });
}
