/**
 * Sink faults against a real S3 server that the test stops and starts: rows held during an outage are
 * retried and arrive exactly once; an outage longer than the retries is a 503, never a silent loss.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { IngestResultDto } from '@sluice/shared';
import { startS3rver, type S3Server } from '@sluice/testkit';
import { startTestService, type TestService } from '../test/harness';
import { listStreamObjects, queryParquet } from '../test/read-back';

const columns = [
  { name: 'id', type: 'int64' as const, nullable: false },
  { name: 'v', type: 'string' as const, nullable: true },
];

function rows(from: number, count: number) {
  return `id,v\n${Array.from({ length: count }, (_, i) => `${from + i},v${from + i}`).join('\n')}\n`;
}

describe('S3 outage', () => {
  let s3: S3Server;
  let service: TestService;
  before(async () => {
    s3 = await startS3rver({ dir: fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-s3-fault-')), bucket: 'faults' });
    service = await startTestService({
      env: { ...s3.env, SINK_RETRY_ATTEMPTS: '12', SINK_RETRY_BASE_MS: '100', SINK_RETRY_MAX_MS: '1500', S3_REQUEST_TIMEOUT_MS: '2000' },
    });
  });
  after(async () => {
    await service.close();
    await s3.stop();
  });

  it('the server stopped during a flush and started again: the rows arrive once', async () => {
    const stream = await service.createStream({ schema: { columns }, batch: { maxAgeMs: 200 } });
    const key = (await service.createKey([stream.name])).key;
    const retriesBefore = (await service.app.metrics.uploadRetries.get()).values[0]?.value ?? 0;

    await s3.stop();
    const pending = service.post(stream.name, key, rows(0, 5000));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await s3.start();
    const response = await pending;
    const body = (await response.json()) as IngestResultDto;
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.equal(body.rowsAccepted, 5000);

    const retriesAfter = (await service.app.metrics.uploadRetries.get()).values[0]?.value ?? 0;
    assert.ok(retriesAfter > retriesBefore, 'the upload was retried');
    const objects = await listStreamObjects(service.app.store, stream.name);
    assert.deepEqual(objects.map((o) => o.key).sort(), [...body.files].sort());
    const [counts] = await queryParquet(
      service.app.store,
      objects.map((o) => o.key),
      'SELECT count(*)::INTEGER AS n, count(DISTINCT id)::INTEGER AS d FROM data',
    );
    assert.deepEqual(counts, { n: 5000, d: 5000 });
  });

  it('an outage longer than the retries answers 503, and the service recovers when the store is back', async () => {
    const quick = await startTestService({
      env: { ...s3.env, SINK_RETRY_ATTEMPTS: '3', SINK_RETRY_BASE_MS: '50', SINK_RETRY_MAX_MS: '100', S3_REQUEST_TIMEOUT_MS: '1000' },
    });
    try {
      const stream = await quick.createStream({ schema: { columns }, batch: { maxAgeMs: 100 } });
      const key = (await quick.createKey([stream.name])).key;
      await s3.stop();
      const failed = await quick.post(stream.name, key, rows(0, 100));
      assert.equal(failed.status, 503);
      assert.equal(((await failed.json()) as { error: { code: string } }).error.code, 'sink.unavailable');
      const ready = await fetch(`${quick.url}/readyz`);
      assert.equal(ready.status, 503, 'readiness reports the unreachable store');
      const failedUploads = (await quick.app.metrics.failedUploads.get()).values[0]?.value ?? 0;
      assert.ok(failedUploads >= 1);

      await s3.start();
      const ok = await quick.post(stream.name, key, rows(100, 100));
      assert.equal(ok.status, 200);
      const objects = await listStreamObjects(quick.app.store, stream.name);
      const [counts] = await queryParquet(
        quick.app.store,
        objects.map((o) => o.key),
        'SELECT count(*)::INTEGER AS n, min(id)::INTEGER AS lo FROM data',
      );
      assert.deepEqual(counts, { n: 100, lo: 100 }, 'only the acknowledged rows are stored');
    } finally {
      await quick.close();
    }
  });
});
