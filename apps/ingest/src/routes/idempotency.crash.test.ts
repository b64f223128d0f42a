/**
 * Idempotency-Key across a crash: the service, a process of its own on the run's Postgres and a lake
 * folder, is killed (SIGKILL, no shutdown) part-way through a keyed request; another process on the same
 * database and folder takes the retry. Rows are read back with DuckDB from the files the manifest lists,
 * as a reader would: objects of files the dead process never committed may be in the folder, and are not
 * data.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CreatedApiKeyDto, IngestResultDto } from '@sluice/shared';
import { LocalStore } from '../sinks/local-store';
import { uniqueName } from '../test/harness';
import { csvPieces, pacedBody } from '../test/paced-body';
import { countCommitted, listCommittedFiles } from '../test/read-back';
import { startServiceProcess, type ServiceProcess } from '../test/service-process';

const columns = [
  { name: 'id', type: 'int64' as const, nullable: false },
  { name: 'v', type: 'string' as const, nullable: true },
];

const lake = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-crash-lake-'));
// A short lease: the dead process's claim on the key runs out soon after it dies.
const env = { LAKE_DIR: lake, IDEMPOTENCY_LEASE_MS: '2000', PIPELINE_WORKERS: '2' };
const started: ServiceProcess[] = [];
after(async () => {
  for (const service of started) await service.stop();
  fs.rmSync(lake, { recursive: true, force: true });
});

async function start(): Promise<ServiceProcess> {
  const service = await startServiceProcess(env);
  started.push(service);
  return service;
}

function post(service: ServiceProcess, stream: string, key: string, body: RequestInit['body'], idempotencyKey: string) {
  return fetch(`${service.url}/v1/streams/${stream}/rows`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'text/csv', 'idempotency-key': idempotencyKey },
    body,
    duplex: 'half',
  } as RequestInit);
}

describe('Idempotency-Key across a killed process', () => {
  it('a keyed 500,000-row request whose process is killed part-way, retried on another process, stores each row once', async () => {
    const total = 500_000;
    const pieces = csvPieces(total, 5000);
    // Two processes on one database and lake folder, as replicas are: the second takes the retry the
    // moment the first is killed, while the dead attempt's lease still holds the key.
    const [first, second] = await Promise.all([start(), start()]);
    const name = uniqueName('crash');
    const created = await first.admin('POST', '/v1/admin/streams', { name, schema: { columns }, batch: { maxRows: 20_000 } });
    assert.equal(created.status, 201, await created.clone().text());
    const { key } = (await (await first.admin('POST', '/v1/admin/keys', { name: 'crash', streams: [name] })).json()) as CreatedApiKeyDto;

    // The body at 5,000 rows every 40 ms (4 s in all): the process dies while it still reads it, with
    // batches being encoded, put and committed.
    const paced = pacedBody(pieces, 40);
    const cut = post(first, name, key, paced.body, 'killed').catch((error: Error) => error);
    for (let waited = 0; (await listCommittedFiles(first.admin, name)).length < 3; waited += 50) {
      assert.ok(waited < 30_000, 'the first attempt committed files');
      await sleep(50);
    }
    await first.kill();
    const killedAt = Date.now();
    assert.ok((await cut) instanceof Error, 'the first attempt got no answer');
    assert.ok(paced.sent() < pieces.length, `the process died before the body was sent whole (${paced.sent()} pieces)`);

    // The dead attempt holds the key until its lease runs out (at least two thirds of it is left: a live
    // holder renews it every third): 409, with Retry-After.
    const body = pieces.join('');
    const held = await post(second, name, key, body, 'killed');
    assert.equal(held.status, 409, await held.clone().text());
    assert.equal(((await held.json()) as { error: { code: string } }).error.code, 'ingest.idempotency_in_flight');
    assert.ok(Number(held.headers.get('retry-after')) >= 1, 'a 409 says when to come back');

    const store = new LocalStore(lake);
    const before = await countCommitted(store, second.admin, name);
    assert.ok(before.n > 0 && before.n < total, `${before.n} rows committed by the first attempt`);
    assert.equal(before.d, before.n);

    // Retried as a client would, on 409 and on a connection error, with a short backoff.
    let retry: Response | null = null;
    while (retry === null || retry.status === 409) {
      assert.ok(Date.now() - killedAt < 30_000, 'the key was freed once the lease ran out');
      await retry?.body?.cancel();
      await sleep(250);
      retry = await post(second, name, key, body, 'killed').catch(() => null);
    }
    const answer = (await retry.json()) as IngestResultDto;
    assert.equal(retry.status, 200, JSON.stringify(answer));
    assert.equal(answer.rowsAccepted, total, 'the answer counts the whole body');
    assert.equal(answer.rowsAlreadyStored, before.n, 'the rows the first attempt committed, skipped');
    assert.equal(answer.rowsRejected, 0);
    assert.deepEqual(await countCommitted(store, second.admin, name), { n: total, d: total }, 'each row exactly once');
  });
});
