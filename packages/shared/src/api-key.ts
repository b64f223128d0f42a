/**
 * API keys: a readable prefix plus base58 of 24 random bytes. Only the SHA-256 hash and a short visible
 * start are ever stored; the plaintext is shown once, at creation.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { base58Encode, isBase58 } from './base58';

export const API_KEY_PREFIX = 'slk_';
export const API_KEY_RANDOM_BYTES = 24;
/** Characters of the key kept in clear so operators can tell keys apart (prefix + 4). */
export const API_KEY_VISIBLE_LENGTH = API_KEY_PREFIX.length + 4;

export interface GeneratedApiKey {
  key: string;
  hash: string;
  start: string;
}

export function generateApiKey(): GeneratedApiKey {
  const key = API_KEY_PREFIX + base58Encode(randomBytes(API_KEY_RANDOM_BYTES));
  return { key, hash: hashApiKey(key), start: key.slice(0, API_KEY_VISIBLE_LENGTH) };
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Cheap syntactic check before any lookup, so garbage never reaches the database. */
export function looksLikeApiKey(candidate: string): boolean {
  const body = candidate.slice(API_KEY_PREFIX.length);
  return candidate.startsWith(API_KEY_PREFIX) && body.length >= 22 && body.length <= 64 && isBase58(body);
}

export function verifyApiKey(candidate: string, storedHash: string): boolean {
  if (!looksLikeApiKey(candidate)) return false;
  const a = Buffer.from(hashApiKey(candidate), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
