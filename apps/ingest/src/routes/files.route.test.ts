/** Reading back: the manifest (newest first, paginated) and a file's preview, read from the sink. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DataFileDto, FilePreviewDto } from '@sluice/shared';
import { ADMIN_TOKEN, startTestService, type TestService } from '../test/harness';

let service: TestService;
before(async () => {
  service = await startTestService({ s3: true });
});
after(() => service.close());

describe('files', () => {
  it('lists a stream’s files newest first, page by page, for a key or the admin token', async () => {
    const stream = await service.createStream({
      schema: { columns: [{ name: 'id', type: 'int32', nullable: false }] },
      batch: { maxRows: 2 },
    });
    const key = (await service.createKey([stream.name])).key;
    const response = await service.post(stream.name, key, 'id\n1\n2\n3\n4\n5\n6\n7\n');
    assert.equal(response.status, 200);
    const answer = (await response.json()) as { files: string[] };
    assert.equal(answer.files.length, 4, 'maxRows 2: 7 rows make 4 files');

    const seen: DataFileDto[] = [];
    let cursor: string | null = null;
    do {
      const url = `${service.url}/v1/streams/${stream.name}/files?limit=3${cursor ? `&cursor=${cursor}` : ''}`;
      const page = (await (await fetch(url, { headers: { authorization: `Bearer ${key}` } })).json()) as {
        files: DataFileDto[];
        nextCursor: string | null;
      };
      seen.push(...page.files);
      cursor = page.nextCursor;
    } while (cursor);
    assert.equal(seen.length, 4);
    assert.deepEqual(seen.map((f) => f.key).sort(), [...answer.files].sort());
    const times = seen.map((f) => f.createdAt);
    assert.deepEqual(times, [...times].sort().reverse(), 'newest first');
    assert.equal(seen.reduce((total, f) => total + f.rows, 0), 7);

    const asAdmin = await fetch(`${service.url}/v1/streams/${stream.name}/files`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(asAdmin.status, 200);
  });

  it('previews a file: schema, row groups and the first rows, as stored', async () => {
    const stream = await service.createStream({
      schema: {
        columns: [
          { name: 'id', type: 'int64', nullable: false },
          { name: 'name', type: 'string', nullable: true },
          { name: 'at', type: 'timestamp', nullable: true },
          { name: 'day', type: 'date', nullable: true },
          { name: 'ok', type: 'boolean', nullable: true },
        ],
      },
    });
    const key = (await service.createKey([stream.name])).key;
    const rows = Array.from({ length: 250 }, (_, i) => `${i},"n ${i}",2024-05-06T07:08:09.123456Z,2024-05-06,${i % 2 === 0}`);
    const response = await service.post(stream.name, key, `id,name,at,day,ok\n${rows.join('\n')}\n`);
    const { files } = (await response.json()) as { files: string[] };
    const preview = (await (
      await fetch(`${service.url}/v1/streams/${stream.name}/files/preview?key=${encodeURIComponent(files[0]!)}&limit=100`, {
        headers: { authorization: `Bearer ${key}` },
      })
    ).json()) as FilePreviewDto;
    assert.equal(preview.rows, 250);
    assert.equal(preview.rowsPreview.length, 100);
    assert.deepEqual(preview.rowsPreview[3], { id: '3', name: 'n 3', at: '2024-05-06T07:08:09.123Z', day: '2024-05-06', ok: false });
    assert.deepEqual(
      preview.columns.map((c) => [c.name, c.physicalType, c.logicalType, c.nullable]),
      [
        ['id', 'INT64', null, false],
        ['name', 'BYTE_ARRAY', 'STRING', true],
        ['at', 'INT64', 'TIMESTAMP(MICROS,UTC)', true],
        ['day', 'INT32', 'DATE', true],
        ['ok', 'BOOLEAN', null, true],
      ],
    );
    assert.equal(preview.rowGroups.length, 1);
    assert.equal(preview.rowGroups[0]?.rows, 250);
    assert.equal(preview.metadata['sluice.stream'], stream.name);

    const missing = await fetch(`${service.url}/v1/streams/${stream.name}/files/preview?key=nope.parquet`, {
      headers: { authorization: `Bearer ${key}` },
    });
    assert.equal(missing.status, 404);
  });
});
