/** Typed, sortable ids (`key_…`, `str_…`): the prefix says what an id names, the time part sorts it. */
import { randomBytes } from 'node:crypto';
import { base58Encode } from './base58';

export type IdPrefix = 'str' | 'sv' | 'key' | 'file' | 'op' | 'ses' | 'req';

/** 48 bits of milliseconds followed by 80 random bits, base58: unique across replicas, ordered by time. */
export function newId(prefix: IdPrefix, now = Date.now()): string {
  return `${prefix}_${sortableToken(now)}`;
}

/** Lexicographically sortable: fixed-width hex time + base58 randomness. */
export function sortableToken(now = Date.now()): string {
  const time = now.toString(16).padStart(12, '0');
  return `${time}${base58Encode(randomBytes(10)).padStart(14, '1')}`;
}
