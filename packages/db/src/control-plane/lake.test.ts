/**
 * What the compactor may take, at the edges of its settings: COMPACTION_MIN_FILES small files, under half
 * the target size, older than the delay, already in the Delta log, not waiting for ClickHouse; grouped by
 * partition and schema version. And a compaction's commit: all or nothing against a source removed meanwhile.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createDatabase, DEFAULT_ADMIN_URL, dropDatabase } from '@sluice/testkit';
import { createDb, type Db } from '../client';
import { applyMigrations } from '../migrate';
import { commitDataFile, reserveDataFile } from './files';
import { commitCompaction, compactionCandidates, filesToVacuum } from './lake';
import { createStream } from './streams';

const adminUrl = process.env.TEST_ADMIN_DATABASE_URL ?? DEFAULT_ADMIN_URL;

describe('compaction candidates and commits', () => {
  let url: string;
  let db: Db;
  let n = 0;
  const now = Date.now();
  /** A committed file of the stream in `partition`, `minutesAgo` old, already in the log unless said. */
  const file = async (
    streamId: string,
    partition: string,
    options: {
      bytes?: number;
      minutesAgo?: number;
      logged?: boolean;
      clickhouse?: 'skipped' | 'pending' | 'done';
      schemaVersion?: number;
    } = {},
  ) => {
    const key = `s/${partition}/${String(++n).padStart(4, '0')}.parquet`;
    const id = `file_${n}`;
    await reserveDataFile(db, {
      id,
      streamId,
      schemaVersion: options.schemaVersion ?? 1,
      key,
      rows: 10,
      bytes: options.bytes ?? 1000,
      clickhouse: options.clickhouse ?? 'skipped',
      createdAt: new Date(now - (options.minutesAgo ?? 30) * 60_000),
    });
    await commitDataFile(db, key);
    if (options.logged !== false) await db.dataFile.update({ where: { id }, data: { deltaVersion: 1 } });
    return id;
  };
  const candidates = (streamId: string, minFiles = 3) =>
    compactionCandidates(db, streamId, { smallBytes: 5000, minFiles, olderThan: new Date(now - 10 * 60_000), logged: true });

  before(async () => {
    url = await createDatabase(adminUrl, 'sluice_lake_db');
    await applyMigrations({ databaseUrl: url });
    db = createDb(url);
  });
  after(async () => {
    await db.$disconnect();
    await dropDatabase(adminUrl, url);
  });

  it('takes a partition once it has the minimum of small, old, logged files, and nothing else', async () => {
    const { id: streamId } = await createStream(db, { name: 'edges', schema: { columns: [{ name: 'id', type: 'int64' }] } });
    const hour = 'dt=2026-12-02/hour=05';
    const taken = [await file(streamId, hour), await file(streamId, hour)];
    // Each of these is left out: large, too young, not yet in the log, waiting for ClickHouse.
    await file(streamId, hour, { bytes: 5000 });
    await file(streamId, hour, { minutesAgo: 9 });
    await file(streamId, hour, { logged: false });
    await file(streamId, hour, { clickhouse: 'pending' });
    assert.deepEqual(await candidates(streamId), [], 'two eligible files: one short of the minimum');

    taken.push(await file(streamId, hour, { bytes: 4999, minutesAgo: 11, clickhouse: 'done' }));
    const found = await candidates(streamId);
    assert.deepEqual(
      found.map((group) => [group.partition, group.schemaVersion, group.files.map((each) => each.id)]),
      [[hour, 1, taken]],
    );
    // Another partition, and another schema version of the same one, are groups of their own.
    for (let i = 0; i < 3; i++) await file(streamId, 'dt=2026-12-02/hour=06');
    for (let i = 0; i < 3; i++) await file(streamId, hour, { schemaVersion: 2 });
    assert.deepEqual(
      (await candidates(streamId)).map((group) => [group.partition, group.schemaVersion, group.files.length]),
      [
        [hour, 1, 3],
        ['dt=2026-12-02/hour=06', 1, 3],
        [hour, 2, 3],
      ],
    );
  });

  it('commits a compaction all or nothing: a source removed meanwhile leaves every file as it was', async () => {
    const { id: streamId } = await createStream(db, { name: 'commits', schema: { columns: [{ name: 'id', type: 'int64' }] } });
    const sources = [await file(streamId, 'dt=2026-12-02/hour=07'), await file(streamId, 'dt=2026-12-02/hour=07')];
    const reserve = async (key: string) => {
      const id = `out_${++n}`;
      await reserveDataFile(db, { id, streamId, schemaVersion: 1, key, rows: 20, bytes: 1500, clickhouse: 'skipped' });
      return id;
    };
    const record = (fileId: string, objectKey: string) => ({
      streamId,
      partition: 'dt=2026-12-02/hour=07',
      sourceIds: sources,
      fileId,
      objectKey,
      rows: 20,
      bytesIn: 2000,
      bytesOut: 1500,
      startedAt: new Date(),
    });
    const first = await reserve('s/dt=2026-12-02/hour=07/first.parquet');
    const second = await reserve('s/dt=2026-12-02/hour=07/second.parquet');
    assert.equal(await commitCompaction(db, record(first, 's/dt=2026-12-02/hour=07/first.parquet')), true);
    // A second compaction of the same sources (another replica whose lease ran out) loses, changing nothing.
    assert.equal(await commitCompaction(db, record(second, 's/dt=2026-12-02/hour=07/second.parquet')), false);
    const states = await db.dataFile.findMany({
      where: { streamId },
      select: { id: true, state: true, removeGroup: true, commitGroup: true },
    });
    const byId = new Map(states.map((state) => [state.id, state]));
    assert.deepEqual(
      sources.map((id) => byId.get(id)!.state),
      ['removed', 'removed'],
    );
    assert.equal(byId.get(first)!.state, 'committed');
    assert.equal(byId.get(first)!.commitGroup, byId.get(sources[0]!)!.removeGroup, 'one group: one Delta commit');
    assert.equal(byId.get(second)!.state, 'writing', 'left for the caller to remove');
    assert.equal(await db.compaction.count({ where: { streamId } }), 1);
  });

  it('vacuums a removed file only once LAKE_VACUUM_HOURS have passed since its removal, and, with the log on, once the log removed it', async () => {
    const { id: streamId } = await createStream(db, { name: 'vacuum', schema: { columns: [{ name: 'id', type: 'int64' }] } });
    const removedAt = new Date(now - 60 * 60_000);
    const removed = async (logged: boolean) => {
      const id = await file(streamId, 'dt=2026-12-02/hour=08');
      await db.dataFile.update({ where: { id }, data: { state: 'removed', removedAt, removedVersion: logged ? 2 : null } });
      return id;
    };
    const inLog = await removed(true);
    const notYet = await removed(false);
    const ids = async (removedBefore: Date, logged: boolean) =>
      (await filesToVacuum(db, { removedBefore, logged })).map((row) => row.id).filter((id) => id === inLog || id === notYet);
    // The cutoff exactly at the removal: not yet; a millisecond after it: due.
    assert.deepEqual(await ids(removedAt, true), []);
    assert.deepEqual(await ids(new Date(removedAt.getTime() + 1), true), [inLog]);
    // With the log off, nothing waits for it.
    assert.deepEqual((await ids(new Date(removedAt.getTime() + 1), false)).sort(), [inLog, notYet].sort());
  });
});
