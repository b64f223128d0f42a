/**
 * The Authenticator against the run's Postgres: the key cache under a flood of unknown keys, the per-address
 * limit on failed lookups at its edge, and the re-check of a key a request in flight holds (stillValid).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createApiKey, createDb, revokeApiKey, type Db } from '@sluice/db';
import { API_KEY_PREFIX, base58Encode, hashApiKey, SluiceError } from '@sluice/shared';
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import { testDatabaseUrl } from '../test/harness';
import { Authenticator } from './auth';

let db: Db;
before(() => {
  db = createDb(testDatabaseUrl(), { maxConnections: 8 });
});
after(() => db.$disconnect());

const log = { warn() {} } as unknown as FastifyBaseLogger;

/** The database with every apiKey.findUnique recorded by what it looked for (a hash or an id). */
function counting(inner: Db): { db: Db; lookups: string[] } {
  const lookups: string[] = [];
  const apiKey = {
    findUnique: (args: { where: { hash?: string; id?: string } }) => {
      lookups.push(args.where.hash ?? args.where.id ?? '?');
      return inner.apiKey.findUnique(args as Parameters<Db['apiKey']['findUnique']>[0]);
    },
    update: (args: Parameters<Db['apiKey']['update']>[0]) => inner.apiKey.update(args),
  };
  return { db: new Proxy(inner, { get: (target, prop) => (prop === 'apiKey' ? apiKey : Reflect.get(target, prop)) }), lookups };
}

function request(key: string, ip = '10.0.0.1'): FastifyRequest {
  return { headers: { authorization: `Bearer ${key}` }, ip } as unknown as FastifyRequest;
}

function randomKey(): string {
  return API_KEY_PREFIX + base58Encode(randomBytes(24));
}

async function refusal(promise: Promise<unknown>): Promise<SluiceError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof SluiceError, `a SluiceError, not ${String(error)}`);
    return error;
  }
  assert.fail('expected a refusal');
}

describe('key cache', () => {
  it('12,000 random keys (more than the cache holds), then a good one is still answered from the cache', async () => {
    const good = await createApiKey(db, { name: 'cached', streams: '*' });
    const { db: watched, lookups } = counting(db);
    const auth = new Authenticator(watched, null, 60_000, log, { failureLimit: 1_000_000, failureWindowMs: 60_000 });
    assert.equal((await auth.requireKey(request(good.key))).id, good.id);
    const goodHash = hashApiKey(good.key);
    assert.deepEqual(lookups, [goodHash]);

    for (let sent = 0; sent < 12_000; sent += 50) {
      await Promise.all(
        Array.from({ length: 50 }, async () =>
          assert.equal((await refusal(auth.requireKey(request(randomKey())))).code, 'auth.invalid_key'),
        ),
      );
    }
    assert.equal(lookups.length, 12_001, 'each random key was looked up once');

    assert.equal((await auth.requireKey(request(good.key))).id, good.id);
    assert.equal(lookups.filter((hash) => hash === goodHash).length, 1, 'the good key was not looked up again');
    assert.equal(lookups.length, 12_001);
  });

  it('an unknown key asked again within the TTL is answered without a lookup', async () => {
    const { db: watched, lookups } = counting(db);
    const auth = new Authenticator(watched, null, 60_000, log);
    const stranger = randomKey();
    for (let i = 0; i < 3; i++) assert.equal((await refusal(auth.requireKey(request(stranger)))).code, 'auth.invalid_key');
    assert.equal(lookups.length, 1);
  });
});

describe('failed lookups per address', () => {
  it('KEY_FAILURE_LIMIT at its edge: 20 unknown keys are 401, the 21st is 429 with Retry-After until the window ends', async () => {
    const good = await createApiKey(db, { name: 'neighbour', streams: '*' });
    const fresh = await createApiKey(db, { name: 'not cached yet', streams: '*' });
    const { db: watched, lookups } = counting(db);
    const auth = new Authenticator(watched, null, 60_000, log, { failureLimit: 20, failureWindowMs: 1_500 });
    await auth.requireKey(request(good.key, '10.0.0.9'));
    const started = Date.now();
    for (let i = 0; i < 20; i++) assert.equal((await refusal(auth.requireKey(request(randomKey(), '10.0.0.9')))).code, 'auth.invalid_key');
    const before429 = lookups.length;
    const blocked = await refusal(auth.requireKey(request(randomKey(), '10.0.0.9')));
    assert.equal(blocked.code, 'auth.too_many_failures');
    assert.equal(blocked.status, 429);
    assert.ok(['1', '2'].includes(blocked.headers['retry-after'] ?? ''), 'the seconds left in the 1.5 s window, rounded up');
    // Refused before any lookup: a blocked address costs no query, malformed or uncached keys alike.
    assert.equal((await refusal(auth.requireKey(request('slk_nope', '10.0.0.9')))).code, 'auth.too_many_failures');
    assert.equal((await refusal(auth.requireKey(request(fresh.key, '10.0.0.9')))).code, 'auth.too_many_failures');
    assert.equal(lookups.length, before429);
    // A key already known is still served to that address; other addresses are not limited.
    assert.equal((await auth.requireKey(request(good.key, '10.0.0.9'))).id, good.id);
    assert.equal((await refusal(auth.requireKey(request(randomKey(), '10.0.0.10')))).code, 'auth.invalid_key');

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + 1_600 - Date.now())));
    assert.equal((await auth.requireKey(request(fresh.key, '10.0.0.9'))).id, fresh.id, 'a new window');
    assert.equal((await refusal(auth.requireKey(request(randomKey(), '10.0.0.9')))).code, 'auth.invalid_key');
  });
});

describe('stillValid', () => {
  it('is true for a live key and false once its revocation is past the cache TTL', async () => {
    const created = await createApiKey(db, { name: 'in flight', streams: '*' });
    const { db: watched, lookups } = counting(db);
    const auth = new Authenticator(watched, null, 300, log);
    await auth.requireKey(request(created.key));
    assert.equal(await auth.stillValid(created.id), true);
    assert.equal(lookups.length, 1, 'answered from the cache');

    await revokeApiKey(db, created.id);
    const revokedAt = Date.now();
    let valid = true;
    while (valid && Date.now() - revokedAt < 2_000) {
      valid = await auth.stillValid(created.id);
      if (valid) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(valid, false);
    assert.ok(Date.now() - revokedAt <= 300 + 100, 'refused within the cache TTL');
    assert.equal((await refusal(auth.requireKey(request(created.key)))).code, 'auth.revoked_key');
  });

  it('looks up a key it has not cached, and is false for an id that matches no key', async () => {
    const created = await createApiKey(db, { name: 'other replica', streams: '*' });
    const auth = new Authenticator(db, null, 1_000, log);
    assert.equal(await auth.stillValid(created.id), true);
    assert.equal(await auth.stillValid('key_doesnotexist'), false);
  });
});
