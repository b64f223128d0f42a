/**
 * Sink faults against a real S3 server that the test stops and starts: rows held during an outage are
 * retried and arrive exactly once; an outage longer than the retries is a 503, never a silent loss; a
 * keyed request cut by one and retried with its Idempotency-Key stores each row once.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { IngestResultDto } from '@sluice/shared';
import { startS3rver, type S3Server } from '@sluice/testkit';
import { Int64, Utf8, vectorFromArray } from 'apache-arrow';
import { dataOf, ipcStream } from '../test/arrow-data';
import { doPut, flightClient, flightData, pathTo } from '../test/flight-client';
import { startTestService, type TestService } from '../test/harness';
import { csvPieces, pacedBody } from '../test/paced-body';
import { countCommitted, listCommittedFiles, listStreamObjects, queryParquet } from '../test/read-back';

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

  it('a keyed 300,000-row request cut by an outage (503) and retried stores each row once', async () => {
    const quick = await startTestService({
      env: { ...s3.env, SINK_RETRY_ATTEMPTS: '3', SINK_RETRY_BASE_MS: '50', SINK_RETRY_MAX_MS: '100', S3_REQUEST_TIMEOUT_MS: '1000' },
    });
    let stopped = false;
    try {
      const stream = await quick.createStream({ schema: { columns }, batch: { maxRows: 20_000 } });
      const key = (await quick.createKey([stream.name])).key;
      const total = 300_000;
      const pieces = csvPieces(total, 5000);
      // 5,000 rows every 40 ms: the store goes away while the body still arrives, files committed before.
      const paced = pacedBody(pieces, 40);
      const pending = quick.post(stream.name, key, paced.body, { 'idempotency-key': 'outage' });
      for (let waited = 0; (await listCommittedFiles(quick.admin, stream.name)).length < 3; waited += 50) {
        assert.ok(waited < 30_000, 'files were committed before the outage');
        await sleep(50);
      }
      await s3.stop();
      stopped = true;
      assert.ok(paced.sent() < pieces.length, 'the store went away before the body was sent whole');
      const failed = await pending;
      assert.equal(failed.status, 503, await failed.clone().text());
      assert.equal(((await failed.json()) as { error: { code: string } }).error.code, 'sink.unavailable');
      await s3.start();
      stopped = false;

      // What the first attempt committed before the outage (reading it needs the store back).
      const stored = await countCommitted(quick.app.store, quick.admin, stream.name);
      assert.ok(stored.n > 0 && stored.n < total, `${stored.n} rows committed before the outage`);
      assert.equal(stored.d, stored.n);

      const retry = await quick.post(stream.name, key, pieces.join(''), { 'idempotency-key': 'outage' });
      const answer = (await retry.json()) as IngestResultDto;
      assert.equal(retry.status, 200, JSON.stringify(answer));
      assert.equal(answer.rowsAccepted, total, 'the answer counts the whole body');
      assert.equal(answer.rowsAlreadyStored, stored.n, 'the rows committed before the outage, skipped');
      assert.deepEqual(await countCommitted(quick.app.store, quick.admin, stream.name), { n: total, d: total }, 'each row exactly once');
    } finally {
      if (stopped) await s3.start();
      await quick.close();
    }
  });

  it('Arrow Flight is held back while the store is down (HTTP/2 flow control), nothing refused, and every row lands once', async () => {
    const MiB = 1024 * 1024;
    const held = await startTestService({
      env: {
        ...s3.env,
        QUEUE_MAX_BYTES: String(4 * MiB),
        SINK_RETRY_ATTEMPTS: '20',
        SINK_RETRY_BASE_MS: '100',
        SINK_RETRY_MAX_MS: '500',
        S3_REQUEST_TIMEOUT_MS: '1000',
      },
    });
    const client = flightClient(`127.0.0.1:${held.app.flight!.port}`);
    try {
      const stream = await held.createStream({ schema: { columns }, batch: { maxRows: 50_000, maxAgeMs: 100 } });
      const key = (await held.createKey([stream.name])).key;
      // 160 batches of 2,000 rows of random text (~220 KB each): about 35 MB, and about half that as
      // Parquet (random hex does not compress below 4 bits a character), four times the byte budget.
      const batches = Array.from({ length: 160 }, (_, b) => ({
        id: dataOf(
          new Int64(),
          Array.from({ length: 2000 }, (_, i) => BigInt(b * 2000 + i)),
          BigInt64Array,
        ),
        v: vectorFromArray(
          Array.from({ length: 2000 }, () => randomBytes(50).toString('hex')),
          new Utf8(),
        ).data[0]!,
      }));
      const messages = flightData(ipcStream(batches), pathTo(stream.name));
      await s3.stop();
      let written = 0;
      let peakQueue = 0;
      const sampler = setInterval(() => {
        peakQueue = Math.max(peakQueue, held.app.budget.used);
      }, 20);
      const pending = doPut(client, key, messages, { onWritten: (count) => (written = count) });
      await sleep(2500);
      const stalledAt = written;
      await sleep(1000);
      assert.ok(written < messages.length / 2, `the producer was held back (${written} of ${messages.length} messages taken)`);
      assert.equal(written, stalledAt, 'no message was taken while the budget was full');
      await s3.start();
      const put = await pending;
      clearInterval(sampler);
      assert.ok(put.ok, JSON.stringify(put));
      assert.equal(put.result.rowsAccepted, 320_000);
      assert.ok(peakQueue <= 5 * MiB, `the budget held (${peakQueue} bytes at most)`);
      const [counts] = await queryParquet(
        held.app.store,
        (await listStreamObjects(held.app.store, stream.name)).map((o) => o.key),
        'SELECT count(*)::INTEGER AS n, count(DISTINCT id)::INTEGER AS d FROM data',
      );
      assert.deepEqual(counts, { n: 320_000, d: 320_000 });
    } finally {
      client.close();
      await held.close();
    }
  });
});
