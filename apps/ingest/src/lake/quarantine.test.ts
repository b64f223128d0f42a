/**
 * Rejected rows are stored in the stream's quarantine Delta table: read back through ClickHouse's Delta
 * reader (chdb) with their request, key, line, column, code and text, paged and filtered through the
 * API, downloaded as CSV and NDJSON, and bounded per request by QUARANTINE_MAX_ROWS.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { applyMigrations } from '@sluice/db/migrate';
import type { IngestResultDto, QuarantinePageDto as QuarantinePage, QuarantineRowDto } from '@sluice/shared';
import { createDatabase, DEFAULT_ADMIN_URL, dropDatabase } from '@sluice/testkit';
import { queryDelta } from '../test/delta-reader';
import { startTestService, type TestService } from '../test/harness';

const COLUMNS = [
  { name: 'id', type: 'int64' as const, nullable: false },
  { name: 'name', type: 'string' as const },
  { name: 'qty', type: 'int32' as const },
];

describe('rejected rows are stored in the stream’s quarantine table', () => {
  let service: TestService;
  let lake: string;
  let key: { key: string; id: string };
  const adminUrl = process.env.TEST_ADMIN_DATABASE_URL ?? DEFAULT_ADMIN_URL;
  let databaseUrl: string;
  before(async () => {
    databaseUrl = await createDatabase(adminUrl, 'sluice_quarantine');
    await applyMigrations({ databaseUrl });
    service = await startTestService({ env: { DATABASE_URL: databaseUrl, DELTA_LOG: 'on', DELTA_COMMIT_DELAY_MS: '0' } });
    lake = (service.config.store as { dir: string }).dir;
    key = await service.createKey('*');
  });
  after(async () => {
    await service.close();
    await dropDatabase(adminUrl, databaseUrl);
  });

  const settle = async (target = service) => {
    await target.app.quarantine.settle();
    await target.app.deltaLog!.settle();
  };
  const post = async (stream: string, body: string, type: string, target = service) => {
    const response = await target.post(stream, key.key, body, { 'content-type': type });
    const answer = (await response.json()) as IngestResultDto;
    assert.equal(response.status, 200, JSON.stringify(answer));
    return answer;
  };
  const quarantineTable = (stream: string) => `deltaLakeLocal('${path.join(lake, '_quarantine', stream)}')`;

  it('CSV and NDJSON rejections read back through Delta with their lines, columns, codes and text', { timeout: 120_000 }, async () => {
    const stream = await service.createStream({ schema: { columns: COLUMNS } });
    const long = 'x'.repeat(70_000);
    const csvLines = ['1,ann,3', '2,bob,many', '3,"cy"x,1', '4,dee', '', '5,eve,7', `6,${long},oops`];
    const csv = await post(stream.name, `id,name,qty\n${csvLines.join('\n')}\n`, 'text/csv');
    assert.equal(csv.rowsRejected, 4);
    const ndjsonLines = ['{"id":7,"name":"fay","qty":1}', '{"id":8,"qty":"lots"}', '{not json', '{"name":"no id"}'];
    const ndjson = await post(stream.name, `${ndjsonLines.join('\n')}\n`, 'application/x-ndjson');
    assert.equal(ndjson.rowsRejected, 3);
    await settle();

    const rows = await queryDelta(
      lake,
      `SELECT request_id, key_id, toString(line) AS line, column_name, code, message, raw, rejected_at > now() - 600 AS recent
       FROM ${quarantineTable(stream.name)} ORDER BY rejected_at, line`,
    );
    assert.equal(rows.length, 7);
    const expected = [
      ...csv.errors.map((error) => ({ error, requestId: csv.requestId, raw: csvLines[error.line - 2]! })),
      ...ndjson.errors.map((error) => ({ error, requestId: ndjson.requestId, raw: ndjsonLines[error.line - 1]! })),
    ];
    assert.deepEqual(
      rows.map((row) => ({ ...row, raw: (row.raw as string).slice(0, 100), rawLength: (row.raw as string).length })),
      expected.map(({ error, requestId, raw }) => ({
        request_id: requestId,
        key_id: key.id,
        line: String(error.line),
        column_name: error.column,
        code: error.code,
        message: error.message,
        raw: raw.slice(0, 100),
        // The raw line is cut at 64 KiB.
        rawLength: Math.min(raw.length, 64 * 1024),
        recent: 1,
      })),
    );
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    assert.match(metrics, new RegExp(`sluice_quarantined_rows_total\\{stream="${stream.name}"\\} 7`));
  });

  it('the API pages through the quarantine newest first, filters by code and request, and downloads CSV and NDJSON', {
    timeout: 120_000,
  }, async () => {
    const stream = await service.createStream({ schema: { columns: COLUMNS } });
    const first = await post(stream.name, 'id,name,qty\n1,a,x\n2,b,y\n3,c,4\n', 'text/csv');
    const second = await post(stream.name, 'id,name,qty\n4,d,z\n5,e\n6,f,"g"h\n', 'text/csv');
    await settle();

    const pages: QuarantineRowDto[][] = [];
    let cursor: string | null = null;
    do {
      const query: string = `limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const response = await service.admin('GET', `/v1/streams/${stream.name}/quarantine?${query}`);
      assert.equal(response.status, 200);
      const page = (await response.json()) as QuarantinePage;
      assert.equal(page.totalRows, 5);
      pages.push(page.rows);
      cursor = page.nextCursor;
    } while (cursor);
    assert.deepEqual(
      pages.map((page) => page.length),
      [2, 2, 1],
    );
    const all = pages.flat();
    assert.deepEqual(
      all.map((row) => [row.requestId, row.line]),
      [
        [second.requestId, 4],
        [second.requestId, 3],
        [second.requestId, 2],
        [first.requestId, 3],
        [first.requestId, 2],
      ],
      'newest first',
    );
    assert.deepEqual(
      all.map((row) => row.raw),
      ['6,f,"g"h', '5,e', '4,d,z', '2,b,y', '1,a,x'],
    );

    const byCode = (await (
      await service.admin('GET', `/v1/streams/${stream.name}/quarantine?code=row.field_count`)
    ).json()) as QuarantinePage;
    assert.deepEqual(
      byCode.rows.map((row) => row.raw),
      ['5,e'],
    );
    const byRequest = (await (
      await service.admin('GET', `/v1/streams/${stream.name}/quarantine?request=${first.requestId}`)
    ).json()) as QuarantinePage;
    assert.equal(byRequest.rows.length, 2);

    const csv = await service.admin('GET', `/v1/streams/${stream.name}/quarantine?format=csv&request=${second.requestId}`);
    assert.equal(csv.headers.get('content-type'), 'text/csv; charset=utf-8');
    const csvLines = (await csv.text()).trimEnd().split('\n');
    assert.equal(csvLines[0], 'rejectedAt,requestId,keyId,line,column,code,message,raw');
    assert.equal(csvLines.length, 4);
    assert.ok(csvLines[1]!.endsWith(',"6,f,""g""h"'), csvLines[1]);
    const ndjson = await service.admin('GET', `/v1/streams/${stream.name}/quarantine?format=ndjson`);
    const objects = (await ndjson.text())
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as QuarantineRowDto);
    assert.deepEqual(objects, all);

    const unknown = await service.admin('GET', `/v1/streams/${stream.name}/quarantine?cursor=nonsense`);
    assert.equal(unknown.status, 400);
  });

  it('QUARANTINE_MAX_ROWS bounds the rows stored per request; the answer still reports them all', { timeout: 120_000 }, async () => {
    const bounded = await startTestService({
      env: { DATABASE_URL: databaseUrl, DELTA_LOG: 'on', DELTA_COMMIT_DELAY_MS: '0', LAKE_DIR: lake, QUARANTINE_MAX_ROWS: '3' },
    });
    try {
      const stream = await bounded.createStream({ schema: { columns: COLUMNS } });
      const answer = await post(
        stream.name,
        `id,name,qty\n${[1, 2, 3, 4, 5].map((id) => `${id},n,bad`).join('\n')}\n`,
        'text/csv',
        bounded,
      );
      assert.equal(answer.rowsRejected, 5);
      await settle(bounded);
      const [count] = await queryDelta(
        lake,
        `SELECT count() AS n, min(line) AS first, max(line) AS last FROM ${quarantineTable(stream.name)}`,
      );
      assert.deepEqual(count, { n: 3, first: 2, last: 4 });
    } finally {
      await bounded.close();
    }
  });

  it('past QUARANTINE_BUFFER_BYTES waiting, rejected rows are counted as dropped, not stored; the answer still reports them', {
    timeout: 120_000,
  }, async () => {
    const full = await startTestService({
      env: { DATABASE_URL: databaseUrl, DELTA_LOG: 'on', DELTA_COMMIT_DELAY_MS: '0', LAKE_DIR: lake, QUARANTINE_BUFFER_BYTES: '1' },
    });
    try {
      const stream = await full.createStream({ schema: { columns: COLUMNS } });
      const answer = await post(stream.name, 'id,name,qty\n1,a,bad\n2,b,3\n3,c,worse\n', 'text/csv', full);
      assert.equal(answer.rowsRejected, 2);
      assert.equal(answer.errors.length, 2);
      await settle(full);
      const page = (await (await full.admin('GET', `/v1/streams/${stream.name}/quarantine`)).json()) as QuarantinePage;
      assert.deepEqual([page.totalRows, page.rows.length], [0, 0]);
      const metrics = await (await fetch(`${full.url}/metrics`)).text();
      assert.match(metrics, new RegExp(`sluice_quarantine_dropped_rows_total\\{stream="${stream.name}"\\} 2`));
    } finally {
      await full.close();
    }
  });
});
