/**
 * Backpressure: with a small byte budget, concurrent large requests get 429 + Retry-After while the rest
 * complete; the budget (and so memory) stays bounded; retried requests land, and no row is lost or doubled.
 * All-or-nothing requests hold their rows until their body ends, in at most half the budget.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { IngestResultDto } from '@sluice/shared';
import { startTestService, type TestService } from '../test/harness';
import { queryParquet, listStreamObjects, readStream } from '../test/read-back';

const MiB = 1024 * 1024;

function csvBody(first: number, rows: number): string {
  const lines = ['id,payload'];
  for (let i = 0; i < rows; i++) lines.push(`${first + i},${'p'.repeat(60)}-${first + i}`);
  return `${lines.join('\n')}\n`;
}

/** A body sent in slices with pauses, so the request stays in flight while others arrive. */
function slowBody(text: string, sliceBytes = 256 * 1024, pauseMs = 20): ReadableStream<Uint8Array> {
  const bytes = Buffer.from(text);
  let offset = 0;
  return new ReadableStream({
    async pull(controller) {
      if (offset >= bytes.length) return controller.close();
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      controller.enqueue(bytes.subarray(offset, offset + sliceBytes));
      offset += sliceBytes;
    },
  });
}

describe('backpressure', () => {
  let service: TestService;
  before(async () => {
    service = await startTestService({
      env: { QUEUE_MAX_BYTES: String(4 * MiB), QUEUE_HIGH_WATER: '0.5', PIPELINE_WORKERS: '1', INGEST_RETRY_AFTER_SECONDS: '1' },
    });
  });
  after(() => service.close());

  it('answers 429 with Retry-After when busy, keeps memory bounded, and every retried row lands once', async (t) => {
    const stream = await service.createStream({
      schema: {
        columns: [
          { name: 'id', type: 'int64', nullable: false },
          { name: 'payload', type: 'string', nullable: true },
        ],
      },
      batch: { maxRows: 1_000_000, maxBytes: 64 * MiB, maxAgeMs: 2000 },
    });
    const key = (await service.createKey([stream.name])).key;
    const requests = 10;
    const rowsEach = 60_000; // ~4.5 MB of CSV per request: each alone exceeds the whole budget
    const firstRows = 35_000;
    const total = firstRows + (requests - 1) * rowsEach;

    const statuses: number[] = [];
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, service.app.budget.used);
    }, 5);
    const rssBefore = process.memoryUsage().rss;
    let peakRss = rssBefore;
    const rssSampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }, 20);

    const send = async (first: number, count: number, slow = true): Promise<void> => {
      for (let attempt = 0; attempt < 60; attempt++) {
        const text = csvBody(first, count);
        const response = await service.post(stream.name, key, slow ? slowBody(text) : text);
        statuses.push(response.status);
        if (response.status === 429) {
          const retryAfter = Number(response.headers.get('retry-after'));
          assert.ok(retryAfter >= 1, 'Retry-After is set');
          assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'ingest.busy');
          await new Promise((resolve) => setTimeout(resolve, retryAfter * 250));
          continue;
        }
        const body = (await response.json()) as IngestResultDto;
        assert.equal(response.status, 200, JSON.stringify(body));
        assert.equal(body.rowsAccepted, count);
        return;
      }
      assert.fail(`request for rows from ${first} never got through`);
    };
    try {
      // The first request's rows (~2.6 MB parsed) hold the budget between its high-water mark and its
      // maximum while they wait for the batch age; the others arrive while it is that full.
      const first = send(0, firstRows, false);
      const parsedBytes = () => service.app.budget.used;
      while (parsedBytes() < service.config.queue.highWater) await new Promise((resolve) => setTimeout(resolve, 5));
      await Promise.all([first, ...Array.from({ length: requests - 1 }, (_, i) => send(firstRows + i * rowsEach, rowsEach))]);
    } finally {
      clearInterval(sampler);
      clearInterval(rssSampler);
    }

    assert.ok(statuses.includes(429), `some requests were refused while busy (${statuses.join(',')})`);
    assert.equal(statuses.filter((s) => s === 200).length, requests);
    // Parsed rows are counted when they arrive, so the budget can be exceeded by what is already in
    // flight: at most a block per worker and a chunk per request.
    assert.ok(peak <= 4 * MiB + 8 * MiB, `budget peak ${(peak / MiB).toFixed(1)} MiB stays bounded`);
    // The process RSS here also holds the test's own request bodies, so it is reported, not asserted; the
    // benchmark measures the service's RSS on its own.
    t.diagnostic(`budget peak ${(peak / MiB).toFixed(1)} MiB; test process RSS growth ${((peakRss - rssBefore) / MiB).toFixed(0)} MiB`);

    const objects = await listStreamObjects(service.app.store, stream.name);
    const [counts] = await queryParquet(
      service.app.store,
      objects.map((o) => o.key),
      'SELECT count(*)::INTEGER AS n, count(DISTINCT id)::INTEGER AS distinct_ids, min(id)::INTEGER AS lo, max(id)::INTEGER AS hi FROM data',
    );
    assert.deepEqual(counts, { n: total, distinct_ids: total, lo: 0, hi: total - 1 });
    assert.equal(service.app.budget.used, 0, 'every byte of the budget is given back');
  });

  it('answers 413 for an all-or-nothing request whose rows pass half the budget, 429 while others hold it, and stores one that fits', async () => {
    const stream = await service.createStream({
      schema: {
        columns: [
          { name: 'id', type: 'int64', nullable: false },
          { name: 'payload', type: 'string', nullable: true },
        ],
      },
      rejectMode: 'all-or-nothing',
      // Chunks of 8,000 rows (~640 KB parsed): a body's first rows are held while the rest still streams.
      batch: { maxRows: 8_000, maxBytes: 64 * MiB, maxAgeMs: 1000 },
    });
    const key = (await service.createKey([stream.name])).key;
    const budget = service.app.budget;
    assert.equal(budget.holdLimit, 2 * MiB, 'half of QUEUE_MAX_BYTES');

    // ~80 parsed bytes a row: 40,000 rows pass 2 MiB (they would never fit, so waiting would never end).
    const tooLarge = await service.post(stream.name, key, slowBody(csvBody(0, 40_000)));
    assert.equal(tooLarge.status, 413);
    const error = ((await tooLarge.json()) as { error: { code: string; message: string } }).error;
    assert.equal(error.code, 'ingest.payload_too_large');
    assert.match(error.message, /all-or-nothing.*QUEUE_MAX_BYTES \(2097152 bytes\)/);
    assert.equal(budget.used, 0, 'its rows are given back');
    assert.equal(budget.held, 0);

    // 20,000 rows (~1.6 MB parsed) fit: stored whole.
    const fits = await service.post(stream.name, key, csvBody(100_000, 20_000));
    assert.equal(fits.status, 200, await fits.clone().text());
    const ids = (await readStream(service.app.store, stream.name)).map((row) => Number(row.id));
    assert.equal(ids.length, 20_000);
    assert.equal(ids[0], 100_000);
    assert.equal(ids.at(-1), 119_999);
    assert.equal(budget.used, 0);
    assert.equal(budget.held, 0);

    // While one such request holds its first rows, another's would pass the limit together with them:
    // it gets 429 with Retry-After, and the first is stored.
    const first = service.post(stream.name, key, slowBody(csvBody(200_000, 20_000), 128 * 1024, 250));
    for (let waited = 0; budget.held === 0; waited += 5) {
      assert.ok(waited < 10_000, 'the first request holds rows while its body streams');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const second = await service.post(stream.name, key, csvBody(300_000, 20_000));
    assert.equal(second.status, 429);
    assert.ok(Number(second.headers.get('retry-after')) >= 1);
    assert.equal(((await second.json()) as { error: { code: string } }).error.code, 'ingest.busy');
    assert.equal((await first).status, 200);
    const stored = (await readStream(service.app.store, stream.name)).map((row) => Number(row.id));
    assert.equal(stored.length, 40_000);
    assert.equal(stored.filter((id) => id >= 300_000).length, 0);
    assert.equal(budget.used, 0);
    assert.equal(budget.held, 0);
  });
});
