import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createDatabase, DEFAULT_ADMIN_URL, dropDatabase } from '@sluice/testkit';
import { createDb, type Db } from '../client';
import { applyMigrations } from '../migrate';
import { clearLoginFailures, loginRetryAfter, recordLoginFailure } from './login-throttle';

const adminUrl = process.env.TEST_ADMIN_DATABASE_URL ?? DEFAULT_ADMIN_URL;
const options = { maxFailures: 10, windowMs: 15 * 60_000 };

describe('login throttle', () => {
  let url: string;
  let db: Db;
  before(async () => {
    url = await createDatabase(adminUrl, 'sluice_throttle');
    await applyMigrations({ databaseUrl: url });
    db = createDb(url);
  });
  after(async () => {
    await db.$disconnect();
    await dropDatabase(adminUrl, url);
  });

  it('throttles a key after 10 failures in the window, until the oldest of them ages out', async () => {
    const start = new Date('2026-12-01T10:00:00Z');
    for (let i = 0; i < 10; i++) {
      const at = new Date(start.getTime() + i * 1000);
      assert.equal(await loginRetryAfter(db, ['ip:1', 'email:a'], options, at), 0, `attempt ${i + 1} is allowed`);
      await recordLoginFailure(db, ['ip:1', 'email:a'], options, at);
    }
    const eleventh = new Date(start.getTime() + 60_000);
    assert.equal(await loginRetryAfter(db, ['ip:1', 'email:a'], options, eleventh), 15 * 60 - 60);
    // Another address for the same account: still throttled by the account.
    assert.ok((await loginRetryAfter(db, ['ip:2', 'email:a'], options, eleventh)) > 0);
    // Another account from the same address: throttled by the address.
    assert.ok((await loginRetryAfter(db, ['ip:1', 'email:b'], options, eleventh)) > 0);
    // Another account from another address: unaffected.
    assert.equal(await loginRetryAfter(db, ['ip:2', 'email:b'], options, eleventh), 0);
    // Once the first failure leaves the window, one more try is allowed.
    assert.equal(await loginRetryAfter(db, ['ip:1', 'email:a'], options, new Date(start.getTime() + options.windowMs + 1)), 0);
  });

  it('purges failures older than the window and clears an account on success', async () => {
    const later = new Date('2026-12-01T12:00:00Z');
    await recordLoginFailure(db, ['ip:3', 'email:c'], options, later);
    assert.equal(await db.loginAttempt.count({ where: { key: 'ip:1' } }), 0);
    await clearLoginFailures(db, ['email:c']);
    assert.equal(await db.loginAttempt.count({ where: { key: 'email:c' } }), 0);
    assert.equal(await db.loginAttempt.count({ where: { key: 'ip:3' } }), 1);
  });
});
