/**
 * Reading back: the manifest (newest first, paginated) and a file's preview, read from the sink; who may
 * read (the `read` scope), and the preview's limits (bytes fetched, concurrency, files without an index).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { recordDataFile } from '@sluice/db';
import type { ApiKeyScope, CreatedApiKeyDto, DataFileDto, FilePreviewDto } from '@sluice/shared';
import { ADMIN_TOKEN, startTestService, type TestService } from '../test/harness';

let service: TestService;
before(async () => {
  service = await startTestService({ s3: true });
});
after(() => service.close());

async function createKey(streams: string[] | '*', scopes: ApiKeyScope[]): Promise<CreatedApiKeyDto> {
  const response = await service.admin('POST', '/v1/admin/keys', { name: 'files test', streams, scopes });
  assert.equal(response.status, 201);
  return (await response.json()) as CreatedApiKeyDto;
}

function get(route: string, key: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${service.url}${route}`, { ...init, headers: { authorization: `Bearer ${key}` } });
}

function previewRoute(stream: string, key: string, limit = 100): string {
  return `/v1/streams/${stream}/files/preview?key=${encodeURIComponent(key)}&limit=${limit}`;
}

async function expectError(response: Response, status: number, code: string): Promise<void> {
  assert.equal(response.status, status);
  assert.equal(((await response.json()) as { error: { code: string } }).error.code, code);
}

describe('files', () => {
  it('lists a stream’s files newest first, page by page, for a read key or the admin token', async () => {
    const stream = await service.createStream({
      schema: { columns: [{ name: 'id', type: 'int32', nullable: false }] },
      batch: { maxRows: 2 },
    });
    const key = (await createKey([stream.name], ['ingest', 'read'])).key;
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
    assert.equal(
      seen.reduce((total, f) => total + f.rows, 0),
      7,
    );

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
    const key = (await createKey([stream.name], ['ingest', 'read'])).key;
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

describe('403 forbidden: scopes', () => {
  it('an ingest-only key may not list or preview files, a read-only key may not post rows', async () => {
    const stream = await service.createStream({ schema: { columns: [{ name: 'id', type: 'int32', nullable: false }] } });
    const producer = await createKey([stream.name], ['ingest']);
    const reader = await createKey([stream.name], ['read']);
    const posted = await service.post(stream.name, producer.key, 'id\n1\n');
    assert.equal(posted.status, 200);
    const [file] = ((await posted.json()) as { files: string[] }).files;

    await expectError(await get(`/v1/streams/${stream.name}/files`, producer.key), 403, 'auth.scope_forbidden');
    await expectError(await get(previewRoute(stream.name, file!), producer.key), 403, 'auth.scope_forbidden');
    await expectError(await service.post(stream.name, reader.key, 'id\n2\n'), 403, 'auth.scope_forbidden');

    assert.equal((await get(`/v1/streams/${stream.name}/files`, reader.key)).status, 200);
    assert.equal((await get(previewRoute(stream.name, file!), reader.key)).status, 200);
  });
});

describe('preview limits', () => {
  it('reads only the pages holding the first rows, through the offset index', async () => {
    const stream = await service.createStream({
      schema: {
        columns: [
          { name: 'id', type: 'int64', nullable: false },
          { name: 'label', type: 'string', nullable: false },
        ],
      },
      batch: { maxRows: 1_000_000 },
    });
    const key = (await createKey([stream.name], ['ingest', 'read'])).key;
    // Random-looking labels so the pages do not compress away: the file is several MB over many pages.
    let body = 'id,label\n';
    for (let i = 0; i < 200_000; i++) body += `${i},${((i * 2654435761) >>> 0).toString(36)}${((i * 40503) >>> 0).toString(36)}\n`;
    const posted = await service.post(stream.name, key, body);
    assert.equal(posted.status, 200);
    const [file] = ((await posted.json()) as { files: string[] }).files;
    const size = (await service.app.store.size(file!))!;

    const store = service.app.store;
    const get_ = store.get.bind(store);
    let fetched = 0;
    store.get = async (objectKey, range) => {
      const bytes = await get_(objectKey, range);
      fetched += bytes.byteLength;
      return bytes;
    };
    try {
      const response = await get(previewRoute(stream.name, file!), key);
      assert.equal(response.status, 200);
      const preview = (await response.json()) as FilePreviewDto;
      assert.equal(preview.rows, 200_000);
      assert.deepEqual(
        preview.rowsPreview.slice(0, 2).map((row) => row.id),
        ['0', '1'],
      );
      assert.equal(preview.rowsPreview.length, 100);
    } finally {
      Reflect.deleteProperty(store, 'get');
    }
    assert.ok(size > 1_000_000, `a multi-page file (${size} bytes)`);
    assert.ok(fetched < size / 4, `fetched ${fetched} of the file's ${size} bytes`);
  });

  it('PREVIEW_MAX_CONCURRENT at its edge: 4 previews run, a 5th is refused with 429, then previews run again', async () => {
    assert.equal(service.config.preview.maxConcurrent, 4, 'the default');
    const stream = await service.createStream({ schema: { columns: [{ name: 'id', type: 'int32', nullable: false }] } });
    const key = (await createKey([stream.name], ['ingest', 'read'])).key;
    const [file] = ((await (await service.post(stream.name, key, 'id\n1\n2\n')).json()) as { files: string[] }).files;

    // Reads from the store wait at a gate, so previews stay in flight as long as the test wants.
    const store = service.app.store;
    const get_ = store.get.bind(store);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let waiting = 0;
    store.get = async (objectKey, range) => {
      waiting += 1;
      await gate;
      return get_(objectKey, range);
    };
    try {
      const running = Array.from({ length: 4 }, () => get(previewRoute(stream.name, file!), key));
      while (waiting < 4) await new Promise((resolve) => setTimeout(resolve, 10));
      const refused = await get(previewRoute(stream.name, file!), key, { signal: AbortSignal.timeout(5_000) });
      assert.equal(refused.headers.get('retry-after'), '1');
      await expectError(refused, 429, 'preview.busy');
      open();
      for (const response of await Promise.all(running)) assert.equal(response.status, 200);
    } finally {
      open();
      Reflect.deleteProperty(store, 'get');
    }
    assert.equal((await get(previewRoute(stream.name, file!), key)).status, 200);
  });

  it('PREVIEW_MAX_BYTES_WITHOUT_INDEX at its edge: a file without an offset index is previewed up to that size, refused past it', async () => {
    const stream = await service.createStream({ schema: { columns: [{ name: 'id', type: 'int64', nullable: false }] } });
    const key = (await createKey([stream.name], ['read'])).key;
    // parquet-wasm always writes offset indexes; parquetjs-lite can leave them out.
    // @ts-expect-error parquetjs-lite ships no types
    const parquet = (await import('parquetjs-lite')).default;
    const local = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-noindex-')), 'file.parquet');
    const writer = await parquet.ParquetWriter.openFile(new parquet.ParquetSchema({ id: { type: 'INT64' } }), local, {
      pageIndex: false,
      useDataPageV2: false,
    });
    for (let i = 0; i < 5_000; i++) await writer.appendRow({ id: i });
    await writer.close();
    const bytes = fs.readFileSync(local);
    fs.rmSync(path.dirname(local), { recursive: true, force: true });
    const objectKey = `${stream.name}/dt=2026-01-01/hour=00/noindex.parquet`;
    await service.app.store.put(objectKey, bytes);
    await recordDataFile(service.app.db, {
      streamId: stream.id,
      schemaVersion: 1,
      key: objectKey,
      rows: 5_000,
      bytes: bytes.length,
      clickhouse: 'skipped',
    });

    const limits = service.config.preview;
    const configured = limits.maxBytesWithoutIndex;
    assert.equal(configured, 64 * 1024 * 1024, 'the default');
    try {
      limits.maxBytesWithoutIndex = bytes.length;
      const served = await get(previewRoute(stream.name, objectKey, 3), key);
      assert.equal(served.status, 200);
      assert.deepEqual(((await served.json()) as FilePreviewDto).rowsPreview, [{ id: '0' }, { id: '1' }, { id: '2' }]);
      limits.maxBytesWithoutIndex = bytes.length - 1;
      await expectError(await get(previewRoute(stream.name, objectKey, 3), key), 413, 'preview.too_large');
    } finally {
      limits.maxBytesWithoutIndex = configured;
    }
  });
});
