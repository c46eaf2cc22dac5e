// `pushgate hash-password [--sha256 | --token | --digest <user> [--realm <realm>]]`: reads a
// secret from stdin (first line) and prints what goes in the config file. The secret itself is
// never printed.
import { readFileSync } from 'node:fs';
import { DEFAULT_REALM } from './auth/access-config';
import { digestHa1, hashPasswordBcrypt, hashSha256 } from './auth/secrets';

const USAGE = `usage: pushgate hash-password [--sha256 | --token | --digest <user> [--realm <realm>]] < secret
  (default)        bcrypt hash for "password:"
  --sha256         sha256:<hex> for "password:" (fast; only for long random passwords)
  --token          sha256:<hex> for "tokens:"
  --digest <user>  md5(user:realm:password) for "digestHa1:" (RTSP Digest; realm default "${DEFAULT_REALM}")`;

export function runHashPassword(args: readonly string[]): number {
  const flag = args[0];
  if (flag === '--help' || flag === '-h') {
    console.log(USAGE);
    return 0;
  }
  const secret = (readFileSync(0, 'utf8').split(/\r?\n/)[0] ?? '');
  if (!secret) {
    console.error(`pushgate hash-password: no secret on stdin\n${USAGE}`);
    return 2;
  }
  if (flag === undefined) console.log(hashPasswordBcrypt(secret));
  else if (flag === '--sha256' || flag === '--token') console.log(hashSha256(secret));
  else if (flag === '--digest' && args[1]) {
    const realm = args[2] === '--realm' && args[3] ? args[3] : DEFAULT_REALM;
    console.log(digestHa1(args[1], realm, secret));
  } else {
    console.error(USAGE);
    return 2;
  }
  return 0;
}
