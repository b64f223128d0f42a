/**
 * Event-time partitions, read back through ClickHouse's Delta reader (chdb): rows of one request split by
 * a timestamp column into hourly partitions and by a date column into daily ones, value for value, with
 * `dt` and `hour` matching each row's own time; null times go by ingest time and are counted; a later
 * schema version reads back across partitions.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { applyMigrations } from '@sluice/db/migrate';
import type { IngestResultDto } from '@sluice/shared';
import { createDatabase, DEFAULT_ADMIN_URL, dropDatabase } from '@sluice/testkit';
import { queryDelta, SELECT_TYPED, typedRowOf } from '../test/delta-reader';
import { startTestService, type TestService } from '../test/harness';
import { ALL_TYPES, toCsv, toNdjson, typedRows } from '../test/typed-rows';
import { logKey } from './delta-actions';

const ROWS = typedRows(3000);

describe('event-time partitions', () => {
  let service: TestService;
  let lake: string;
  let key: string;
  const adminUrl = process.env.TEST_ADMIN_DATABASE_URL ?? DEFAULT_ADMIN_URL;
  let databaseUrl: string;
  before(async () => {
    databaseUrl = await createDatabase(adminUrl, 'sluice_partitions');
    await applyMigrations({ databaseUrl });
    service = await startTestService({
      env: { DATABASE_URL: databaseUrl, DELTA_LOG: 'on', DELTA_COMMIT_DELAY_MS: '0', STREAM_CACHE_TTL_MS: '0' },
    });
    lake = (service.config.store as { dir: string }).dir;
    key = (await service.createKey('*')).key;
  });
  after(async () => {
    await service.close();
    await dropDatabase(adminUrl, databaseUrl);
  });

  const table = (stream: string) => `deltaLakeLocal('${path.join(lake, stream)}')`;
  const post = async (stream: string, body: string, type: 'text/csv' | 'application/x-ndjson') => {
    const response = await service.post(stream, key, body, { 'content-type': type });
    const answer = (await response.json()) as IngestResultDto;
    assert.equal(response.status, 200, JSON.stringify(answer));
    return answer;
  };

  it('by a timestamp column, hourly: each row in the hour of its own time, null times in the hour they came', {
    timeout: 120_000,
  }, async () => {
    const stream = await service.createStream({ schema: { columns: ALL_TYPES }, partitioning: { source: 'at', granularity: 'hour' } });
    assert.deepEqual(stream.partitioning, { source: 'at', granularity: 'hour' });
    const sentFrom = Date.now();
    const csv = await post(stream.name, toCsv(ROWS.slice(0, 1500)), 'text/csv');
    await post(stream.name, toNdjson(ROWS.slice(1500)), 'application/x-ndjson');
    const sentUntil = Date.now();
    // A new schema version, then rows with its new column, still by their own time.
    const added = await service.admin('POST', `/v1/admin/streams/${stream.name}/schema`, {
      columns: [...ALL_TYPES, { name: 'note', type: 'string' }],
    });
    assert.equal(added.status, 201);
    const later = ROWS.slice(0, 50).map((row) => ({ ...JSON.parse(toNdjson([row])), id: Number(row.id) + 10_000, note: `n${row.id}` }));
    await post(stream.name, later.map((row) => JSON.stringify(row)).join('\n'), 'application/x-ndjson');
    await service.app.deltaLog!.settle();

    const rows = await queryDelta(
      lake,
      `SELECT ${SELECT_TYPED}, toString(dt) AS dt_text, hour, note FROM ${table(stream.name)} WHERE id <= 3000 ORDER BY id`,
    );
    assert.equal(rows.length, ROWS.length);
    const nullHours = new Set<string>();
    for (let i = 0; i < ROWS.length; i++) {
      const row = rows[i]!;
      assert.deepEqual(typedRowOf(row), ROWS[i], `row ${i + 1}`);
      assert.equal(row.note, null);
      const at = ROWS[i]!.at;
      if (at === null) {
        nullHours.add(`${row.dt_text} ${row.hour}`);
        continue;
      }
      const iso = new Date(Number(at / 1000n)).toISOString();
      assert.deepEqual([row.dt_text, row.hour], [iso.slice(0, 10), Number(iso.slice(11, 13))], `row ${i + 1}'s partition`);
    }
    // Rows without a time are in the hour they were ingested.
    const ingestHours = new Set(
      [sentFrom, sentUntil].map((ms) => new Date(ms).toISOString()).map((iso) => `${iso.slice(0, 10)} ${Number(iso.slice(11, 13))}`),
    );
    for (const hour of nullHours) assert.ok(ingestHours.has(hour), `${hour} is an hour of ingest`);
    const nulls = ROWS.filter((row) => row.at === null).length;
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    assert.match(
      metrics,
      new RegExp(
        `sluice_partition_fallback_rows_total\\{stream="${stream.name}"\\} ${nulls + later.filter((row) => row.at === null).length}`,
      ),
    );

    const notes = await queryDelta(
      lake,
      `SELECT count() AS n, countIf(note = concat('n', toString(id - 10000))) AS right FROM ${table(stream.name)} WHERE id > 10000`,
    );
    assert.deepEqual(notes, [{ n: 50, right: 50 }]);
    // The request's answer names every file its rows went to: one per hour its rows fell in.
    const hours = new Set(
      ROWS.slice(0, 1500).map((row) => (row.at === null ? 'ingest' : new Date(Number(row.at / 1000n)).toISOString().slice(0, 13))),
    );
    assert.ok(csv.files.length >= hours.size - 1, `${csv.files.length} files for ${hours.size} hours`);
  });

  it('by a date column, daily: one partition column, dt, holding each row’s date', { timeout: 120_000 }, async () => {
    const stream = await service.createStream({ schema: { columns: ALL_TYPES }, partitioning: { source: 'day', granularity: 'day' } });
    const sent = ROWS.slice(0, 120);
    await post(stream.name, toCsv(sent), 'text/csv');
    await service.app.deltaLog!.settle();

    const rows = await queryDelta(lake, `SELECT ${SELECT_TYPED}, toString(dt) AS dt_text, _path FROM ${table(stream.name)} ORDER BY id`);
    assert.equal(rows.length, sent.length);
    const today = new Date().toISOString().slice(0, 10);
    for (let i = 0; i < sent.length; i++) {
      assert.deepEqual(typedRowOf(rows[i]!), sent[i]);
      assert.equal(rows[i]!.dt_text, sent[i]!.day ?? today, `row ${i + 1}'s day`);
      assert.ok(!String(rows[i]!._path).includes('hour='), 'no hour folder');
    }
    const first = fs.readFileSync(path.join(lake, logKey(stream.name, 0)), 'utf8');
    const meta = first
      .split('\n')
      .filter((line) => line.startsWith('{"metaData"'))
      .map((line) => JSON.parse(line) as { metaData: { partitionColumns: string[] } })[0]!;
    assert.deepEqual(meta.metaData.partitionColumns, ['dt']);
  });

  it('refuses partitioning by anything but ingest time or a timestamp or date column, and a date by the hour', async () => {
    for (const partitioning of [
      { source: 'label', granularity: 'hour' },
      { source: 'missing', granularity: 'day' },
      { source: 'day', granularity: 'hour' },
    ]) {
      const response = await service.admin('POST', '/v1/admin/streams', {
        name: `p_${Date.now()}`,
        schema: { columns: ALL_TYPES },
        partitioning,
      });
      assert.equal(response.status, 400, JSON.stringify(partitioning));
      const body = (await response.json()) as { error: { message: string } };
      assert.match(body.error.message, /partitioning/);
    }
  });
});
