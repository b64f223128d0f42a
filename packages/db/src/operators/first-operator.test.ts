import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createDatabase, DEFAULT_ADMIN_URL, dropDatabase } from '@sluice/testkit';
import { createDb, type Db } from '../client';
import { applyMigrations } from '../migrate';
import { createFirstOperator } from './first-operator';

const adminUrl = process.env.TEST_ADMIN_DATABASE_URL ?? DEFAULT_ADMIN_URL;

describe('createFirstOperator', () => {
  let url: string;
  let db: Db;
  before(async () => {
    url = await createDatabase(adminUrl, 'sluice_setup');
    await applyMigrations({ databaseUrl: url });
    db = createDb(url, { maxConnections: 8 });
  });
  after(async () => {
    await db.$disconnect();
    await dropDatabase(adminUrl, url);
  });

  it('lets exactly one of several concurrent setups win', async () => {
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => createFirstOperator(db, `first${i}@example.com`, 'correct horse battery')),
    );
    assert.equal(results.filter((id) => id !== null).length, 1);
    assert.equal(await db.operator.count(), 1);
  });

  it('creates nothing once an operator exists', async () => {
    assert.equal(await createFirstOperator(db, 'late@example.com', 'correct horse battery'), null);
    assert.equal(await db.operator.count(), 1);
  });
});
