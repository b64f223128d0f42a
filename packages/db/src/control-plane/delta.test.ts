import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createDatabase, DEFAULT_ADMIN_URL, dropDatabase } from '@sluice/testkit';
import { createDb, type Db } from '../client';
import { applyMigrations } from '../migrate';
import { claimDeltaLog, pendingLogFiles, recordDeltaCommit } from './delta';
import { commitDataFile, commitDataFiles, reserveDataFile } from './files';
import { createStream } from './streams';

const adminUrl = process.env.TEST_ADMIN_DATABASE_URL ?? DEFAULT_ADMIN_URL;

describe('Delta log bookkeeping', () => {
  let url: string;
  let db: Db;
  let streamId: string;
  let n = 0;
  const reserve = async () => {
    const key = `events/dt=2026-12-02/hour=05/${String(++n).padStart(4, '0')}.parquet`;
    await reserveDataFile(db, {
      streamId,
      schemaVersion: 1,
      key,
      rows: 1,
      bytes: 10,
      clickhouse: 'skipped',
      createdAt: new Date(Date.UTC(2026, 11, 2, 5, 0, n)),
    });
    return key;
  };

  before(async () => {
    url = await createDatabase(adminUrl, 'sluice_delta_db');
    await applyMigrations({ databaseUrl: url });
    db = createDb(url);
    streamId = (await createStream(db, { name: 'events', schema: { columns: [{ name: 'id', type: 'int64' }] } })).id;
  });
  after(async () => {
    await db.$disconnect();
    await dropDatabase(adminUrl, url);
  });

  it('takes about `limit` files in commit order, never cutting files committed together, and never uncommitted ones', async () => {
    const [a, b] = [await reserve(), await reserve()];
    await commitDataFile(db, a);
    await commitDataFile(db, b);
    const together = [await reserve(), await reserve(), await reserve()];
    assert.equal(
      await commitDataFiles(
        db,
        together.map((key) => ({ key, spans: [] })),
        new Date(Date.UTC(2026, 11, 2, 5, 0, 5, 500)),
      ),
      true,
    );
    await reserve(); // written, never committed
    const last = await reserve();
    await commitDataFile(db, last);

    // The limit falls inside the group: the whole group comes.
    assert.deepEqual(
      (await pendingLogFiles(db, streamId, 3)).map((file) => file.objectKey),
      [a, b, ...together],
    );
    assert.deepEqual(
      (await pendingLogFiles(db, streamId, 2)).map((file) => file.objectKey),
      [a, b],
      'a limit at a group boundary',
    );
    assert.deepEqual(
      (await pendingLogFiles(db, streamId, 100)).map((file) => file.objectKey),
      [a, b, ...together, last],
    );

    // Once a version adds them, they are not pending; a holder without the lease cannot record one.
    assert.ok(await claimDeltaLog(db, streamId, 'writer-1', 60_000));
    assert.equal(await claimDeltaLog(db, streamId, 'writer-2', 60_000), null, 'the lease is held');
    assert.equal(await recordDeltaCommit(db, { streamId, holder: 'writer-2', version: 0, added: [a] }), false);
    assert.equal(await recordDeltaCommit(db, { streamId, holder: 'writer-1', version: 0, added: [a, b, ...together] }), true);
    assert.equal(await recordDeltaCommit(db, { streamId, holder: 'writer-1', version: 0, added: [last] }), false, 'version 0 is taken');
    assert.deepEqual(
      (await pendingLogFiles(db, streamId, 100)).map((file) => file.objectKey),
      [last],
    );
  });
});
