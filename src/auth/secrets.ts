// Stored secrets: password hashes (sha256 or bcrypt), token hashes, Digest HA1. Every comparison
// is between fixed-length digests with crypto.timingSafeEqual; nothing here logs or keeps a
// secret in plain text (the bcrypt cache is keyed by a digest).
import bcrypt from 'bcryptjs';
import { createHash, timingSafeEqual } from 'node:crypto';

const SHA256_FORM = /^sha256:([0-9a-f]{64})$/i;
const BCRYPT_FORM = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;
const ARGON2_FORM = /^\$argon2(id|i|d)\$/;

/** Why a stored password hash is unusable, or undefined when it is fine. */
export function passwordHashProblem(stored: string): string | undefined {
  if (SHA256_FORM.test(stored) || BCRYPT_FORM.test(stored)) return undefined;
  if (ARGON2_FORM.test(stored)) return 'argon2 hashes are not supported (they need a native module): use bcrypt ($2b$...) or sha256:<hex>';
  return 'expected a password hash: bcrypt ($2b$...) or sha256:<64 hex digits> (make one with "pushgate hash-password")';
}

export function tokenHashProblem(stored: string): string | undefined {
  return SHA256_FORM.test(stored) ? undefined : 'expected a token hash: sha256:<64 hex digits> (make one with "pushgate hash-password --token")';
}

export function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

export function md5Hex(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}

/** Constant-time equality of two strings of any length (compares their SHA-256). */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(sha256(a), sha256(b));
}

/** bcrypt is slow by design: a credential that checked out once is remembered (by digest). */
const BCRYPT_CACHE_LIMIT = 1000;
const bcryptVerified = new Set<string>();

export function verifyPassword(stored: string, plain: string): boolean {
  const sha = SHA256_FORM.exec(stored);
  if (sha) return timingSafeEqual(sha256(plain), Buffer.from(sha[1]!, 'hex'));
  if (!BCRYPT_FORM.test(stored)) return false;
  const key = sha256(`${stored}\0${plain}`).toString('hex');
  if (bcryptVerified.has(key)) return true;
  if (!bcrypt.compareSync(plain, stored)) return false;
  if (bcryptVerified.size >= BCRYPT_CACHE_LIMIT) bcryptVerified.clear();
  bcryptVerified.add(key);
  return true;
}

export function verifyToken(stored: string, token: string): boolean {
  const sha = SHA256_FORM.exec(stored);
  return sha !== null && timingSafeEqual(sha256(token), Buffer.from(sha[1]!, 'hex'));
}

export function hashPasswordBcrypt(plain: string, rounds = 10): string {
  return bcrypt.hashSync(plain, rounds);
}

export function hashSha256(plain: string): string {
  return `sha256:${sha256(plain).toString('hex')}`;
}

/** The Digest HA1 of a user: md5(user:realm:password). */
export function digestHa1(user: string, realm: string, password: string): string {
  return md5Hex(`${user}:${realm}:${password}`);
}
