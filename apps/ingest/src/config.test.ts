import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from './config';

const base = { DATABASE_URL: 'postgresql://u@127.0.0.1:5432/db' };

describe('loadConfig', () => {
  it('documents its defaults: local lake, limits, budget and its high-water mark', () => {
    const config = loadConfig(base);
    assert.deepEqual(config.store, { kind: 'local', dir: './data/lake' });
    assert.deepEqual(config.limits, { maxBodyBytes: 16 * 1024 ** 3, maxLineBytes: 1024 ** 2, maxFields: 2000, maxInflationRatio: 100 });
    assert.deepEqual(config.connections, { idleTimeoutMs: 60_000, maxConnections: 1024, maxRequests: 256, maxRequestsPerKey: 64 });
    assert.deepEqual(config.metrics, { port: null, token: null });
    assert.equal(config.encodeWorkers, Math.max(1, Math.floor(config.pipelineWorkers / 2)));
    assert.equal(loadConfig({ ...base, PIPELINE_WORKERS: '8', ENCODE_WORKERS: '16' }).encodeWorkers, 8, 'at most every worker');
    assert.deepEqual(config.queue, { maxBytes: 64 * 1024 ** 2, highWater: Math.floor(64 * 1024 ** 2 * 0.8), retryAfterSeconds: 1 });
    assert.equal(config.adminToken, null);
    assert.equal(config.clickhouse, null);
    assert.deepEqual(config.flight, { host: '127.0.0.1', port: 8815 });
    assert.equal(config.maxArrowMessageBytes, 64 * 1024 ** 2);
    assert.match(config.replicaId, new RegExp(`-${process.pid}$`));
  });

  it('Arrow Flight follows INGEST_HOST unless FLIGHT_HOST says otherwise, and FLIGHT=off turns it off', () => {
    assert.deepEqual(loadConfig({ ...base, INGEST_HOST: '0.0.0.0', FLIGHT_PORT: '9000' }).flight, { host: '0.0.0.0', port: 9000 });
    assert.deepEqual(loadConfig({ ...base, INGEST_HOST: '0.0.0.0', FLIGHT_HOST: '10.0.0.1' }).flight, { host: '10.0.0.1', port: 8815 });
    assert.equal(loadConfig({ ...base, FLIGHT: 'off' }).flight, null);
    assert.equal(loadConfig({ ...base, FLIGHT_MAX_MESSAGE_BYTES: String(64 * 1024) }).maxArrowMessageBytes, 64 * 1024);
    assert.throws(() => loadConfig({ ...base, FLIGHT_MAX_MESSAGE_BYTES: String(64 * 1024 - 1) }), /FLIGHT_MAX_MESSAGE_BYTES/);
    assert.equal(loadConfig({ ...base, REPLICA_ID: 'ingest-0' }).replicaId, 'ingest-0');
    assert.throws(() => loadConfig({ ...base, REPLICA_ID: 'a b' }), /REPLICA_ID/);
  });

  it('writes to S3 when S3_BUCKET is set, and treats empty variables as unset', () => {
    const config = loadConfig({
      ...base,
      S3_BUCKET: 'lake',
      S3_ENDPOINT: 'http://minio:9000',
      S3_FORCE_PATH_STYLE: 'true',
      CLICKHOUSE_URL: '',
    });
    assert.equal(config.store.kind, 's3');
    assert.equal(config.clickhouse, null);
  });

  it('holds KEY_CACHE_TTL_MS to 5 s, so a revoked key stops working within it', () => {
    assert.equal(loadConfig({ ...base, KEY_CACHE_TTL_MS: '5000' }).keyCacheTtlMs, 5000);
    assert.throws(() => loadConfig({ ...base, KEY_CACHE_TTL_MS: '5001' }), /KEY_CACHE_TTL_MS/);
  });

  it('names every invalid variable', () => {
    assert.throws(
      () => loadConfig({ DATABASE_URL: 'nope', MAX_LINE_BYTES: '8', QUEUE_HIGH_WATER: '1.5' }),
      (error: Error) =>
        /DATABASE_URL/.test(error.message) && /MAX_LINE_BYTES/.test(error.message) && /QUEUE_HIGH_WATER/.test(error.message),
    );
  });
});
