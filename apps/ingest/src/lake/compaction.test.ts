/**
 * Compaction, retention and vacuum, read back through ClickHouse's Delta reader (chdb): 300 small files
 * become one with the same rows in one Delta commit, while a reader counting in a loop never sees another
 * count; keyed requests' records follow their rows; partitions past retention leave the table; removed
 * objects leave the store only when vacuumed.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { commitDataFile, reserveDataFile } from '@sluice/db';
import { applyMigrations } from '@sluice/db/migrate';
import type { IngestResultDto } from '@sluice/shared';
import { createDatabase, DEFAULT_ADMIN_URL, dropDatabase } from '@sluice/testkit';
import { logEntries, queryDelta, SELECT_TYPED, typedRowOf } from '../test/delta-reader';
import { startTestService, type TestService } from '../test/harness';
import { ALL_TYPES, toCsv, typedRows } from '../test/typed-rows';

const ROWS = typedRows(3000);

/** The data files under the stream's prefix (not the log's checkpoints), relative to it. */
function parquetObjects(lake: string, stream: string): string[] {
  return (fs.readdirSync(path.join(lake, stream), { recursive: true }) as string[])
    .filter((name) => name.endsWith('.parquet') && !name.startsWith('_delta_log'))
    .sort();
}

describe('compaction, retention and vacuum', () => {
  let service: TestService;
  let lake: string;
  let key: string;
  const adminUrl = process.env.TEST_ADMIN_DATABASE_URL ?? DEFAULT_ADMIN_URL;
  let databaseUrl: string;
  before(async () => {
    databaseUrl = await createDatabase(adminUrl, 'sluice_compaction');
    await applyMigrations({ databaseUrl });
    // Compaction on demand and by explicit passes only; removed objects are vacuumable at once.
    service = await startTestService({
      env: { DATABASE_URL: databaseUrl, DELTA_LOG: 'on', DELTA_COMMIT_DELAY_MS: '0', LAKE_VACUUM_HOURS: '0', STREAM_CACHE_TTL_MS: '0' },
    });
    lake = (service.config.store as { dir: string }).dir;
    key = (await service.createKey('*')).key;
  });
  after(async () => {
    await service.close();
    await dropDatabase(adminUrl, databaseUrl);
  });

  const table = (stream: string) => `deltaLakeLocal('${path.join(lake, stream)}')`;

  it('300 small files become one: the same rows, one commit, and a reader counting meanwhile always counts them all', {
    timeout: 300_000,
  }, async () => {
    // Each request's rows flush at once (a 10 ms batch age), so each is a file of its own.
    const stream = await service.createStream({ schema: { columns: ALL_TYPES }, batch: { maxAgeMs: 10 } });
    const keyed = `compaction-${stream.name}`;
    for (let i = 0; i < 300; i++) {
      const headers: Record<string, string> = { 'content-type': 'text/csv' };
      if (i === 7) headers['idempotency-key'] = keyed;
      const response = await service.post(stream.name, key, toCsv(ROWS.slice(i * 10, i * 10 + 10)), headers);
      assert.equal(response.status, 200, await response.text());
    }
    await service.app.deltaLog!.settle();
    const before = await queryDelta(lake, `SELECT count() AS n, uniqExact(_path) AS files FROM ${table(stream.name)}`);
    assert.equal(before[0]!.n, 3000);
    const filesBefore = before[0]!.files as number;
    assert.ok(filesBefore >= 300, `${filesBefore} files before`);
    const versionsBefore = logEntries(lake, stream.name).length;

    // A reader counts the table in a loop while the stream is compacted and the log written.
    let reading = true;
    const counts: number[] = [];
    const reader = (async () => {
      while (reading) {
        const [row] = await queryDelta(lake, `SELECT count() AS n FROM ${table(stream.name)}`);
        counts.push(row!.n as number);
      }
    })();
    // Let it read before, too.
    while (counts.length < 1) await new Promise((resolve) => setTimeout(resolve, 50));
    const response = await service.admin('POST', `/v1/admin/streams/${stream.name}/compact`);
    const text = await response.text();
    assert.equal(response.status, 200, text);
    const answer = JSON.parse(text) as { filesIn: number; filesOut: number; compactions: { rows: number }[] };
    assert.equal(answer.filesIn, filesBefore);
    assert.ok(answer.filesOut >= 1 && answer.filesOut <= 2, `${answer.filesOut} files written (one per hour partition)`);
    await service.app.deltaLog!.settle();
    const readsBefore = counts.length;
    while (counts.length < readsBefore + 2) await new Promise((resolve) => setTimeout(resolve, 50));
    reading = false;
    await reader;
    assert.deepEqual(new Set(counts), new Set([3000]), `the reader counted ${counts.length} times, always 3000`);

    const rows = await queryDelta(lake, `SELECT ${SELECT_TYPED}, _path FROM ${table(stream.name)} ORDER BY id`);
    assert.equal(rows.length, 3000);
    for (let i = 0; i < ROWS.length; i++) assert.deepEqual(typedRowOf(rows[i]!), ROWS[i], `row ${i + 1}`);
    assert.equal(new Set(rows.map((row) => row._path)).size, answer.filesOut, 'read from the compacted files only');

    // One commit removed the 300 and added the new: operation OPTIMIZE, nothing changed for readers.
    const entries = logEntries(lake, stream.name).slice(versionsBefore);
    const compaction = entries.filter((entry) => entry.actions.some((action) => action.remove));
    assert.equal(compaction.length, 1, 'one Delta commit');
    const actions = compaction[0]!.actions;
    assert.equal(actions.find((action) => action.commitInfo)!.commitInfo!.operation, 'OPTIMIZE');
    assert.equal(actions.filter((action) => action.remove).length, filesBefore);
    assert.equal(actions.filter((action) => action.add).length, answer.filesOut);
    assert.ok(actions.every((action) => !(action.add ?? action.remove) || (action.add ?? action.remove)!.dataChange === false));
    const added = actions.find((action) => action.add)!.add!;
    assert.equal(JSON.parse(added.stats).numRecords, answer.compactions[0]!.rows, 'the add carries the merged statistics');

    // The keyed request's lines now point at the file holding them: a retry is replayed, nothing stored twice.
    const [record] = await service.app.db.$queryRaw<{ state: string }[]>`
      SELECT f."state"::text AS state FROM "IdempotentSpan" s JOIN "IdempotencyKey" k ON k."id" = s."idempotencyKeyId"
      JOIN "DataFile" f ON f."id" = s."fileId" WHERE k."key" = ${keyed}`;
    assert.equal(record?.state, 'committed');
    const retry = await service.post(stream.name, key, toCsv(ROWS.slice(70, 80)), { 'content-type': 'text/csv', 'idempotency-key': keyed });
    assert.equal(retry.status, 200);
    assert.equal(retry.headers.get('idempotency-replayed'), 'true');

    // The replaced objects stay in the store until vacuumed; then only the compacted files are left.
    assert.equal(parquetObjects(lake, stream.name).length, filesBefore + answer.filesOut);
    assert.equal(await service.app.compactor.vacuum(), filesBefore);
    assert.equal(parquetObjects(lake, stream.name).length, answer.filesOut);
    assert.deepEqual(await queryDelta(lake, `SELECT count() AS n FROM ${table(stream.name)}`), [{ n: 3000 }]);
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    assert.match(metrics, new RegExp(`sluice_compacted_files_total\\{stream="${stream.name}"\\} ${filesBefore}`));
    assert.match(metrics, /sluice_vacuumed_files_total \d+/);
  });

  it('on S3 with a ClickHouse sink: compacted through a streamed upload, read through the S3 server, not sent to ClickHouse again', {
    timeout: 180_000,
  }, async () => {
    const clickhouse = process.env.TEST_CLICKHOUSE_URL;
    if (!clickhouse) throw new Error('TEST_CLICKHOUSE_URL is not set: run the suite with `npm test`.');
    // A database of its own: the suite's service writes logs into its local lake, and could take this
    // stream's log lease.
    const s3Url = await createDatabase(adminUrl, 'sluice_compaction_s3');
    await applyMigrations({ databaseUrl: s3Url });
    const onS3 = await startTestService({
      s3: true,
      env: {
        DATABASE_URL: s3Url,
        DELTA_LOG: 'on',
        DELTA_COMMIT_DELAY_MS: '0',
        CLICKHOUSE_URL: clickhouse,
        CLICKHOUSE_POLL_MS: '200',
      },
    });
    try {
      const s3Key = (await onS3.createKey('*')).key;
      const table = `compacted_${Date.now().toString(36)}`;
      const stream = await onS3.createStream({ schema: { columns: ALL_TYPES }, batch: { maxAgeMs: 10 }, sinks: { clickhouse: { table } } });
      const big = typedRows(120_000);
      for (let i = 0; i < 12; i++) {
        const response = await onS3.post(stream.name, s3Key, toCsv(big.slice(i * 10_000, i * 10_000 + 10_000)), {
          'content-type': 'text/csv',
        });
        assert.equal(response.status, 200);
      }
      const inClickHouse = async () => {
        const [row] = await onS3.app.clickhouse!.sink.query<{ n: string }>(`SELECT count() AS n FROM default.${table}`);
        return Number(row!.n);
      };
      for (const deadline = Date.now() + 60_000; (await inClickHouse()) < 120_000 && Date.now() < deadline; ) {
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.equal(await inClickHouse(), 120_000);
      await onS3.app.deltaLog!.settle();

      const response = await onS3.admin('POST', `/v1/admin/streams/${stream.name}/compact`);
      const answer = (await response.json()) as { filesIn: number; filesOut: number };
      assert.equal(response.status, 200);
      assert.ok(answer.filesIn >= 12 && answer.filesOut >= 1, JSON.stringify(answer));
      await onS3.app.deltaLog!.settle();

      const { TEST_S3_ENDPOINT: endpoint, TEST_S3_BUCKET: bucket } = process.env;
      const s3Table = `deltaLake('${endpoint}/${bucket}/${stream.name}/', 'S3RVER', 'S3RVER')`;
      const [read] = await queryDelta(lake, `SELECT count() AS n, uniqExact(id) AS ids, uniqExact(_path) AS files FROM ${s3Table}`);
      assert.deepEqual(read, { n: 120_000, ids: 120_000, files: answer.filesOut });
      const files = await onS3.app.db.dataFile.findMany({
        where: { streamId: stream.id, state: 'committed' },
        select: { clickhouseStatus: true },
      });
      assert.deepEqual(
        files.map((file) => file.clickhouseStatus),
        Array(answer.filesOut).fill('done'),
        'the compacted file counts as sent',
      );
      // The forwarder has nothing to send: ClickHouse still holds each row once.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      assert.equal(await inClickHouse(), 120_000);
    } finally {
      await onS3.close();
      await dropDatabase(adminUrl, s3Url);
    }
  });

  it('a compaction and new rows committed together in one Delta version: only the compacted file is dataChange false', {
    timeout: 120_000,
  }, async () => {
    // A database and a lake of their own, and a log written only when told: both land in one version.
    const ownUrl = await createDatabase(adminUrl, 'sluice_compaction_overlap');
    await applyMigrations({ databaseUrl: ownUrl });
    const own = await startTestService({
      env: { DATABASE_URL: ownUrl, DELTA_LOG: 'on', DELTA_COMMIT_DELAY_MS: '600000', DELTA_LOG_POLL_MS: '600000' },
    });
    try {
      const ownLake = (own.config.store as { dir: string }).dir;
      const ownKey = (await own.createKey('*')).key;
      // Partitioned by `at`: rows 1-30 fall in one hour; rows 2201-2300 straddle the next one, so their batch
      // becomes two files (and one more for the rows without a time) committed together.
      const stream = await own.createStream({
        schema: { columns: ALL_TYPES },
        batch: { maxAgeMs: 10 },
        partitioning: { source: 'at', granularity: 'hour' },
      });
      const send = async (rows: typeof ROWS) => {
        const response = await own.post(stream.name, ownKey, toCsv(rows), { 'content-type': 'text/csv' });
        assert.equal(response.status, 200, await response.text());
      };
      for (let i = 0; i < 3; i++) await send(ROWS.slice(i * 10, i * 10 + 10));
      await own.app.deltaLog!.settle();
      const compacted = await own.app.compactor.compactNow(stream.name);
      assert.ok(compacted.length >= 1);
      await send(ROWS.slice(2200, 2300));
      await own.app.deltaLog!.settle();

      const version = logEntries(ownLake, stream.name).find((entry) => entry.actions.some((action) => action.remove))!;
      const adds = version.actions.flatMap((action) => (action.add ? [action.add] : []));
      const compactedPaths = new Set(compacted.map((each) => each.key.slice(stream.name.length + 1)));
      const fresh = adds.filter((add) => !compactedPaths.has(add.path));
      assert.ok(fresh.length >= 2, 'the new batch is in the compaction’s version');
      assert.deepEqual(
        adds.map((add) => [compactedPaths.has(add.path), add.dataChange]),
        adds.map((add) => [compactedPaths.has(add.path), !compactedPaths.has(add.path)]),
      );
      assert.equal(version.actions.find((action) => action.commitInfo)!.commitInfo!.operation, 'WRITE');
      const [count] = await queryDelta(
        ownLake,
        `SELECT count() AS n, uniqExact(id) AS ids FROM deltaLakeLocal('${path.join(ownLake, stream.name)}')`,
      );
      assert.deepEqual(count, { n: 130, ids: 130 });
    } finally {
      await own.close();
      await dropDatabase(adminUrl, ownUrl);
    }
  });

  it('a partition past retention leaves the table in one commit, and the store once vacuumed', { timeout: 120_000 }, async () => {
    const stream = await service.createStream({ schema: { columns: ALL_TYPES }, retentionDays: 30 });
    const answer = (await (
      await service.post(stream.name, key, toCsv(ROWS.slice(0, 100)), { 'content-type': 'text/csv' })
    ).json()) as IngestResultDto;
    // The same rows as if written in 2020: a partition long past 30 days.
    const { db, store } = service.app;
    const old = `${stream.name}/dt=2020-01-01/hour=00/old.parquet`;
    const parquet = await store.get(answer.files[0]!);
    await reserveDataFile(db, { streamId: stream.id, schemaVersion: 1, key: old, rows: 100, bytes: parquet.length, clickhouse: 'skipped' });
    await store.put(old, parquet);
    assert.equal(await commitDataFile(db, old), true);
    await service.app.deltaLog!.settle();
    assert.deepEqual(await queryDelta(lake, `SELECT count() AS n FROM ${table(stream.name)}`), [{ n: 200 }]);

    await service.app.compactor.pass();
    await service.app.deltaLog!.settle();
    assert.deepEqual(await queryDelta(lake, `SELECT count() AS n, min(dt) >= today() - 30 AS recent FROM ${table(stream.name)}`), [
      { n: 100, recent: 1 },
    ]);
    const removal = logEntries(lake, stream.name).find((entry) => entry.actions.some((action) => action.remove))!;
    assert.equal(removal.actions.find((action) => action.commitInfo)!.commitInfo!.operation, 'DELETE');
    assert.deepEqual(
      removal.actions.filter((action) => action.remove).map((action) => [action.remove!.path, action.remove!.dataChange]),
      [['dt=2020-01-01/hour=00/old.parquet', true]],
    );
    // pass() vacuums after it removes (LAKE_VACUUM_HOURS=0 here) only once the log has the removal: the next pass.
    await service.app.compactor.vacuum();
    assert.ok(!parquetObjects(lake, stream.name).some((name) => name.includes('2020-01-01')), 'the old object is gone');
    assert.equal(await db.dataFile.count({ where: { streamId: stream.id } }), 1);
  });
});
