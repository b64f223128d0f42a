/**
 * Several replicas behind a real load balancer: nginx (deploy/nginx/sluice.conf, its addresses replaced by
 * this run's) round-robins producers over two ingest replicas and operators over two consoles, on one
 * Postgres database, the run's S3 server and ClickHouse. Eight producers send keyed requests through nginx
 * and retry on failure; one ingest replica is killed with SIGKILL part-way and started again, the other
 * stopped with SIGTERM at another moment and started again. Afterwards every row is in the Delta table and
 * in ClickHouse exactly once, the log has no gaps, no orphan object is left once the janitor's grace has
 * passed, a key revoked through one replica is refused by the other within 5 s, and an operator signed in
 * through one console is served by the other.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { applyMigrations } from '@sluice/db/migrate';
import type { CreatedApiKeyDto } from '@sluice/shared';
import { createDatabase, DEFAULT_ADMIN_URL, dropDatabase } from '@sluice/testkit';
import { Int64, Utf8, vectorFromArray, Table, tableToIPC } from 'apache-arrow';
import { chromium } from 'playwright-core';
import { ReplicaSet } from './lib/replica-set';
import { S3Store } from '../apps/ingest/src/sinks/s3-store';
import { queryDelta } from '../apps/ingest/src/test/delta-reader';
import { testS3Env, uniqueName } from '../apps/ingest/src/test/harness';
import { doPut, flightClient, flightData, pathTo } from '../apps/ingest/src/test/flight-client';

const adminUrl = process.env.TEST_ADMIN_DATABASE_URL ?? DEFAULT_ADMIN_URL;
const ADMIN = 'replicas-test-admin-token-0123456';
const OPERATOR = { email: 'ops@example.com', password: 'replicas-test-password' };
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-replicas-test-'));
let databaseUrl: string;
let set: ReplicaSet;

async function json<T>(response: Response): Promise<T> {
  const text = await response.text();
  assert.ok(response.ok, `${response.status} ${text}`);
  return JSON.parse(text) as T;
}

const admin = (base: string, method: string, route: string, body?: unknown) =>
  fetch(`${base}${route}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });

async function clickhouse(sql: string): Promise<string> {
  const response = await fetch(`${process.env.TEST_CLICKHOUSE_URL}/?query=${encodeURIComponent(sql)}`);
  const text = await response.text();
  assert.ok(response.ok, text);
  return text.trim();
}

/** Polls `read` until `done` holds (or the time runs out: the last value is returned for the assertion). */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const started = Date.now();
  let value = await read();
  while (!done(value) && Date.now() - started < timeoutMs) {
    await sleep(500);
    value = await read();
  }
  return value;
}

before(async () => {
  // A database of its own: its Delta log writers and janitors must see only this suite's streams.
  databaseUrl = await createDatabase(adminUrl, 'sluice_replicas');
  await applyMigrations({ databaseUrl });
  set = await ReplicaSet.start({
    databaseUrl,
    adminToken: ADMIN,
    consoles: { ...OPERATOR, sessionSecret: 'replicas-test-session-secret-0123456789abcdef' },
    ingestEnv: {
      ...testS3Env(),
      CLICKHOUSE_URL: process.env.TEST_CLICKHOUSE_URL!,
      CLICKHOUSE_POLL_MS: '200',
      CLICKHOUSE_RETRY_BASE_MS: '200',
      // A file a killed replica was inserting is leased to it for max(30 s, 3 x this): the shortest lease.
      CLICKHOUSE_REQUEST_TIMEOUT_MS: '3000',
      // Short leases and grace, so that what a killed replica held is taken over within the test.
      IDEMPOTENCY_LEASE_MS: '3000',
      DELTA_LOG_LEASE_MS: '3000',
      DELTA_COMMIT_DELAY_MS: '200',
      DELTA_LOG_POLL_MS: '500',
      ORPHAN_GRACE_MINUTES: '0.1',
      COMPACTION: 'off',
      INGEST_SHUTDOWN_TIMEOUT_MS: '10000',
    },
  });
});

after(async () => {
  await set?.stop();
  if (databaseUrl) await dropDatabase(adminUrl, databaseUrl);
  fs.rmSync(work, { recursive: true, force: true });
});

describe('two ingest replicas and two consoles behind nginx', () => {
  const lb = () => set.ingestUrl;

  it('round-robins: both replicas answer through the load balancer, each with its id', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add((await json<{ replica: string }>(await fetch(`${lb()}/healthz`))).replica);
    assert.deepEqual([...seen].sort(), ['ingest-a', 'ingest-b']);
  });

  it('eight producers, one replica SIGKILLed and one SIGTERMed part-way: every row once in the Delta table and ClickHouse, no gaps, no orphans', {
    timeout: 300_000,
  }, async () => {
    // Names of this run's own: the bucket and ClickHouse are the whole test run's, and outlive it here.
    const stream = uniqueName('replicas');
    const table = stream;
    await json(
      await admin(lb(), 'POST', '/v1/admin/streams', {
        name: stream,
        schema: {
          columns: [
            { name: 'id', type: 'int64', nullable: false },
            { name: 'producer', type: 'int32', nullable: false },
            { name: 'note', type: 'string', nullable: true },
          ],
        },
        batch: { maxRows: 5000, maxAgeMs: 100 },
        sinks: { clickhouse: { table, orderBy: ['id'] } },
      }),
    );
    const { key } = await json<CreatedApiKeyDto>(await admin(lb(), 'POST', '/v1/admin/keys', { name: 'producers', streams: [stream] }));

    const producers = 8;
    const requests = 25;
    const rowsEach = 2000;
    const total = producers * requests * rowsEach;
    let done = 0;
    let killedAt = 0;
    /** The stream's committed files, from the manifest (the files API, through the load balancer). */
    const committedFiles = async () => {
      const files: { key: string; rows: number }[] = [];
      let cursor: string | null = null;
      do {
        const page = await json<{ files: { key: string; rows: number }[]; nextCursor: string | null }>(
          await admin(lb(), 'GET', `/v1/streams/${stream}/files?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`),
        );
        files.push(...page.files);
        cursor = page.nextCursor;
      } while (cursor);
      return files;
    };
    let failoverMs = 0;
    /** One keyed request, retried on any failure with the same key and body until it is answered 200. */
    const send = async (producer: number, request: number) => {
      const first = (producer * requests + request) * rowsEach;
      const body = `id,producer,note\n${Array.from({ length: rowsEach }, (_, i) => `${first + i},${producer},n${first + i}`).join('\n')}\n`;
      for (let attempt = 1; ; attempt++) {
        const startedAt = Date.now();
        const response = await fetch(`${lb()}/v1/streams/${stream}/rows`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'text/csv', 'idempotency-key': `p${producer}-r${request}` },
          body,
        }).catch(() => null);
        if (response?.status === 200) {
          const answer = (await response.json()) as { rowsAccepted: number };
          assert.equal(answer.rowsAccepted, rowsEach);
          // A request that had to be retried after the kill: how long until it went through.
          if (attempt > 1 && killedAt > 0 && startedAt > killedAt) failoverMs = Math.max(failoverMs, Date.now() - killedAt);
          done++;
          return;
        }
        assert.ok(response === null || [408, 409, 429, 500, 502, 503, 504].includes(response.status), `answered ${response?.status}`);
        await response?.body?.cancel();
        assert.ok(attempt < 200, `producer ${producer} request ${request} kept failing`);
        await sleep(Math.min(1000, 100 * attempt));
      }
    };
    const producing = Promise.all(
      Array.from({ length: producers }, async (_, producer) => {
        for (let request = 0; request < requests; request++) await send(producer, request);
      }),
    );

    // Replica a killed (no shutdown at all) a fifth of the way in, started again 3 s later; replica b stopped
    // with SIGTERM at 60 %, started again once it has exited.
    while (done < (producers * requests) / 5) await sleep(50);
    process.kill(-set.ingest(0)!.child.pid!, 'SIGKILL');
    killedAt = Date.now();
    await sleep(3000);
    set.startIngest(0);
    while (done < (producers * requests * 3) / 5) await sleep(50);
    await set.ingest(1)!.stop();
    set.startIngest(1);
    await producing;
    console.log(`# failover: a keyed request cut by the SIGKILL went through the other replica ${failoverMs} ms after the kill`);
    assert.ok(failoverMs > 0 && failoverMs < 30_000, `failover took ${failoverMs} ms`);
    for (const i of [0, 1]) await set.ready(i);

    // The manifest first: its committed files hold every row once.
    const manifestRows = await eventually(
      async () => (await committedFiles()).reduce((sum, file) => sum + file.rows, 0),
      (rows) => rows === total,
      10_000,
    );
    const stored = await committedFiles();
    assert.equal(manifestRows, total, `${stored.length} committed files`);

    // The Delta table, read by ClickHouse's own reader through the S3 server: every row once.
    const { TEST_S3_ENDPOINT: endpoint, TEST_S3_BUCKET: bucket } = process.env;
    const store = new S3Store({ ...s3Options(), bucket: bucket! });
    const delta = `deltaLake('${endpoint}/${bucket}/${stream}/', 'S3RVER', 'S3RVER')`;
    const counts = await eventually(
      async () => (await queryDelta(work, `SELECT count() AS n, uniqExact(id) AS d, min(id) AS lo, max(id) AS hi FROM ${delta}`))[0]!,
      (row) => Number(row.n) >= total,
    );
    const adds: string[] = [];
    for (const object of await store.list(`${stream}/_delta_log/`)) {
      if (!object.key.endsWith('.json')) continue;
      for (const line of Buffer.from(await store.get(object.key))
        .toString('utf8')
        .split('\n')) {
        if (line.startsWith('{"add"')) adds.push((JSON.parse(line) as { add: { path: string } }).add.path);
      }
    }
    assert.equal(new Set(adds).size, adds.length, `no file is added twice to the log (${adds.length} adds of ${stored.length} files)`);
    assert.deepEqual(
      { n: Number(counts.n), d: Number(counts.d), lo: Number(counts.lo), hi: Number(counts.hi) },
      { n: total, d: total, lo: 0, hi: total - 1 },
    );
    const versions = (await store.list(`${stream}/_delta_log/`))
      .map((object) => /\/(\d{20})\.json$/.exec(object.key)?.[1])
      .filter((version): version is string => version !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    assert.deepEqual(versions, [...Array(versions.length).keys()], 'the log has no gaps');

    // ClickHouse: every row once.
    const inClickHouse = await eventually(
      () => clickhouse(`SELECT count(), uniqExact(id) FROM default.${table} FORMAT TSV`),
      (text) => text === `${total}\t${total}`,
      90_000,
    );
    assert.equal(inClickHouse, `${total}\t${total}`);

    // No orphan: once the janitor's grace has passed, the stream's objects are exactly its committed files.
    const committed = async () => (await committedFiles()).map((file) => file.key).sort();
    const objects = async () => (await store.list(`${stream}/dt=`)).map((object) => object.key).sort();
    const [files, inStore] = await eventually(
      async () => [await committed(), await objects()] as const,
      ([a, b]) => a.join() === b.join(),
    );
    assert.deepEqual(inStore, files, 'every object in the store is a committed file');
  });

  it('Arrow Flight through nginx (grpc_pass) reaches a replica and is answered', async () => {
    const stream = uniqueName('replicas_flight');
    await json(
      await admin(lb(), 'POST', '/v1/admin/streams', {
        name: stream,
        schema: {
          columns: [
            { name: 'id', type: 'int64', nullable: false },
            { name: 'v', type: 'string', nullable: true },
          ],
        },
      }),
    );
    const { key } = await json<CreatedApiKeyDto>(await admin(lb(), 'POST', '/v1/admin/keys', { name: 'flight', streams: [stream] }));
    const table = new Table({ id: vectorFromArray([1n, 2n, 3n], new Int64()), v: vectorFromArray(['a', 'b', null], new Utf8()) });
    const client = flightClient(set.flightAddress);
    try {
      const put = await doPut(client, key, flightData(tableToIPC(table, 'stream'), pathTo(stream)));
      assert.ok(put.ok && put.result.rowsAccepted === 3, JSON.stringify(put));
    } finally {
      client.close();
    }
  });

  it('a key revoked through one replica is refused by the other within 5 s', async () => {
    const stream = uniqueName('replicas_revoke');
    await json(
      await admin(lb(), 'POST', '/v1/admin/streams', {
        name: stream,
        schema: { columns: [{ name: 'id', type: 'int64', nullable: false }] },
      }),
    );
    const created = await json<CreatedApiKeyDto>(await admin(lb(), 'POST', '/v1/admin/keys', { name: 'revoked', streams: [stream] }));
    const post = (replica: number) =>
      fetch(`${set.replicaUrl(replica)}/v1/streams/${stream}/rows`, {
        method: 'POST',
        headers: { authorization: `Bearer ${created.key}`, 'content-type': 'text/csv' },
        body: 'id\n1\n',
      });
    // Replica b has the key in its cache.
    assert.equal((await post(1)).status, 200);
    assert.equal((await admin(set.replicaUrl(0), 'DELETE', `/v1/admin/keys/${created.id}`)).status, 200);
    const revokedAt = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - revokedAt < 10_000) {
      status = (await post(1)).status;
      if (status === 200) await sleep(100);
    }
    const refusedAfter = Date.now() - revokedAt;
    assert.equal(status, 401);
    assert.ok(refusedAfter < 5000, `refused ${refusedAfter} ms after the revocation`);
  });

  it("a stream's new schema version, made through one replica, is taken by the other within 5 s", async () => {
    const stream = uniqueName('replicas_schema');
    const id = { name: 'id', type: 'int64', nullable: false };
    await json(
      await admin(set.replicaUrl(0), 'POST', '/v1/admin/streams', { name: stream, schema: { columns: [id] }, unknownColumns: 'reject' }),
    );
    const post = () =>
      fetch(`${set.replicaUrl(1)}/v1/streams/${stream}/rows`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'text/csv' },
        body: 'id,extra\n1,x\n',
      });
    assert.equal((await post()).status, 400, 'replica b refuses the column it does not know yet');
    await json(
      await admin(set.replicaUrl(0), 'POST', `/v1/admin/streams/${stream}/schema`, {
        columns: [id, { name: 'extra', type: 'string', nullable: true }],
      }),
    );
    const changedAt = Date.now();
    let status = 400;
    while (status !== 200 && Date.now() - changedAt < 10_000) {
      status = (await post()).status;
      if (status !== 200) await sleep(100);
    }
    const takenAfter = Date.now() - changedAt;
    assert.equal(status, 200);
    assert.ok(takenAfter < 5000, `taken ${takenAfter} ms after the change`);
  });

  it('an operator signed in through one console is served by the other, and through nginx', async () => {
    const stream = uniqueName('replicas_console');
    await json(
      await admin(lb(), 'POST', '/v1/admin/streams', {
        name: stream,
        schema: { columns: [{ name: 'id', type: 'int64', nullable: false }] },
      }),
    );
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu'],
    });
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${set.ports.console[0]}/login`);
      await page.getByLabel('Email').fill(OPERATOR.email);
      await page.getByLabel('Password').fill(OPERATOR.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page
        .getByRole('heading', { name: 'Streams' })
        .waitFor({ timeout: 15_000 })
        .catch(async (error: Error) => {
          throw new Error(`${error.message}\nat ${page.url()}: ${((await page.locator('body').textContent()) ?? '').slice(0, 500)}`);
        });
      // The session cookie is the host's (127.0.0.1), whatever the port: the other console must accept it.
      for (const base of [`http://127.0.0.1:${set.ports.console[1]}`, set.consoleUrl, set.consoleUrl]) {
        await page.goto(`${base}/`);
        await page
          .getByRole('heading', { name: 'Streams' })
          .waitFor({ timeout: 15_000 })
          .catch(async (error: Error) => {
            throw new Error(`${error.message}\nat ${page.url()}: ${((await page.locator('body').textContent()) ?? '').slice(0, 500)}`);
          });
        assert.ok(!page.url().includes('/login'), `${base} asked to sign in again`);
        await page.getByRole('link', { name: stream }).waitFor({ timeout: 15_000 });
      }
    } finally {
      await browser.close();
    }
  });
});

function s3Options() {
  const env = testS3Env();
  return {
    endpoint: env.S3_ENDPOINT,
    region: 'us-east-1',
    accessKeyId: env.S3_ACCESS_KEY_ID,
    secretAccessKey: env.S3_SECRET_ACCESS_KEY,
    forcePathStyle: true,
    multipartThreshold: 16 * 1024 * 1024,
    requestTimeoutMs: 30_000,
  };
}
