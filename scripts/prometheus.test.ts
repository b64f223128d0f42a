/**
 * Prometheus scrapes a running ingest service, and the console's metrics source, with PROMETHEUS_URL set,
 * returns the series the charts need (rows/s by stream, p95 latency, queue, failures, memory). The shipped
 * recording rules load and produce their series too. The first sample lands a few seconds after start:
 * everything here polls.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { freePort, spawnService, startPrometheus, waitForHttp } from '@sluice/testkit';

const root = path.resolve(import.meta.dirname, '..');
const ADMIN = 'prometheus-test-admin-token-0123';

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | null | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => null);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('Prometheus', () => {
  it('scrapes the ingest service; the console reads rows/s, p95, queue, failures and memory from it', async () => {
    const databaseUrl = process.env.TEST_DATABASE_URL;
    assert.ok(databaseUrl, 'TEST_DATABASE_URL is set by npm test');
    const port = await freePort();
    const ingest = spawnService('ingest', process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: path.join(root, 'apps/ingest'),
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        INGEST_PORT: String(port),
        FLIGHT: 'off',
        SLUICE_ADMIN_TOKEN: ADMIN,
        LAKE_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-prom-lake-')),
        LOG_LEVEL: 'warn',
      },
      stdio: 'ignore',
    });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-prometheus-'));
    let prometheus: Awaited<ReturnType<typeof startPrometheus>> | null = null;
    let sending = true;
    let producer: Promise<void> = Promise.resolve();
    try {
      const url = `http://127.0.0.1:${port}`;
      await waitForHttp(`${url}/healthz`, { timeoutMs: 30_000, exited: () => ingest.exited });
      prometheus = await startPrometheus({
        dir,
        job: 'sluice-ingest',
        targets: [`127.0.0.1:${port}`],
        ruleFiles: [path.join(root, 'deploy/prometheus/rules.yml')],
      });
      const admin = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
      const stream = `prom_${Date.now().toString(36)}`;
      await fetch(`${url}/v1/admin/streams`, {
        method: 'POST',
        headers: admin,
        body: JSON.stringify({
          name: stream,
          schema: { columns: [{ name: 'id', type: 'int64', nullable: false }] },
          batch: { maxAgeMs: 100 },
        }),
      });
      const { key } = (await (
        await fetch(`${url}/v1/admin/keys`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'p', streams: '*' }) })
      ).json()) as { key: string };
      producer = (async () => {
        let id = 0;
        while (sending) {
          await fetch(`${url}/v1/streams/${stream}/rows`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'text/csv' },
            body: `id\n${Array.from({ length: 200 }, () => id++).join('\n')}\n`,
          });
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      })();

      // The console's metrics source, configured as the console would be.
      process.env.PROMETHEUS_URL = prometheus.url;
      process.env.INGEST_URL = url;
      process.env.DATABASE_URL = databaseUrl;
      const { readMetrics } = await import('../apps/web/src/lib/metrics-source');
      const snapshot = await until('rows/s and p95 from Prometheus', 60_000, async () => {
        const s = await readMetrics();
        return (s.rowsPerSecond[stream] ?? 0) > 0 && s.p95LatencySeconds !== null && s.memoryBytes > 0 ? s : null;
      });
      assert.equal(snapshot.source, 'prometheus');
      assert.ok(snapshot.rowsPerSecond[stream]! > 0 && snapshot.rowsPerSecond[stream]! < 1e7, `rows/s ${snapshot.rowsPerSecond[stream]}`);
      assert.ok(snapshot.p95LatencySeconds! > 0 && snapshot.p95LatencySeconds! < 5, `p95 ${snapshot.p95LatencySeconds}`);
      assert.ok(snapshot.memoryBytes > 20 * 1024 * 1024, 'the ingest process memory');
      assert.equal(typeof snapshot.queueBytes, 'number');
      assert.equal(snapshot.failedUploads, 0);

      // The shipped recording rules evaluate against the same series.
      const recorded = await until('the recording rule series', 30_000, async () => {
        const response = await fetch(`${prometheus!.url}/api/v1/query?query=${encodeURIComponent('sluice:rows_accepted:rate1m')}`);
        const body = (await response.json()) as { data: { result: { metric: { stream: string }; value: [number, string] }[] } };
        return body.data.result.find((r) => r.metric.stream === stream && Number(r.value[1]) > 0);
      });
      assert.ok(Number(recorded.value[1]) > 0);
    } finally {
      sending = false;
      await producer;
      await prometheus?.stop();
      await ingest.stop();
    }
  });
});
