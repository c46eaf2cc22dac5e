import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_ACCESS } from '../../src/auth/access-config';
import { hashSha256 } from '../../src/auth/secrets';
import { ReloadableAuthorizer } from '../../src/auth/reloadable-authorizer';
import { defaultConfig } from '../../src/config/config';
import { appliedConfig, planReload } from '../../src/config/reload';

const running = { config: defaultConfig, access: DEFAULT_ACCESS };

void test('a reload plan sorts changed options into live and restart, and notices access and realm changes', () => {
  assert.deepEqual(planReload(running, running), { live: [], needRestart: [], access: false, realmNeedsRestart: false });
  const next = {
    config: { ...defaultConfig, maxReaders: 5, maxStreams: 7, rtspPort: 1, fastStart: 'off' as const },
    access: { ...DEFAULT_ACCESS, realm: 'other', users: [] },
  };
  assert.deepEqual(planReload(running, next), { live: ['maxStreams', 'maxReaders'], needRestart: ['rtspPort', 'fastStart'], access: true, realmNeedsRestart: true });
  const applied = appliedConfig(defaultConfig, next.config);
  assert.equal(applied.maxReaders, 5);
  assert.equal(applied.maxStreams, 7);
  assert.equal(applied.rtspPort, defaultConfig.rtspPort, 'a restart option keeps its running value');
  assert.equal(applied.fastStart, defaultConfig.fastStart);
});

void test('a reloadable authorizer decides with the access it was last given, keeps its realm', () => {
  const alice = { name: 'alice', password: hashSha256('pw'), permissions: [{ action: 'publish' as const, streams: ['*'] }] };
  const authorizer = new ReloadableAuthorizer({ realm: 'gate', users: [] });
  const request = { credentials: { kind: 'basic' as const, user: 'alice', password: 'pw' }, ip: '127.0.0.1', protocol: 'http' as const, action: 'publish' as const, stream: 'cam' };
  assert.equal(authorizer.decideSync(request).result, 'unauthorized');
  authorizer.replace({ realm: 'changed', users: [alice] });
  assert.equal(authorizer.decideSync(request).result, 'allow');
  assert.equal(authorizer.realm, 'gate');
  assert.equal(authorizer.policy?.realm, 'gate');
  authorizer.close();
});
