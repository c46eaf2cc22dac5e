// The TLS certificate and key, read and checked once at start-up: a missing, unreadable,
// malformed or mismatched file stops pushgate with a message naming the option, before
// anything listens, so it never runs with HTTPS or RTSPS half working.
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { ConfigError, type Config } from './config';

export interface TlsMaterial {
  readonly certPath: string;
  readonly keyPath: string;
  /** PEM: the leaf certificate first, then any intermediates. */
  readonly cert: string;
  readonly key: string;
  /** When the leaf certificate expires. */
  readonly validTo: Date;
  /** The leaf's subject alternative names, for the log. */
  readonly names: string;
}

type TlsOptions = Pick<Config, 'tlsCert' | 'tlsKey' | 'plainHttp' | 'plainRtsp'>;

/** undefined when TLS is off; throws ConfigError when the options or the files are unusable. */
export function loadTls(config: TlsOptions): TlsMaterial | undefined {
  if (!config.tlsCert && !config.tlsKey) {
    if (!config.plainHttp) throw new ConfigError('--plain-http off (PUSHGATE_PLAIN_HTTP) needs --tls-cert and --tls-key: there would be no port to push to');
    if (!config.plainRtsp) throw new ConfigError('--plain-rtsp off (PUSHGATE_PLAIN_RTSP) needs --tls-cert and --tls-key: there would be no port to read from');
    return undefined;
  }
  if (!config.tlsCert) throw new ConfigError('--tls-key (PUSHGATE_TLS_KEY) is set but --tls-cert (PUSHGATE_TLS_CERT) is not: both are needed for TLS');
  if (!config.tlsKey) throw new ConfigError('--tls-cert (PUSHGATE_TLS_CERT) is set but --tls-key (PUSHGATE_TLS_KEY) is not: both are needed for TLS');

  const cert = readPem(config.tlsCert, '--tls-cert (PUSHGATE_TLS_CERT)');
  const keyPem = readPem(config.tlsKey, '--tls-key (PUSHGATE_TLS_KEY)');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (err) {
    throw new ConfigError(`--tls-cert (PUSHGATE_TLS_CERT) ${config.tlsCert} is not a PEM certificate (${reason(err)})`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new ConfigError(`--tls-key (PUSHGATE_TLS_KEY) ${config.tlsKey} is not an unencrypted PEM private key (${reason(err)})`);
  }
  if (!leaf.checkPrivateKey(key)) {
    throw new ConfigError(`--tls-key ${config.tlsKey} does not belong to the certificate in --tls-cert ${config.tlsCert} (the first certificate in the file must be the server's own)`);
  }
  try {
    createSecureContext({ cert, key: keyPem });
  } catch (err) {
    throw new ConfigError(`--tls-cert ${config.tlsCert} and --tls-key ${config.tlsKey} cannot be used for TLS (${reason(err)})`);
  }
  return {
    certPath: config.tlsCert,
    keyPath: config.tlsKey,
    cert,
    key: keyPem,
    validTo: new Date(leaf.validTo),
    names: leaf.subjectAltName ?? leaf.subject,
  };
}

function readPem(path: string, option: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${option}: cannot read ${path} (${reason(err)})`);
  }
  if (!text.includes('-----BEGIN ')) throw new ConfigError(`${option}: ${path} is not a PEM file (no "-----BEGIN" line)`);
  return text;
}

function reason(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') {
    const code = err.code;
    if (code === 'ENOENT') return 'no such file';
    if (code === 'EACCES') return 'permission denied';
    if (code === 'EISDIR') return 'it is a directory';
    return err instanceof Error ? `${code}: ${err.message}` : code;
  }
  return err instanceof Error ? err.message : String(err);
}
