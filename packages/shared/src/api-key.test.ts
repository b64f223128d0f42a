import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { API_KEY_PREFIX, generateApiKey, hashApiKey, looksLikeApiKey, verifyApiKey } from './api-key';
import { base58Encode } from './base58';
import { newId } from './ids';

describe('API keys', () => {
  it('have a readable prefix, at least 16 random bytes of base58, and a short visible start', () => {
    const { key, hash, start } = generateApiKey();
    assert.ok(key.startsWith(API_KEY_PREFIX));
    assert.match(key.slice(API_KEY_PREFIX.length), /^[1-9A-HJ-NP-Za-km-z]{30,}$/);
    assert.equal(start, key.slice(0, 8));
    assert.match(hash, /^[0-9a-f]{64}$/);
    assert.equal(hash, hashApiKey(key));
  });

  it('are unique', () => {
    const keys = new Set(Array.from({ length: 1000 }, () => generateApiKey().key));
    assert.equal(keys.size, 1000);
  });

  it('verify against their hash only', () => {
    const { key, hash } = generateApiKey();
    assert.equal(verifyApiKey(key, hash), true);
    assert.equal(verifyApiKey(generateApiKey().key, hash), false);
    assert.equal(verifyApiKey(`${key}x`, hash), false);
    assert.equal(verifyApiKey('', hash), false);
  });

  it('reject malformed candidates before hashing', () => {
    assert.equal(looksLikeApiKey('Bearer abc'), false);
    assert.equal(looksLikeApiKey(`${API_KEY_PREFIX}0OIl0OIl0OIl0OIl0OIl0OIl`), false);
    assert.equal(looksLikeApiKey(generateApiKey().key), true);
  });
});

describe('base58 and ids', () => {
  it('encodes known vectors', () => {
    assert.equal(base58Encode(Buffer.from('hello world')), 'StV1DL6CwTryKyV');
    assert.equal(base58Encode(Uint8Array.from([0, 0, 1])), '112');
  });

  it('makes prefixed ids that sort by creation time', () => {
    const a = newId('file', 1_700_000_000_000);
    const b = newId('file', 1_700_000_000_001);
    assert.match(a, /^file_[0-9a-f]{12}[1-9A-HJ-NP-Za-km-z]{14}$/);
    assert.ok(a < b);
  });

  it('sorts ids of the same millisecond in the order they were made', () => {
    const made = Array.from({ length: 1000 }, () => newId('file', 1_700_000_000_123));
    assert.deepEqual([...made].sort(), made);
    assert.equal(new Set(made).size, made.length);
    for (const id of made) assert.match(id, /^file_018bcfe5687b[1-9A-HJ-NP-Za-km-z]{14}$/);
  });
});
