import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { DEFAULT_ACCESS } from '../../src/auth/access-config';
import { parseSettings } from '../../src/config/cli';
import { ConfigError, OPTIONS, defaultConfig } from '../../src/config/config';
import { parseConfigText } from '../../src/config/config-file';

const dir = mkdtempSync(path.join(tmpdir(), 'pushgate-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const at = path.join(dir, name);
  writeFileSync(at, text);
  return at;
}

const SHA = `sha256:${'a'.repeat(64)}`;

function refused(text: string, pattern: RegExp): void {
  assert.throws(() => parseConfigText(text, 'test.yaml'), (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.match(err.message, pattern);
    return true;
  });
}

void test('every option of the OPTIONS table is a key of the file, checked by its own parser', () => {
  const values: Record<string, string> = { host: '127.0.0.1', httpPort: '9000', rtspPort: '9554', graceMs: '100', idleTimeoutMs: '2000', sessionTimeoutS: '5', rtspThreads: '4', demo: 'true', fastStart: 'false', nativeIngest: 'off', logLevel: 'debug',
    maxStreams: '7', maxPublishersPerAddress: '3', maxReadersPerStream: '9', maxReaders: '11', maxHeaderBytes: '4096', headerTimeoutMs: '3000', maxConnections: '500', maxRtspConnectionsPerAddress: '50',
    tlsCert: '/etc/pg/cert.pem', tlsKey: '/etc/pg/key.pem', httpsPort: '9443', rtspsPort: '9322', plainHttp: 'false', plainRtsp: 'true', drainMs: '30000',
    webrtc: 'off', maxWebrtcWatchersPerStream: '5', maxWebrtcWatchers: '20', webrtcStunServer: 'stun://stun.example.net:3478', webrtcTurnServer: 'turn://u:p@turn.example.net:3478', webrtcIceGatherTimeoutMs: '1500' };
  for (const spec of OPTIONS) assert.ok(spec.key in values, `test lacks a value for ${spec.key}`);
  const yaml = Object.entries(values).map(([k, v]) => `${k}: ${v}`).join('\n');
  const settings = parseSettings(['--config', file('all.yaml', yaml)], {});
  assert.deepEqual(settings.config, {
    host: '127.0.0.1', httpPort: 9000, rtspPort: 9554, graceMs: 100, idleTimeoutMs: 2000, sessionTimeoutS: 5, rtspThreads: 4, demo: true, fastStart: 'off', nativeIngest: false, logLevel: 'debug',
    maxStreams: 7, maxPublishersPerAddress: 3, maxReadersPerStream: 9, maxReaders: 11, maxHeaderBytes: 4096, headerTimeoutMs: 3000, maxConnections: 500, maxRtspConnectionsPerAddress: 50,
    tlsCert: '/etc/pg/cert.pem', tlsKey: '/etc/pg/key.pem', httpsPort: 9443, rtspsPort: 9322, plainHttp: false, plainRtsp: true, drainMs: 30000,
    webrtc: false, maxWebrtcWatchersPerStream: 5, maxWebrtcWatchers: 20, webrtcStunServer: 'stun://stun.example.net:3478', webrtcTurnServer: 'turn://u:p@turn.example.net:3478', webrtcIceGatherTimeoutMs: 1500,
  });
});

void test('precedence is flag > environment > file > default, and PUSHGATE_CONFIG names the file', () => {
  const at = file('prec.yaml', 'httpPort: 9001\nrtspPort: 9555\ngraceMs: 111\n');
  const settings = parseSettings(['--http-port', '9100'], { PUSHGATE_CONFIG: at, PUSHGATE_RTSP_PORT: '9600' });
  assert.equal(settings.config.httpPort, 9100);
  assert.equal(settings.config.rtspPort, 9600);
  assert.equal(settings.config.graceMs, 111);
  assert.equal(settings.config.idleTimeoutMs, defaultConfig.idleTimeoutMs);
  assert.equal(settings.configFile, at);
});

void test('without a file, or a file without users, the default access applies', () => {
  assert.deepEqual(parseSettings([], {}).access, DEFAULT_ACCESS);
  assert.deepEqual(parseConfigText('httpPort: 1\n', 'x').access.users, DEFAULT_ACCESS.users);
  assert.deepEqual(parseConfigText('', 'x').access, DEFAULT_ACCESS);
});

void test('users, tokens, digest secrets, networks and permissions are read', () => {
  const { access } = parseConfigText(
    `realm: cams
users:
  - name: alice
    password: "$2b$10$abcdefghijklmnopqrstuu5Qh1Qz6yQ5m2P9bS8Xv4tTnQ1Q2Q3Q4"
    tokens: ["${SHA}"]
    digestHa1: 0123456789abcdef0123456789ABCDEF
    networks: [10.0.0.0/8, "fd00::/8"]
    permissions:
      - action: publish
        streams: ["site1/*"]
      - {action: read, streams: ["*"], networks: [192.168.1.0/24]}
  - name: anonymous
    permissions: [{action: read, streams: [public/*]}]
`,
    'x',
  );
  assert.equal(access.realm, 'cams');
  assert.equal(access.users.length, 2);
  assert.deepEqual(access.users[0]?.networks, ['10.0.0.0/8', 'fd00::/8']);
  assert.deepEqual(access.users[0]?.permissions[1], { action: 'read', streams: ['*'], networks: ['192.168.1.0/24'] });
});

void test('a bad file is refused with the path of every bad key and what was expected', () => {
  refused('users:\n  - name: a\n    password: "' + SHA + '"\n    permissions: [{action: publish, streams: ["*"]}]\n  - name: b\n    password: "' + SHA + '"\n    permissions: [{action: write, streams: ["*"]}]\n', /users\[1\]\.permissions\[0\]\.action: expected one of publish, read, api/);
  refused('httpPortt: 80\n', /httpPortt: unknown key/);
  refused('users:\n  - name: a\n    password: hunter2\n    permissions: []\n', /users\[0\]\.password: expected a password hash/);
  refused('users:\n  - name: a\n    password: "$argon2id$v=19$m=65536,t=3,p=4$abc$def"\n    permissions: []\n', /users\[0\]\.password: argon2 hashes are not supported/);
  refused('users:\n  - name: a\n    permissions: []\n', /users\[0\]\.password: a user needs a password/);
  refused(`users:\n  - name: a\n    password: "${SHA}"\n    networks: [10.0.0.0/33]\n    permissions: []\n`, /users\[0\]\.networks\[0\]: expected a network in CIDR form/);
  refused(`users:\n  - name: a\n    password: "${SHA}"\n`, /users\[0\]\.permissions: expected array \(missing\)/);
  refused(`users:\n  - name: a\n    password: "${SHA}"\n    permissions: []\n  - name: a\n    password: "${SHA}"\n    permissions: []\n`, /users\[1\]\.name: "a" is listed twice/);
  refused('externalAuth: {url: "ftp://x"}\n', /externalAuth\.url: expected an http/);
  refused('users: [\n', /not valid YAML/);
  refused('- 1\n- 2\n', /\(top level\): expected object/);
});

void test('a bad option value in the file names the key and the file', () => {
  const at = file('bad-port.yaml', 'httpPort: 99999\n');
  assert.throws(() => parseSettings(['--config', at], {}), (err: unknown) => err instanceof ConfigError && err.message.includes(`httpPort in ${at}`) && /integer from 0 to 65535/.test(err.message));
  assert.throws(() => parseSettings(['--config', path.join(dir, 'missing.yaml')], {}), /cannot read config file/);
});

void test('webhooks are read with their defaults: every event, 5 s per attempt, 1000 queued, 5 attempts', () => {
  const { webhooks } = parseConfigText(
    `webhooks:
  - url: https://hooks.example.com/pushgate
  - url: http://127.0.0.1:9000/events?key=x
    events: [unpublish, authRefused, unpublish]
    secret: 0123456789abcdef0123
    timeoutMs: 800
webhookQueueSize: 50
webhookMaxAttempts: 3
`,
    'x',
  );
  assert.deepEqual(webhooks, {
    hooks: [
      { url: 'https://hooks.example.com/pushgate', events: ['publish', 'unpublish', 'readerJoin', 'readerLeave', 'authRefused'], secret: undefined, timeoutMs: 5000 },
      { url: 'http://127.0.0.1:9000/events?key=x', events: ['unpublish', 'authRefused'], secret: '0123456789abcdef0123', timeoutMs: 800 },
    ],
    queueSize: 50,
    maxAttempts: 3,
  });
  assert.deepEqual(parseConfigText('', 'x').webhooks, { hooks: [], queueSize: 1000, maxAttempts: 5 });
  assert.deepEqual(parseSettings([], {}).webhooks, { hooks: [], queueSize: 1000, maxAttempts: 5 });
});

void test('bad webhooks are refused with the path of every bad key', () => {
  refused('webhooks:\n  - url: ftp://x\n', /webhooks\[0\]\.url: expected an http:\/\/ or https:\/\/ URL/);
  refused('webhooks:\n  - url: http://a\n  - url: http://b\n    events: [publish, play]\n', /webhooks\[1\]\.events\[1\]: expected one of publish, unpublish, readerJoin, readerLeave, authRefused/);
  refused('webhooks:\n  - url: http://a\n    events: []\n', /webhooks\[0\]\.events: /);
  refused('webhooks:\n  - url: http://a\n    secret: short\n', /webhooks\[0\]\.secret: expected a secret of at least 16 characters/);
  refused('webhooks:\n  - url: http://a\n    timeoutMs: 5\n', /webhooks\[0\]\.timeoutMs: /);
  refused('webhooks:\n  - url: http://a\n    retries: 3\n', /webhooks\[0\]\.retries: unknown key/);
  refused('webhooks:\n  - url: http://a\n  - url: http://a\n', /webhooks\[1\]\.url: "http:\/\/a" is listed twice/);
  refused('webhooks: {url: http://a}\n', /webhooks: expected array/);
  refused('webhookQueueSize: 0\n', /webhookQueueSize: /);
  refused('webhookMaxAttempts: 21\n', /webhookMaxAttempts: /);
});
