/**
 * The console's metrics straight from a real ingest service (no Prometheus): its /metrics read as JSON,
 * behind METRICS_TOKEN, and turned into rates between two reads.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestService, testDatabaseUrl, type TestService } from '../../../ingest/src/test/harness';

const METRICS_TOKEN = 'console-metrics-token-0123';
let service: TestService;

before(async () => {
  service = await startTestService({ env: { METRICS_TOKEN } });
  // The console's configuration, as its environment would give it.
  process.env.INGEST_URL = service.url;
  process.env.METRICS_TOKEN = METRICS_TOKEN;
  process.env.DATABASE_URL = testDatabaseUrl();
});
after(() => service.close());

describe('metrics from the ingest service', () => {
  it('reads rows/s per stream, p95 latency, queue and memory from /metrics as JSON, with the token', async () => {
    const { readMetrics } = await import('./metrics-source');
    const stream = await service.createStream({
      schema: { columns: [{ name: 'id', type: 'int64', nullable: false }] },
      batch: { maxAgeMs: 100 },
    });
    const { key } = await service.createKey([stream.name]);
    const first = await readMetrics();
    assert.equal(first.source, 'ingest');
    for (let i = 0; i < 5; i++) {
      const response = await service.post(stream.name, key, `id\n${Array.from({ length: 100 }, (_, r) => i * 100 + r).join('\n')}\n`);
      assert.equal(response.status, 200);
    }
    const second = await readMetrics();
    assert.ok((second.rowsPerSecond[stream.name] ?? 0) > 0, `rows/s ${JSON.stringify(second.rowsPerSecond)}`);
    assert.ok(
      second.p95LatencySeconds !== null && second.p95LatencySeconds > 0 && second.p95LatencySeconds < 5,
      `p95 ${second.p95LatencySeconds}`,
    );
    assert.ok(second.memoryBytes > 20 * 1024 * 1024, 'the ingest process memory');
    assert.equal(second.failedUploads, 0);
  });
});
