/**
 * SIGTERM during an Arrow Flight DoPut, on the service as a process of its own: a call in flight finishes
 * and is answered, new calls are refused UNAVAILABLE; a call that is still open when the shutdown timeout
 * runs out gets UNAVAILABLE (service.shutting_down) before the process exits.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import type { CreatedApiKeyDto } from '@sluice/shared';
import { Int64, Utf8, vectorFromArray } from 'apache-arrow';
import { LocalStore } from '../sinks/local-store';
import { dataOf, ipcStream } from '../test/arrow-data';
import { doPut, flightClient, flightData, pathTo } from '../test/flight-client';
import { uniqueName } from '../test/harness';
import { countCommitted } from '../test/read-back';
import { startServiceProcess, type ServiceProcess } from '../test/service-process';

const lake = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-flight-shutdown-'));
const started: ServiceProcess[] = [];
after(async () => {
  for (const service of started) await service.stop();
  fs.rmSync(lake, { recursive: true, force: true });
});

const columns = [
  { name: 'id', type: 'int64' as const, nullable: false },
  { name: 'v', type: 'string' as const, nullable: true },
];

/** `count` batches of 1,000 rows, ids from 0. */
function batches(count: number) {
  return ipcStream(
    Array.from({ length: count }, (_, b) => ({
      id: dataOf(
        new Int64(),
        Array.from({ length: 1000 }, (_, i) => BigInt(b * 1000 + i)),
        BigInt64Array,
      ),
      v: vectorFromArray(
        Array.from({ length: 1000 }, (_, i) => `v${b}-${i}`),
        new Utf8(),
      ).data[0]!,
    })),
  );
}

async function serviceWithStream(env: Record<string, string>) {
  const service = await startServiceProcess({ LAKE_DIR: lake, ...env });
  started.push(service);
  const name = uniqueName('flight_stop');
  const created = await service.admin('POST', '/v1/admin/streams', { name, schema: { columns }, batch: { maxAgeMs: 100 } });
  assert.equal(created.status, 201, await created.clone().text());
  const { key } = (await (await service.admin('POST', '/v1/admin/keys', { name: 'stop', streams: [name] })).json()) as CreatedApiKeyDto;
  return { service, name, key, client: flightClient(service.flightAddress) };
}

function exited(service: ServiceProcess): Promise<number | null> {
  if (service.service.exited) return Promise.resolve(service.service.exitCode);
  return new Promise((resolve) => service.service.child.once('exit', (code) => resolve(code)));
}

describe('SIGTERM during an Arrow Flight DoPut', () => {
  it('the call in flight finishes and is answered; a new call is refused UNAVAILABLE', async () => {
    const { service, name, key, client } = await serviceWithStream({});
    // 40 batches, one every 50 ms: the signal comes a quarter of the way through.
    const inFlight = doPut(client, key, flightData(batches(40), pathTo(name)), { paceMs: 50 });
    await sleep(500);
    process.kill(service.service.child.pid!, 'SIGTERM');
    await sleep(200);
    const late = await doPut(flightClient(service.flightAddress), key, flightData(batches(1), pathTo(name)));
    assert.ok(!late.ok && late.code === grpc.status.UNAVAILABLE, JSON.stringify(late));
    const put = await inFlight;
    assert.ok(put.ok, JSON.stringify(put));
    assert.equal(put.result.rowsAccepted, 40_000);
    assert.equal(await exited(service), 0);
    client.close();
    const restarted = await startServiceProcess({ LAKE_DIR: lake });
    started.push(restarted);
    assert.deepEqual(await countCommitted(new LocalStore(lake), restarted.admin, name), { n: 40_000, d: 40_000 });
  });

  it('a call still open when the shutdown timeout runs out gets UNAVAILABLE, and nothing of it is answered as stored', async () => {
    const { service, name, key, client } = await serviceWithStream({ INGEST_SHUTDOWN_TIMEOUT_MS: '3000' });
    // A producer that sends 5 batches and then goes quiet, its call open.
    const stalled = doPut(client, key, flightData(batches(20), pathTo(name)), { stopAfter: 5 });
    await sleep(500);
    const signalledAt = Date.now();
    process.kill(service.service.child.pid!, 'SIGTERM');
    const put = await stalled;
    assert.ok(!put.ok, JSON.stringify(put));
    assert.equal(put.code, grpc.status.UNAVAILABLE, put.details);
    assert.equal(put.sluiceCode, 'service.shutting_down');
    assert.ok(Date.now() - signalledAt < 3000, 'answered before the process gave up');
    await exited(service);
    client.close();
  });
});
