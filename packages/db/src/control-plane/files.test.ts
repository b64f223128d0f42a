import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createDatabase, DEFAULT_ADMIN_URL, dropDatabase } from '@sluice/testkit';
import { createDb, type Db } from '../client';
import { applyMigrations } from '../migrate';
import { createStream } from './streams';
import {
  abandonDataFile,
  commitDataFile,
  findDataFile,
  listDataFiles,
  listStaleWritingFiles,
  recordDataFile,
  reserveDataFile,
} from './files';

const adminUrl = process.env.TEST_ADMIN_DATABASE_URL ?? DEFAULT_ADMIN_URL;

describe('recordDataFile', () => {
  let url: string;
  let db: Db;
  let streamId: string;
  before(async () => {
    url = await createDatabase(adminUrl, 'sluice_files');
    await applyMigrations({ databaseUrl: url });
    db = createDb(url);
    const stream = await createStream(db, { name: 'events', schema: { columns: [{ name: 'id', type: 'int64' }] } });
    streamId = stream.id;
  });
  after(async () => {
    await db.$disconnect();
    await dropDatabase(adminUrl, url);
  });

  it('records a file in the manifest with its rows, bytes, schema version and ClickHouse status', async () => {
    const key = 'events/dt=2026-11-27/hour=14/0001.parquet';
    await recordDataFile(db, { streamId, schemaVersion: 1, key, rows: 100_000, bytes: 3_500_000_000, clickhouse: 'pending' });
    const file = await findDataFile(db, 'events', key);
    assert.equal(file.key, key);
    assert.equal(file.rows, 100_000);
    assert.equal(file.bytes, 3_500_000_000); // past 32 bits: stored as BIGINT
    assert.equal(file.schemaVersion, 1);
    assert.equal(file.clickhouseStatus, 'pending');
    assert.ok(Math.abs(Date.parse(file.createdAt) - Date.now()) < 60_000);
  });

  it('is idempotent for a key: a retried insert leaves the first row as it was', async () => {
    const key = 'events/dt=2026-11-27/hour=14/0002.parquet';
    await recordDataFile(db, { streamId, schemaVersion: 1, key, rows: 10, bytes: 100, clickhouse: 'skipped' });
    const first = await findDataFile(db, 'events', key);
    await recordDataFile(db, { streamId, schemaVersion: 1, key, rows: 10, bytes: 100, clickhouse: 'skipped' });
    const { files } = await listDataFiles(db, 'events', { limit: 500 });
    const rows = files.filter((file) => file.key === key);
    assert.equal(rows.length, 1);
    assert.deepEqual(rows[0], first);
  });

  it('a reserved file is not a file for readers until committed; an abandoned one can no longer be committed', async () => {
    const visible = async (key: string) => (await listDataFiles(db, 'events', { limit: 500 })).files.some((file) => file.key === key);
    const kept = 'events/dt=2026-11-27/hour=15/0003.parquet';
    await reserveDataFile(db, { streamId, schemaVersion: 1, key: kept, rows: 5, bytes: 50, clickhouse: 'skipped' });
    assert.equal(await visible(kept), false, 'writing: not listed');
    await assert.rejects(findDataFile(db, 'events', kept), /No file/);
    assert.equal(await commitDataFile(db, kept), true);
    assert.equal(await commitDataFile(db, kept), true, 'committing twice (a retry) is fine');
    assert.equal(await visible(kept), true);

    const lost = 'events/dt=2026-11-27/hour=15/0004.parquet';
    await reserveDataFile(db, { streamId, schemaVersion: 1, key: lost, rows: 5, bytes: 50, clickhouse: 'skipped' });
    const stale = await listStaleWritingFiles(db, new Date(Date.now() + 1000));
    assert.deepEqual(
      stale.map((file) => file.objectKey),
      [lost],
      'only the row still writing',
    );
    assert.deepEqual(await listStaleWritingFiles(db, new Date(Date.now() - 60_000)), [], 'nothing that old');
    assert.equal(await abandonDataFile(db, stale[0]!.id), true);
    assert.equal(await commitDataFile(db, lost), false, 'a late commit finds it given up');
    assert.equal(await visible(lost), false);
    assert.equal(await abandonDataFile(db, stale[0]!.id), false);
  });
});
