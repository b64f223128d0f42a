/**
 * The committer over a real service: batches of one stream are encoded by several workers at once, and
 * still recorded in the manifest in the order they were flushed (the order of their object keys).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { IngestResultDto } from '@sluice/shared';
import { startTestService, type TestService } from '../test/harness';

let service: TestService;
before(async () => {
  service = await startTestService({ env: { PIPELINE_WORKERS: '2', ENCODE_WORKERS: '2' } });
});
after(() => service.close());

describe('Committer', () => {
  it('records the files of one stream in flush order while two encoders work on them', async () => {
    const stream = await service.createStream({
      schema: {
        columns: [
          { name: 'id', type: 'int64', nullable: false },
          { name: 'text', type: 'string', nullable: true },
        ],
      },
      batch: { maxRows: 1000 },
    });
    const { key } = await service.createKey([stream.name]);
    const rows = 40_000;
    const body = `id,text\n${Array.from({ length: rows }, (_, i) => `${i},row ${i} ${'x'.repeat(i % 50)}`).join('\n')}\n`;
    const response = await service.post(stream.name, key, body);
    const result = (await response.json()) as IngestResultDto;
    assert.equal(response.status, 200, JSON.stringify(result));
    assert.equal(result.rowsAccepted, rows);
    const recorded = await service.app.db.$queryRawUnsafe<{ objectKey: string }[]>(
      'SELECT "objectKey" FROM "DataFile" WHERE "streamId" = $1 ORDER BY "createdAt", "id"',
      stream.id,
    );
    assert.ok(recorded.length >= rows / 1000, `${recorded.length} files`);
    const keys = recorded.map((file) => file.objectKey);
    assert.deepEqual(keys, [...keys].sort(), 'manifest order is flush (key) order');
  });
});
