/** Typed, sortable ids (`key_…`, `str_…`): the prefix says what an id names, the time part sorts it. */
import { randomBytes } from 'node:crypto';
import { base58Encode } from './base58';

export type IdPrefix = 'str' | 'sv' | 'key' | 'file' | 'op' | 'ses' | 'req' | 'idem' | 'commit' | 'cmp';

/** 48 bits of milliseconds followed by 80 random bits, base58: unique across replicas, ordered by time. */
export function newId(prefix: IdPrefix, now = Date.now()): string {
  return `${prefix}_${sortableToken(now)}`;
}

let lastTime = -1;
let lastRandom = 0n;
const RANDOM_MAX = (1n << 80n) - 1n;

/**
 * Lexicographically sortable: fixed-width hex time + base58 randomness. Within one process, tokens of
 * the same millisecond also sort in the order they were made (the random part is the last one plus
 * one), so that, say, a stream's object keys sort in the order its batches were flushed.
 */
export function sortableToken(now = Date.now()): string {
  if (now === lastTime && lastRandom < RANDOM_MAX) {
    lastRandom += 1n;
  } else {
    lastTime = now;
    lastRandom = BigInt(`0x${randomBytes(10).toString('hex')}`);
  }
  const random = Buffer.from(lastRandom.toString(16).padStart(20, '0'), 'hex');
  return `${lastTime.toString(16).padStart(12, '0')}${base58Encode(random).padStart(14, '1')}`;
}
