/**
 * The ClickHouse sink against a real clickhouse-server (Debian's 18.16: the JSONEachRow path): every
 * column type round-trips, counts match what was accepted, schema versions add columns, and an outage
 * converges with no loss and no duplicates.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { IngestResultDto } from '@sluice/shared';
import { startClickHouse, type ClickHouseServer } from '@sluice/testkit';
import { startTestService, uniqueName, type TestService } from '../test/harness';
import { ALL_TYPES, toCsv, typedRows } from '../test/typed-rows';

function clickhouseUrl(): string {
  const url = process.env.TEST_CLICKHOUSE_URL;
  if (!url) throw new Error('TEST_CLICKHOUSE_URL is not set: run the suite with `npm test`.');
  return url;
}

/** Waits until every file of the stream is in ClickHouse. */
async function converged(service: TestService, stream: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const files = await service.app.db.dataFile.findMany({ where: { stream: { name: stream } } });
    if (files.length > 0 && files.every((f) => f.clickhouseStatus === 'done')) return files;
    if (Date.now() > deadline) throw new Error(`ClickHouse did not converge: ${files.map((f) => f.clickhouseStatus).join(',')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function chQuery<T>(service: TestService, sql: string): Promise<T[]> {
  return service.app.clickhouse!.sink.query<T>(sql);
}

describe('ClickHouse sink', () => {
  let service: TestService;
  let key: string;
  before(async () => {
    service = await startTestService({ env: { CLICKHOUSE_URL: clickhouseUrl(), CLICKHOUSE_POLL_MS: '200' } });
    key = (await service.createKey('*')).key;
  });
  after(() => service.close());

  it('creates the table from the schema and every column type round-trips', async () => {
    const table = uniqueName('events');
    const stream = await service.createStream({
      schema: { columns: ALL_TYPES },
      sinks: { clickhouse: { table, orderBy: ['id'] } },
      batch: { maxRows: 700 },
    });
    const columns = await chQuery<{ name: string; type: string }>(
      service,
      `SELECT name, type FROM system.columns WHERE database = 'default' AND table = '${table}'`,
    );
    assert.deepEqual(
      columns.map((c) => [c.name, c.type]),
      [
        ['id', 'Int64'],
        ['label', 'Nullable(String)'],
        ['qty', 'Nullable(Int32)'],
        ['big', 'Nullable(Int64)'],
        ['price', 'Nullable(Float64)'],
        ['ok', 'Nullable(UInt8)'],
        ['at', "Nullable(DateTime('UTC'))"],
        ['day', 'Nullable(Date)'],
        ['_sluice_file', 'String'],
      ],
      'the table exists as soon as the stream does, typed for this server version',
    );

    const rows = typedRows(2000);
    const response = await service.post(stream.name, key, toCsv(rows));
    const result = (await response.json()) as IngestResultDto;
    assert.equal(response.status, 200);
    const files = await converged(service, stream.name);
    assert.equal(files.length, 3, '2000 rows at maxRows 700');

    const stored = await chQuery<Record<string, unknown>>(service, `SELECT * FROM default.${table} ORDER BY id`);
    assert.equal(stored.length, result.rowsAccepted);
    stored.forEach((row, i) => {
      const expected = rows[i]!;
      assert.deepEqual(
        {
          id: BigInt(row.id as string),
          label: row.label,
          qty: row.qty,
          big: row.big === null ? null : BigInt(row.big as string),
          price: row.price,
          ok: row.ok === null ? null : row.ok === 1,
          at: row.at,
          day: row.day,
        },
        {
          id: expected.id,
          label: expected.label,
          qty: expected.qty,
          big: expected.big,
          price: expected.price,
          ok: expected.ok,
          // DateTime on this server keeps whole seconds.
          at: expected.at === null ? null : new Date(Number(expected.at / 1_000_000n) * 1000).toISOString().slice(0, 19).replace('T', ' '),
          day: expected.day,
        },
        `row ${i + 1}`,
      );
    });
    const perFile = await chQuery<{ f: string; n: string }>(
      service,
      `SELECT _sluice_file AS f, count() AS n FROM default.${table} GROUP BY f`,
    );
    assert.deepEqual(
      perFile.map((p) => [p.f, Number(p.n)]).sort(),
      files.map((f) => [f.id, f.rows]).sort(),
      'each row carries the id of the file it came from',
    );
  });

  it('follows an additive schema version with ADD COLUMN', async () => {
    const table = uniqueName('versions');
    const stream = await service.createStream({
      schema: { columns: [{ name: 'id', type: 'int64', nullable: false }] },
      sinks: { clickhouse: { table } },
    });
    assert.equal((await service.post(stream.name, key, 'id\n1\n2\n')).status, 200);
    await converged(service, stream.name);
    const added = await service.admin('POST', `/v1/admin/streams/${stream.name}/schema`, {
      columns: [
        { name: 'id', type: 'int64', nullable: false },
        { name: 'note', type: 'string', nullable: true },
      ],
    });
    assert.equal(added.status, 201);
    // The stream cache of another replica may lag by STREAM_CACHE_TTL_MS; this one forgets at once.
    assert.equal((await service.post(stream.name, key, 'id,note\n3,hello\n')).status, 200);
    await converged(service, stream.name);
    const stored = await chQuery<{ id: string; note: string | null }>(service, `SELECT id, note FROM default.${table} ORDER BY id`);
    assert.deepEqual(stored, [
      { id: '1', note: null },
      { id: '2', note: null },
      { id: '3', note: 'hello' },
    ]);
  });

  it('refuses a ClickHouse destination when ClickHouse is not configured', async () => {
    const plain = await startTestService();
    try {
      const response = await plain.admin('POST', '/v1/admin/streams', {
        name: uniqueName(),
        schema: { columns: [{ name: 'a', type: 'string' }] },
        sinks: { clickhouse: { table: 'x' } },
      });
      assert.equal(response.status, 400);
    } finally {
      await plain.close();
    }
  });
});

describe('ClickHouse outage', () => {
  let clickhouse: ClickHouseServer;
  let service: TestService;
  before(async () => {
    clickhouse = await startClickHouse(fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-ch-outage-')));
    service = await startTestService({
      env: {
        CLICKHOUSE_URL: clickhouse.url,
        CLICKHOUSE_POLL_MS: '200',
        CLICKHOUSE_REQUEST_TIMEOUT_MS: '3000',
        CLICKHOUSE_RETRY_BASE_MS: '200',
      },
    });
  });
  after(async () => {
    await service.close();
    await clickhouse.stop();
  });

  it('stopped during ingest and started again: Parquet ingestion goes on, ClickHouse converges exactly once', async () => {
    const table = uniqueName('outage');
    const stream = await service.createStream({
      schema: { columns: [{ name: 'id', type: 'int64', nullable: false }] },
      sinks: { clickhouse: { table } },
      batch: { maxRows: 1000, maxAgeMs: 100 },
    });
    const key = (await service.createKey([stream.name])).key;
    const post = async (from: number) => {
      const body = `id\n${Array.from({ length: 2500 }, (_, i) => from + i).join('\n')}\n`;
      const response = await service.post(stream.name, key, body);
      assert.equal(response.status, 200, 'Parquet ingestion does not wait for ClickHouse');
    };
    await post(0);
    await clickhouse.stop();
    await post(2500);
    await post(5000);
    const pending = await service.app.db.dataFile.count({ where: { stream: { name: stream.name }, clickhouseStatus: 'pending' } });
    assert.ok(pending > 0, 'files wait while ClickHouse is down');
    await new Promise((resolve) => setTimeout(resolve, 500));
    await clickhouse.start();
    await converged(service, stream.name, 90_000);
    const [counts] = await chQuery<{ n: string; d: string; lo: string; hi: string }>(
      service,
      `SELECT count() AS n, uniqExact(id) AS d, min(id) AS lo, max(id) AS hi FROM default.${table}`,
    );
    assert.deepEqual(counts, { n: '7500', d: '7500', lo: '0', hi: '7499' });
    const failures = (await service.app.metrics.clickhouseFailures.get()).values[0]?.value ?? 0;
    assert.ok(failures > 0, 'the failed attempts were counted');
    // The gauge follows the manifest (every stream's pending files, this one's none).
    const pendingNow = await service.app.db.dataFile.count({ where: { clickhouseStatus: 'pending' } });
    for (let waited = 0; (await service.app.metrics.clickhousePendingFiles.get()).values[0]?.value !== pendingNow; waited += 100) {
      assert.ok(waited < 10_000, 'the pending gauge follows the manifest');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });
});

describe('a file ClickHouse refuses', () => {
  let service: TestService;
  before(async () => {
    service = await startTestService({
      env: { CLICKHOUSE_URL: clickhouseUrl(), CLICKHOUSE_POLL_MS: '100', CLICKHOUSE_MAX_ATTEMPTS: '3', CLICKHOUSE_RETRY_BASE_MS: '100' },
    });
  });
  after(() => service.close());

  const clickhouseCommand = async (sql: string) => {
    const response = await fetch(clickhouseUrl(), { method: 'POST', body: sql });
    assert.equal(response.status, 200, await response.text());
  };

  it('ends failed after CLICKHOUSE_MAX_ATTEMPTS with its error, never delays another stream, and is sent again on retry', async () => {
    // A table of that name already exists in an engine that cannot add the stream's columns: every
    // attempt at this stream's files fails in ensureTable.
    const badTable = uniqueName('refused');
    await clickhouseCommand(`CREATE TABLE default.${badTable} (x UInt8) ENGINE = Log`);
    const columns = [{ name: 'id', type: 'int64' as const, nullable: false }];
    const bad = await service.createStream({
      schema: { columns },
      sinks: { clickhouse: { table: badTable } },
      batch: { maxRows: 1000, maxAgeMs: 100 },
    });
    const goodTable = uniqueName('accepted');
    const good = await service.createStream({
      schema: { columns },
      sinks: { clickhouse: { table: goodTable } },
      batch: { maxRows: 1000, maxAgeMs: 100 },
    });
    const key = (await service.createKey('*')).key;
    const body = (from: number) => `id\n${Array.from({ length: 2500 }, (_, i) => from + i).join('\n')}\n`;
    assert.equal((await service.post(bad.name, key, body(0))).status, 200);
    assert.equal((await service.post(good.name, key, body(0))).status, 200);

    // The other stream's rows arrive while the refused files are still being tried.
    await converged(service, good.name);
    const [goodCount] = await chQuery<{ n: string }>(service, `SELECT count() AS n FROM default.${goodTable}`);
    assert.equal(goodCount!.n, '2500');

    const deadline = Date.now() + 60_000;
    let files = await service.app.db.dataFile.findMany({ where: { streamId: bad.id } });
    while (!files.every((file) => file.clickhouseStatus === 'failed')) {
      assert.ok(Date.now() < deadline, `still ${files.map((f) => `${f.clickhouseStatus}/${f.clickhouseAttempts}`).join(' ')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
      files = await service.app.db.dataFile.findMany({ where: { streamId: bad.id } });
    }
    assert.equal(files.length, 3);
    for (const file of files) {
      assert.equal(file.clickhouseAttempts, 3);
      assert.match(file.clickhouseError ?? '', /alter/i);
      assert.equal(file.clickhouseClaimedBy, null, 'no lease left behind');
    }
    await service.app.clickhouse!.forwarder.stop(); // settle the gauges: no drain in flight
    const delivery = (await (await service.admin('GET', `/v1/admin/streams/${bad.name}/clickhouse`)).json()) as {
      pending: number;
      failed: number;
      failures: { error: string }[];
    };
    assert.deepEqual([delivery.pending, delivery.failed, delivery.failures.length], [0, 3, 3]);
    const failedNow = await service.app.db.dataFile.count({ where: { clickhouseStatus: 'failed' } });
    assert.ok(failedNow >= 3);
    assert.match(await service.app.metrics.registry.metrics(), new RegExp(`^sluice_clickhouse_failed_files ${failedNow}$`, 'm'));
    service.app.clickhouse!.forwarder.start();

    // The operator mends the table and retries: the files go in, once.
    await clickhouseCommand(`DROP TABLE default.${badTable}`);
    const retried = (await (await service.admin('POST', `/v1/admin/streams/${bad.name}/clickhouse/retry`)).json()) as { retried: number };
    assert.equal(retried.retried, 3);
    await converged(service, bad.name);
    const [badCount] = await chQuery<{ n: string; d: string }>(service, `SELECT count() AS n, uniqExact(id) AS d FROM default.${badTable}`);
    assert.deepEqual(badCount, { n: '2500', d: '2500' });
  });
});

describe('ClickHouse insert format by server version', () => {
  it('sends Parquet from 22.x (whose Arrow reads delta-encoded integers), JSONEachRow before', async () => {
    const { featuresOf } = await import('./clickhouse-sink');
    const pick = (version: string) => {
      const { parquetInput, dateTime64, bool } = featuresOf(version);
      return { parquetInput, dateTime64, bool };
    };
    assert.deepEqual(pick('18.16.1.1'), { parquetInput: false, dateTime64: false, bool: false });
    assert.deepEqual(pick('20.8.3.18'), { parquetInput: false, dateTime64: true, bool: false });
    assert.deepEqual(pick('21.12.1.1'), { parquetInput: false, dateTime64: true, bool: true });
    assert.deepEqual(pick('22.3.2.2'), { parquetInput: true, dateTime64: true, bool: true });
  });

  it('writes timestamps for JSONEachRow as UTC text: microseconds for DateTime64, whole seconds for DateTime', async () => {
    const { featuresOf, jsonValue } = await import('./clickhouse-sink');
    const at = { name: 'at', type: 'timestamp', nullable: true } as const;
    const text = (micros: bigint, version: string) => jsonValue(micros, at, featuresOf(version));
    assert.equal(text(1_700_000_000_123_456n, '21.8.1.1'), '"2023-11-14 22:13:20.123456"');
    assert.equal(text(1_700_000_000_000_007n, '21.8.1.1'), '"2023-11-14 22:13:20.000007"');
    assert.equal(text(-1n, '21.8.1.1'), '"1969-12-31 23:59:59.999999"');
    assert.equal(text(1_700_000_000_123_456n, '18.16.1.1'), '"2023-11-14 22:13:20"');
    assert.equal(text(-1n, '18.16.1.1'), '"1969-12-31 23:59:59"');
  });
});
