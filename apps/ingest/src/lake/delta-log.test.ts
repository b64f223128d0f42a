/**
 * Each stream is a Delta Lake table: rows sent over HTTP read back through ClickHouse's Delta reader (chdb),
 * value for value, with their partitions; the log follows schema versions, leaves out files the manifest
 * never committed, and catches up when it fell behind the manifest.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { commitDataFile, reserveDataFile } from '@sluice/db';
import { applyMigrations } from '@sluice/db/migrate';
import { createDatabase, DEFAULT_ADMIN_URL, dropDatabase } from '@sluice/testkit';
import type { IngestResultDto } from '@sluice/shared';
import { logEntries, logVersions, queryDelta, SELECT_TYPED, typedRowOf } from '../test/delta-reader';
import { startTestService, type TestService } from '../test/harness';
import { startServiceProcess } from '../test/service-process';
import { ALL_TYPES, toCsv, toNdjson, typedRows } from '../test/typed-rows';
import { addAction, checkpointKey, lastCheckpointKey, logKey, serializeCommit } from './delta-actions';

const ROWS = typedRows(3000);
const SELECT_TYPED_PARTITIONED = `${SELECT_TYPED}, toString(dt) AS dt_text, hour, _path`;

/** Every add action's path in the log, in version order. */
function addedPaths(lake: string, stream: string): string[] {
  return logEntries(lake, stream).flatMap((entry) => entry.actions.flatMap((action) => (action.add ? [action.add.path] : [])));
}

describe('each stream is a Delta Lake table', () => {
  let service: TestService;
  let lake: string;
  let key: string;
  // A database of its own: a log writer catches up every stream of its database, and other suites' streams
  // live in other lakes.
  const adminUrl = process.env.TEST_ADMIN_DATABASE_URL ?? DEFAULT_ADMIN_URL;
  let databaseUrl: string;
  before(async () => {
    databaseUrl = await createDatabase(adminUrl, 'sluice_delta');
    await applyMigrations({ databaseUrl });
    service = await startTestService({ env: { DATABASE_URL: databaseUrl, DELTA_LOG: 'on', STREAM_CACHE_TTL_MS: '0' } });
    lake = (service.config.store as { dir: string }).dir;
    key = (await service.createKey('*')).key;
  });
  after(async () => {
    await service.close();
    await dropDatabase(adminUrl, databaseUrl);
  });

  /** The table function reading the stream's table (by absolute path, inside the reader's working folder). */
  const table = (stream: string) => `deltaLakeLocal('${path.join(lake, stream)}')`;
  const post = async (stream: string, body: string, type: 'text/csv' | 'application/x-ndjson') => {
    const response = await service.post(stream, key, body, { 'content-type': type });
    const answer = (await response.json()) as IngestResultDto;
    assert.equal(response.status, 200, JSON.stringify(answer));
    return answer;
  };

  it('CSV and NDJSON read back through Delta value for value, with dt and hour from their folders', { timeout: 120_000 }, async () => {
    const stream = await service.createStream({ schema: { columns: ALL_TYPES } });
    await post(stream.name, toCsv(ROWS.slice(0, 1500)), 'text/csv');
    await post(stream.name, toNdjson(ROWS.slice(1500)), 'application/x-ndjson');
    await service.app.deltaLog!.settle();

    const rows = await queryDelta(lake, `SELECT ${SELECT_TYPED_PARTITIONED} FROM ${table(stream.name)} ORDER BY id`);
    assert.equal(rows.length, ROWS.length);
    for (let i = 0; i < ROWS.length; i++) assert.deepEqual(typedRowOf(rows[i]!), ROWS[i], `row ${i + 1}`);
    for (const row of rows) {
      const folder = `dt=${row.dt_text}/hour=${String(row.hour).padStart(2, '0')}/`;
      assert.ok(String(row._path).includes(folder), `${row._path} is in ${folder}`);
    }
    const versions = logVersions(lake, stream.name);
    assert.deepEqual(
      versions,
      versions.map((_, i) => i),
      'versions from 0, with no gaps',
    );
    const adds = addedPaths(lake, stream.name);
    assert.equal(new Set(adds).size, adds.length, 'each file added once');
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    assert.ok(
      metrics.includes(`sluice_delta_files_added_total{stream="${stream.name}"} ${adds.length}`),
      'the metric counts the files added',
    );
    assert.ok(metrics.includes(`sluice_delta_versions_total{stream="${stream.name}"} ${versions.length}`), 'and the versions');
  });

  it("each add carries the file's statistics: rows, bounds that hold its values, and null counts", { timeout: 120_000 }, async () => {
    const stream = await service.createStream({ schema: { columns: ALL_TYPES } });
    await post(stream.name, toCsv(ROWS.slice(0, 700)), 'text/csv');
    await post(stream.name, toNdjson(ROWS.slice(700, 2000)), 'application/x-ndjson');
    await service.app.deltaLog!.settle();
    const perFile = await queryDelta(
      lake,
      `SELECT _path, count() AS n, toString(min(id)) AS min_id, toString(max(id)) AS max_id, toString(min(big)) AS min_big,
         toString(max(big)) AS max_big, min(qty) AS min_qty, max(qty) AS max_qty, min(price) AS min_price, max(price) AS max_price,
         toString(min(day)) AS min_day, toString(max(day)) AS max_day, toUnixTimestamp64Micro(min(at)) / 1000 AS min_at_ms,
         toUnixTimestamp64Micro(max(at)) / 1000 AS max_at_ms, countIf(label IS NULL) AS null_label, countIf(ok IS NULL) AS null_ok
       FROM ${table(stream.name)} GROUP BY _path`,
    );
    const adds = logVersions(lake, stream.name).flatMap((version) =>
      fs
        .readFileSync(path.join(lake, logKey(stream.name, version)), 'utf8')
        .split('\n')
        .filter((line) => line.startsWith('{"add"'))
        .map((line) => (JSON.parse(line) as { add: { path: string; stats: string } }).add),
    );
    assert.equal(adds.length, perFile.length);
    for (const add of adds) {
      const file = perFile.find((row) => String(row._path).endsWith(add.path))!;
      assert.ok(file, `${add.path} is read`);
      const stats = JSON.parse(add.stats) as Record<string, Record<string, unknown>> & { numRecords: number };
      // 64-bit bounds are read from the text: JSON numbers past 2^53 lose digits in JavaScript.
      const raw = (bound: 'minValues' | 'maxValues', column: string) =>
        new RegExp(`"${bound}":\\{[^}]*"${column}":(-?\\d+)`).exec(add.stats)?.[1];
      assert.equal(stats.numRecords, file.n);
      assert.deepEqual([raw('minValues', 'id'), raw('maxValues', 'id')], [file.min_id, file.max_id]);
      assert.deepEqual([raw('minValues', 'big'), raw('maxValues', 'big')], [file.min_big, file.max_big]);
      assert.deepEqual([stats.minValues!.qty, stats.maxValues!.qty], [file.min_qty, file.max_qty]);
      assert.deepEqual([stats.minValues!.price, stats.maxValues!.price], [file.min_price, file.max_price]);
      assert.deepEqual([stats.minValues!.day, stats.maxValues!.day], [file.min_day, file.max_day]);
      // Timestamps to the millisecond, widened: the minimum rounded down, the maximum up.
      assert.equal(Date.parse(stats.minValues!.at as string), Math.floor(file.min_at_ms as number));
      assert.equal(Date.parse(stats.maxValues!.at as string), Math.ceil(file.max_at_ms as number));
      assert.ok((stats.minValues!.label as string) <= (stats.maxValues!.label as string));
      assert.equal(stats.maxValues!.ok, undefined, 'no bounds for booleans');
      assert.deepEqual([stats.nullCount!.label, stats.nullCount!.ok, stats.nullCount!.id], [file.null_label, file.null_ok, 0]);
    }
  });

  it('a new schema version is a metaData action: older rows read null in its new column', { timeout: 120_000 }, async () => {
    const stream = await service.createStream({ schema: { columns: ALL_TYPES } });
    await post(stream.name, toCsv(ROWS.slice(0, 100)), 'text/csv');
    await service.app.deltaLog!.settle();
    const added = await service.admin('POST', `/v1/admin/streams/${stream.name}/schema`, {
      columns: [...ALL_TYPES, { name: 'note', type: 'string' }],
    });
    assert.equal(added.status, 201, await added.text());
    const withNote = ROWS.slice(100, 150).map((row) => ({ ...JSON.parse(toNdjson([row])), note: `n${row.id}` }));
    await post(stream.name, withNote.map((row) => JSON.stringify(row)).join('\n'), 'application/x-ndjson');
    await service.app.deltaLog!.settle();

    const rows = await queryDelta(lake, `SELECT note FROM ${table(stream.name)} ORDER BY id`);
    assert.equal(rows.length, 150);
    assert.deepEqual(
      rows.map((row) => row.note),
      [...Array(100).fill(null), ...ROWS.slice(100, 150).map((row) => `n${row.id}`)],
    );
    const metaDataVersions = logVersions(lake, stream.name).filter((version) =>
      fs.readFileSync(path.join(lake, logKey(stream.name, version)), 'utf8').includes('{"metaData"'),
    );
    assert.equal(metaDataVersions.length, 2, 'the first schema at version 0, the second when it came');
  });

  it('a file put in the store but never committed in the manifest is not in the table', { timeout: 120_000 }, async () => {
    const stream = await service.createStream({ schema: { columns: ALL_TYPES } });
    const answer = await post(stream.name, toCsv(ROWS.slice(0, 200)), 'text/csv');
    // The same bytes again under another key, its manifest row left `writing` (the put happened, the commit never did).
    const orphan = answer.files[0]!.replace(/[^/]+\.parquet$/, 'zzzzorphan.parquet');
    await service.app.store.put(orphan, await service.app.store.get(answer.files[0]!));
    await reserveDataFile(service.app.db, {
      streamId: stream.id,
      schemaVersion: 1,
      key: orphan,
      rows: 200,
      bytes: 1,
      clickhouse: 'skipped',
    });
    await service.app.deltaLog!.settle();

    const [count] = await queryDelta(lake, `SELECT count() AS n, uniqExact(_path) AS files FROM ${table(stream.name)}`);
    assert.deepEqual(count, { n: 200, files: 1 });
    assert.ok(!addedPaths(lake, stream.name).some((added) => added.includes('zzzzorphan')));
  });

  it('a log behind the manifest is caught up: files committed while it was off, and a version put but never recorded', {
    timeout: 120_000,
  }, async () => {
    // A replica with the log off commits files; this one catches up from the manifest.
    const off = await startTestService({ env: { DATABASE_URL: databaseUrl, DELTA_LOG: 'off', LAKE_DIR: lake } });
    const stream = await off.createStream({ schema: { columns: ALL_TYPES } });
    const offKey = (await off.createKey('*')).key;
    const first = await off.post(stream.name, offKey, toCsv(ROWS.slice(0, 300)), { 'content-type': 'text/csv' });
    assert.equal(first.status, 200);
    assert.equal(fs.existsSync(path.join(lake, stream.name, '_delta_log')), false, 'no log while it is off');

    // A writer that died between putting version 0 and recording it: its entry is in the store.
    const files = await service.app.db.dataFile.findMany({ where: { streamId: stream.id, state: 'committed' } });
    const second = await off.post(stream.name, offKey, toCsv(ROWS.slice(300, 600)), { 'content-type': 'text/csv' });
    assert.equal(second.status, 200);
    await off.close();
    const { metaData, PROTOCOL } = await import('./delta-actions');
    await service.app.store.put(
      logKey(stream.name, 0),
      serializeCommit({
        commitInfo: {
          timestamp: Date.now(),
          operation: 'CREATE TABLE',
          operationParameters: {},
          engineInfo: 'Sluice',
          sluiceSchemaVersion: 1,
        },
        protocol: PROTOCOL,
        metaData: metaData(stream.id, ALL_TYPES, Date.now()),
        adds: files.map((file) => addAction(stream.name, { ...file, bytes: Number(file.bytes) })),
      }),
    );

    await service.app.deltaLog!.settle();
    const [count] = await queryDelta(lake, `SELECT count() AS n, uniqExact(id) AS ids FROM ${table(stream.name)}`);
    assert.deepEqual(count, { n: 600, ids: 600 });
    const adds = addedPaths(lake, stream.name);
    assert.equal(new Set(adds).size, adds.length, 'the files of the version found are not added again');
    const behind = await service.app.db.dataFile.count({ where: { streamId: stream.id, state: 'committed', deltaVersion: null } });
    assert.equal(behind, 0, 'every committed file has its version');
  });

  it('a service killed between its manifest commits and its log: the next start catches the log up', { timeout: 180_000 }, async () => {
    // A database and a lake of their own: the in-process service's writer would otherwise catch the log up first.
    const ownUrl = await createDatabase(adminUrl, 'sluice_delta_kill');
    await applyMigrations({ databaseUrl: ownUrl });
    const ownLake = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-delta-kill-'));
    // The first process writes no log for ten minutes after a commit: it is killed long before.
    const env = { DATABASE_URL: ownUrl, LAKE_DIR: ownLake, DELTA_LOG: 'on' };
    const first = await startServiceProcess({ ...env, DELTA_COMMIT_DELAY_MS: '600000', DELTA_LOG_POLL_MS: '600000' });
    let second: Awaited<ReturnType<typeof startServiceProcess>> | null = null;
    try {
      const created = await first.admin('POST', '/v1/admin/streams', { name: 'killed_log', schema: { columns: ALL_TYPES } });
      assert.equal(created.status, 201);
      const { key: ownKey } = (await (await first.admin('POST', '/v1/admin/keys', { name: 'k', streams: '*' })).json()) as { key: string };
      const response = await fetch(`${first.url}/v1/streams/killed_log/rows`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ownKey}`, 'content-type': 'text/csv' },
        body: toCsv(ROWS.slice(0, 500)),
      });
      assert.equal(response.status, 200, await response.text());
      await first.kill();
      const logDir = path.join(ownLake, 'killed_log', '_delta_log');
      const added = () =>
        fs.existsSync(logDir)
          ? fs.readdirSync(logDir).some((name) => fs.readFileSync(path.join(logDir, name), 'utf8').includes('{"add"'))
          : false;
      assert.equal(added(), false, 'the files are committed, the log has none of them');

      second = await startServiceProcess(env);
      let count: Record<string, unknown>[] = [];
      for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 500))) {
        if (!added()) continue;
        count = await queryDelta(
          ownLake,
          `SELECT count() AS n, uniqExact(id) AS ids FROM deltaLakeLocal('${path.join(ownLake, 'killed_log')}')`,
        );
        if (count[0]?.n === 500) break;
      }
      assert.deepEqual(count, [{ n: 500, ids: 500 }]);
    } finally {
      await first.kill();
      await second?.stop();
      fs.rmSync(ownLake, { recursive: true, force: true });
      await dropDatabase(adminUrl, ownUrl);
    }
  });

  it("two replicas writing one stream's log: one version at a time, every file added once", { timeout: 120_000 }, async () => {
    const other = await startTestService({
      env: { DATABASE_URL: databaseUrl, DELTA_LOG: 'on', LAKE_DIR: lake, DELTA_COMMIT_DELAY_MS: '0' },
    });
    try {
      const stream = await service.createStream({ schema: { columns: ALL_TYPES } });
      // Twelve requests, half to each replica, at once: both wake their writers for the same stream.
      const answers = await Promise.all(
        Array.from({ length: 12 }, (_, i) => {
          const target = i % 2 === 0 ? service : other;
          const rows = ROWS.slice(i * 100, i * 100 + 100);
          return target.post(stream.name, key, toCsv(rows), { 'content-type': 'text/csv' });
        }),
      );
      assert.deepEqual(
        answers.map((answer) => answer.status),
        Array(12).fill(200),
      );
      await Promise.all([service.app.deltaLog!.settle(), other.app.deltaLog!.settle()]);
      // Whichever replica held the lease last gives it up when it stops; the other may still hold it.
      await other.close();
      await service.app.deltaLog!.settle();

      const versions = logVersions(lake, stream.name);
      assert.deepEqual(versions, [...Array(versions.length).keys()], 'no gaps');
      const adds = addedPaths(lake, stream.name);
      assert.equal(new Set(adds).size, adds.length, 'each file added once');
      const files = await service.app.db.dataFile.findMany({
        where: { streamId: stream.id, state: 'committed' },
        select: { objectKey: true, deltaVersion: true },
      });
      assert.deepEqual(
        adds.sort(),
        files.map((file) => file.objectKey.slice(stream.name.length + 1)).sort(),
        'the log adds exactly the committed files',
      );
      assert.ok(files.every((file) => file.deltaVersion !== null));
      const [count] = await queryDelta(lake, `SELECT count() AS n, uniqExact(id) AS ids FROM ${table(stream.name)}`);
      assert.deepEqual(count, { n: 1200, ids: 1200 });
    } finally {
      await other.close().catch(() => {});
    }
  });

  it("on S3 the same: the table read through the S3 server with ClickHouse's deltaLake", { timeout: 120_000 }, async () => {
    // A database of its own: a writer with another store on the same database (the suite's service, on the
    // local lake) could take the stream's log lease and write versions there.
    const s3Url = await createDatabase(adminUrl, 'sluice_delta_s3');
    await applyMigrations({ databaseUrl: s3Url });
    const onS3 = await startTestService({ s3: true, env: { DATABASE_URL: s3Url, DELTA_LOG: 'on' } });
    try {
      const s3Key = (await onS3.createKey('*')).key;
      const stream = await onS3.createStream({ schema: { columns: ALL_TYPES } });
      for (const [body, type] of [
        [toCsv(ROWS.slice(0, 400)), 'text/csv'],
        [toNdjson(ROWS.slice(400, 800)), 'application/x-ndjson'],
      ] as const) {
        const response = await onS3.post(stream.name, s3Key, body, { 'content-type': type });
        assert.equal(response.status, 200);
      }
      await onS3.app.deltaLog!.settle();
      const { TEST_S3_ENDPOINT: endpoint, TEST_S3_BUCKET: bucket } = process.env;
      // s3rver takes any credentials; these are its defaults.
      const s3Table = `deltaLake('${endpoint}/${bucket}/${stream.name}/', 'S3RVER', 'S3RVER')`;
      const rows = await queryDelta(lake, `SELECT ${SELECT_TYPED} FROM ${s3Table} ORDER BY id`);
      assert.equal(rows.length, 800);
      for (let i = 0; i < 800; i++) assert.deepEqual(typedRowOf(rows[i]!), ROWS[i], `row ${i + 1}`);
    } finally {
      await onS3.close();
      await dropDatabase(adminUrl, s3Url);
    }
  });

  it('1,000 versions with a checkpoint every 100 read back right, also from the checkpoint alone once the commits it covers are gone', {
    timeout: 300_000,
  }, async () => {
    const stream = await service.createStream({ schema: { columns: ALL_TYPES } });
    const answer = await post(stream.name, toCsv(ROWS.slice(0, 10)), 'text/csv');
    await service.app.deltaLog!.settle();
    const { db, store } = service.app;
    const parquet = await store.get(answer.files[0]!);
    // 999 more files, a version each: the same 10 rows under new keys, committed one by one.
    for (let i = 1; i < 1000; i++) {
      const key = `${stream.name}/dt=2026-12-02/hour=04/copy${String(i).padStart(4, '0')}.parquet`;
      await reserveDataFile(db, { streamId: stream.id, schemaVersion: 1, key, rows: 10, bytes: parquet.length, clickhouse: 'skipped' });
      await store.put(key, parquet);
      assert.equal(await commitDataFile(db, key), true);
      await service.app.deltaLog!.catchUp(stream.id);
    }
    // A version per file, after the table's creation (which may come before the first file, in a version of its own).
    const versions = logVersions(lake, stream.name);
    const last = versions[versions.length - 1]!;
    assert.deepEqual(versions, [...Array(last + 1).keys()], 'no gaps');
    assert.ok(last === 999 || last === 1000, `${last + 1} versions`);
    const checkpoint = Math.floor(last / 100) * 100;
    const addsUpTo = (version: number) =>
      versions
        .filter((v) => v <= version)
        .flatMap((v) => fs.readFileSync(path.join(lake, logKey(stream.name, v)), 'utf8').split('\n'))
        .filter((line) => line.startsWith('{"add"')).length;
    // The protocol, the metaData, and an add for each file of the versions it covers.
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(lake, lastCheckpointKey(stream.name)), 'utf8')), {
      version: checkpoint,
      size: 2 + addsUpTo(checkpoint),
    });
    for (let version = 100; version <= checkpoint; version += 100)
      assert.ok(fs.existsSync(path.join(lake, checkpointKey(stream.name, version))));

    const count = `SELECT count() AS n, uniqExact(_path) AS files FROM ${table(stream.name)}`;
    assert.deepEqual(await queryDelta(lake, count), [{ n: 10_000, files: 1000 }]);
    // The commits up to the checkpoint removed: a reader finds the table from the checkpoint and the commits after it.
    for (let version = 0; version <= checkpoint; version++) fs.rmSync(path.join(lake, logKey(stream.name, version)));
    assert.deepEqual(await queryDelta(lake, count), [{ n: 10_000, files: 1000 }]);
  });
});
