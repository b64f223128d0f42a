import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../app';
import type { Config } from '../config';
import { buildTestApp, testConfig } from '../test/harness';

describe('health', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await buildTestApp({ REPLICA_ID: 'ingest-a.1' });
  });
  after(() => app.close());

  it('GET /healthz answers 200 with the replica and a request id; the replica is a metric label too', async () => {
    const response = await app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { status: 'ok', replica: 'ingest-a.1' });
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    assert.match(metrics.body, /^sluice_replica_info\{replica="ingest-a\.1"\} 1$/m);
    assert.match(String(response.headers['x-request-id']), /^req_/);
  });

  it('GET /readyz answers 200 when Postgres is reachable', async () => {
    const response = await app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { status: 'ok', replica: 'ingest-a.1', checks: { database: 'ok', store: 'ok' }, draining: false });
  });

  /** /readyz of an app whose `check` dependency cannot be reached. */
  async function readyzOf(config: Config, check: 'store' | 'database') {
    const broken = await buildApp(config);
    try {
      const response = await broken.inject({ method: 'GET', url: '/readyz' });
      assert.equal(response.statusCode, 503);
      assert.equal(response.json().checks[check], 'unreachable');
    } finally {
      await broken.close();
    }
  }

  it('GET /readyz answers 503 when the object store is not reachable', () =>
    readyzOf(
      testConfig({
        S3_BUCKET: 'nope',
        S3_ENDPOINT: 'http://127.0.0.1:1',
        S3_ACCESS_KEY_ID: 'x',
        S3_SECRET_ACCESS_KEY: 'y',
        S3_FORCE_PATH_STYLE: 'true',
      }),
      'store',
    ));

  it('GET /readyz answers 503 when Postgres is not', () =>
    readyzOf({ ...testConfig(), databaseUrl: 'postgresql://nobody@127.0.0.1:1/none' }, 'database'));

  it('unknown routes get the shared error shape', async () => {
    const response = await app.inject({ method: 'GET', url: '/nope' });
    assert.equal(response.statusCode, 404);
    const body = response.json();
    assert.equal(body.error.code, 'route.not_found');
    assert.equal(body.error.requestId, response.headers['x-request-id']);
  });
});
