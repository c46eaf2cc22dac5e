import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_ACCESS, type AccessConfig } from '../../src/auth/access-config';
import { AccessPolicy, streamPattern, type AccessRequest, type Credentials } from '../../src/auth/access-policy';
import { parseAuthorization } from '../../src/auth/http-credentials';
import { NetworkList } from '../../src/auth/networks';
import { digestHa1, hashPasswordBcrypt, hashSha256, verifyPassword } from '../../src/auth/secrets';

const none: Credentials = { kind: 'none' };
const ask = (policy: AccessPolicy, r: Partial<AccessRequest>): string =>
  policy.decide({ credentials: none, ip: '127.0.0.1', action: 'read', stream: 'cam1', ...r }).result;

void test('defaults: anyone reads, publish from loopback and private networks, API from loopback only', () => {
  const policy = new AccessPolicy(DEFAULT_ACCESS);
  assert.equal(ask(policy, { ip: '203.0.113.9' }), 'allow');
  for (const ip of ['127.0.0.1', '10.1.2.3', '172.20.0.1', '192.168.1.5', '::1', 'fd12::1', '::ffff:192.168.0.1']) {
    assert.equal(ask(policy, { ip, action: 'publish' }), 'allow', ip);
  }
  for (const ip of ['203.0.113.9', '172.32.0.1', '2001:db8::1', '::ffff:8.8.8.8']) assert.equal(ask(policy, { ip, action: 'publish' }), 'unauthorized', ip);
  assert.equal(ask(policy, { ip: '127.0.0.1', action: 'api' }), 'allow');
  assert.equal(ask(policy, { ip: '10.0.0.1', action: 'api' }), 'unauthorized');
});

const ALICE_PASSWORD = 'correct horse';
const config: AccessConfig = {
  realm: 'pushgate',
  users: [
    { name: 'alice', password: hashPasswordBcrypt(ALICE_PASSWORD, 4), tokens: [hashSha256('tok-alice')], permissions: [{ action: 'publish', streams: ['site1/*'] }, { action: 'read', streams: ['*'] }] },
    { name: 'bob', password: hashSha256('bobpw'), digestPlainPassword: 'bobpw', networks: ['10.0.0.0/8'], permissions: [{ action: 'read', streams: ['*'] }, { action: 'api', streams: ['*'] }] },
    { name: 'anonymous', permissions: [{ action: 'read', streams: ['public/*'] }] },
  ],
};

void test('users: right credentials and permission allow; wrong ones are 401; no permission or wrong network is 403', () => {
  const policy = new AccessPolicy(config);
  const alice: Credentials = { kind: 'basic', user: 'alice', password: ALICE_PASSWORD };
  assert.equal(ask(policy, { credentials: alice, action: 'publish', stream: 'site1/cam1' }), 'allow');
  assert.equal(ask(policy, { credentials: alice, action: 'publish', stream: 'site2/cam1' }), 'forbidden');
  assert.equal(ask(policy, { credentials: alice, action: 'api', stream: '*' }), 'forbidden');
  assert.equal(ask(policy, { credentials: { kind: 'basic', user: 'alice', password: 'nope' }, action: 'publish', stream: 'site1/cam1' }), 'unauthorized');
  assert.equal(ask(policy, { credentials: { kind: 'basic', user: 'mallory', password: 'x' } }), 'unauthorized');
  assert.equal(ask(policy, { credentials: { kind: 'bearer', token: 'tok-alice' }, action: 'publish', stream: 'site1/x' }), 'allow');
  assert.equal(ask(policy, { credentials: { kind: 'bearer', token: 'tok-alic' }, action: 'publish', stream: 'site1/x' }), 'unauthorized');
  assert.equal(ask(policy, { credentials: { kind: 'invalid' } }), 'unauthorized');
  // bob only from 10/8
  const bob: Credentials = { kind: 'basic', user: 'bob', password: 'bobpw' };
  assert.equal(ask(policy, { credentials: bob, ip: '10.9.9.9', action: 'api', stream: '*' }), 'allow');
  const denied = policy.decide({ credentials: bob, ip: '127.0.0.1', action: 'read', stream: 'cam1' });
  assert.equal(denied.result, 'forbidden');
  assert.match(denied.result === 'forbidden' ? denied.reason : '', /may not connect from 127\.0\.0\.1/);
  // anonymous entry: public/* only, and nothing that is not configured
  assert.equal(ask(policy, { stream: 'public/a' }), 'allow');
  assert.equal(ask(policy, { stream: 'cam1' }), 'unauthorized');
  assert.equal(ask(policy, { action: 'publish', stream: 'public/a' }), 'unauthorized');
});

void test('digest: HA1 from the plain digest password or given; only users configured for it', () => {
  const policy = new AccessPolicy(config);
  assert.equal(policy.digestHa1('bob'), digestHa1('bob', 'pushgate', 'bobpw'));
  assert.equal(policy.digestHa1('alice'), undefined);
  assert.equal(policy.digestHa1('anonymous'), undefined);
  assert.equal(policy.hasDigestUsers, true);
  assert.equal(ask(policy, { credentials: { kind: 'digest', user: 'bob' }, ip: '10.0.0.1' }), 'allow');
});

void test('stream patterns: * is any run of characters, the rest literal', () => {
  assert.ok(streamPattern('site1/*').test('site1/cam1'));
  assert.ok(streamPattern('site1/*').test('site1/a/b'));
  assert.ok(!streamPattern('site1/*').test('site10/cam1'));
  assert.ok(!streamPattern('cam.1').test('camX1'));
  assert.ok(streamPattern('*').test('anything/at/all'));
});

void test('secrets: sha256 and bcrypt forms verify; networks parse IPv4 and IPv6', () => {
  assert.ok(verifyPassword(hashSha256('pw'), 'pw'));
  assert.ok(!verifyPassword(hashSha256('pw'), 'pw2'));
  const bcrypt = hashPasswordBcrypt('pw', 4);
  assert.ok(verifyPassword(bcrypt, 'pw'));
  assert.ok(verifyPassword(bcrypt, 'pw'), 'cached');
  assert.ok(!verifyPassword(bcrypt, 'px'));
  const nets = new NetworkList(['10.0.0.0/8', 'fc00::/7', '192.0.2.7']);
  assert.ok(nets.has('10.255.0.1') && nets.has('fd00::5') && nets.has('192.0.2.7') && nets.has('::ffff:10.0.0.1'));
  assert.ok(!nets.has('11.0.0.1') && !nets.has('::1') && !nets.has('192.0.2.8') && !nets.has('garbage'));
});

void test('Authorization headers: Basic, Bearer, none, and anything else is invalid', () => {
  assert.deepEqual(parseAuthorization(undefined), { kind: 'none' });
  assert.deepEqual(parseAuthorization(`Basic ${Buffer.from('u:p:q').toString('base64')}`), { kind: 'basic', user: 'u', password: 'p:q' });
  assert.deepEqual(parseAuthorization('Bearer abc.def'), { kind: 'bearer', token: 'abc.def' });
  assert.deepEqual(parseAuthorization('Basic bm9jb2xvbg=='), { kind: 'invalid' });
  assert.deepEqual(parseAuthorization('Negotiate xyz'), { kind: 'invalid' });
});
