/**
 * `npm run bench:replicas`: Sluice as several replicas behind nginx (scripts/lib/replica-set.ts: two ingest
 * replicas on one database and one lake folder, deploy/nginx/sluice.conf) on this machine.
 *  - Rows/s of 100 producers sending 1,000-row requests for --seconds, to one replica directly and to two
 *    through nginx, taking turns --runs times. The replicas share this machine's cores: no gain is expected
 *    here, only the cost of the second process and the proxy hop.
 *  - Failover: 8 producers send keyed 2,000-row requests through nginx, retrying with the same key; one
 *    replica is killed (SIGKILL). For each request the kill cut, the time from the kill until its retry was
 *    answered 200 through the other replica: bounded by IDEMPOTENCY_LEASE_MS (the dead attempt's key is held
 *    until its lease runs out) plus nginx's fail_timeout and the producer's backoff.
 * Results go to bench/results/replicas-<date>.json.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { applyMigrations } from '@sluice/db/migrate';
import { createDatabase, DEFAULT_ADMIN_URL, dropDatabase } from '@sluice/testkit';
import { ReplicaSet } from '../scripts/lib/replica-set';
import { columnsFor, smallCsvBody } from './src/dataset';
import { smallRequests } from './src/loadgen';
import { median } from './src/median';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '10' },
  },
});
const runs = Number(values.runs);
const seconds = Number(values.seconds);
const ADMIN = 'bench-replicas-admin-token-0123456';
const adminUrl = process.env.DATABASE_URL ?? DEFAULT_ADMIN_URL;
const databaseUrl = await createDatabase(adminUrl, 'sluice_bench');
await applyMigrations({ databaseUrl });
const lake = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-replicas-'));
const set = await ReplicaSet.start({
  databaseUrl,
  adminToken: ADMIN,
  ingestEnv: { LAKE_DIR: lake, COMPACTION: 'off', INGEST_MAX_REQUESTS_PER_KEY: '256', LOG_LEVEL: 'warn' },
});

async function admin(method: string, route: string, body?: unknown) {
  const response = await fetch(`${set.ingestUrl}${route}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${await response.text()}`);
  return response.json();
}

const results: Record<string, unknown>[] = [];
try {
  const stream = 'bench_replicas';
  await admin('POST', '/v1/admin/streams', { name: stream, schema: { columns: columnsFor('mixed') } });
  const { key } = (await admin('POST', '/v1/admin/keys', { name: 'bench', streams: '*' })) as { key: string };

  const rates: Record<'one' | 'two', number[]> = { one: [], two: [] };
  for (let run = 0; run < runs; run++) {
    for (const [label, base] of [
      ['one', set.replicaUrl(0)],
      ['two', set.ingestUrl],
    ] as const) {
      const result = await smallRequests({
        url: `${base}/v1/streams/${stream}/rows`,
        key,
        producers: 100,
        rowsPerRequest: 1000,
        seconds,
        body: (producer, sequence) => smallCsvBody('mixed', 1000, producer, sequence + run * 1_000_000),
      });
      rates[label].push(result.rowsPerSecond);
      console.log(JSON.stringify({ replicas: label, run, ...result }));
    }
  }
  const throughput = {
    measure: '100 producers x 1,000-row requests',
    oneReplicaDirectRowsPerSecond: Math.round(median(rates.one)),
    twoReplicasThroughNginxRowsPerSecond: Math.round(median(rates.two)),
    ratio: Number((median(rates.two) / median(rates.one)).toFixed(2)),
  };
  results.push(throughput);
  console.log(JSON.stringify(throughput));

  // Failover: keyed requests through nginx while replica a is killed.
  const rowsEach = 2000;
  let stop = false;
  let killedAt = 0;
  const recoveries: number[] = [];
  let sequence = 0;
  const producer = async (p: number) => {
    while (!stop) {
      const n = sequence++;
      const body = `id,user_id,name,amount,active,created_at,category,comment\n${Array.from(
        { length: rowsEach },
        (_, i) => `${n * rowsEach + i},${p},n,1.5,true,2024-01-01T00:00:00Z,c,x`,
      ).join('\n')}\n`;
      let cut = false;
      for (let attempt = 1; ; attempt++) {
        const response = await fetch(`${set.ingestUrl}/v1/streams/${stream}/rows`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'text/csv', 'idempotency-key': `failover-${n}` },
          body,
        }).catch(() => null);
        if (response?.status === 200) {
          await response.body?.cancel();
          if (cut) recoveries.push(Date.now() - killedAt);
          break;
        }
        await response?.body?.cancel();
        if (killedAt > 0) cut = true;
        await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 100 * attempt)));
      }
    }
  };
  const producing = Promise.all(Array.from({ length: 8 }, (_, p) => producer(p)));
  await new Promise((resolve) => setTimeout(resolve, 5000));
  process.kill(-set.ingest(0)!.child.pid!, 'SIGKILL');
  killedAt = Date.now();
  await new Promise((resolve) => setTimeout(resolve, 30_000));
  stop = true;
  await producing;
  const failover = {
    measure: 'SIGKILL of one replica under 8 keyed producers through nginx',
    idempotencyLeaseMs: 15_000,
    requestsCut: recoveries.length,
    medianMsToSuccess: Math.round(median(recoveries)),
    maxMsToSuccess: Math.max(...recoveries),
  };
  results.push(failover);
  console.log(JSON.stringify(failover));
} finally {
  await set.stop();
  fs.rmSync(lake, { recursive: true, force: true });
  await dropDatabase(adminUrl, databaseUrl);
}

const out = path.resolve(import.meta.dirname, 'results', `replicas-${new Date().toISOString().slice(0, 16).replace(':', '')}.json`);
fs.writeFileSync(
  out,
  `${JSON.stringify({ machine: { cpus: os.cpus().length, node: process.version }, runs, seconds, results }, null, 2)}\n`,
);
console.table(results);
console.log(`written ${path.relative(process.cwd(), out)}`);
