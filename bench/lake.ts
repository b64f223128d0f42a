/**
 * `npm run bench:lake`: what the lake's tables cost and buy, against a running ingest service (local-folder
 * sink, the Delta log on, compaction on demand).
 *
 * 1. Batch age. For each --ages value, a stream with that batch age gets one producer sending 1,000-row
 *    requests one after another, then 100 producers at once (--seconds each): rows/s and latency, and the
 *    files the 100 producers made per second (what compaction then has to absorb).
 * 2. Downstream reads. A stream fed by --files small requests of 1,000 rows (each its own file) is read
 *    through its Delta table with ClickHouse's reader (chdb): `count()` and an aggregate over every row,
 *    medians of --reads runs, before and after `POST /v1/admin/streams/:name/compact`; in the same run, the
 *    same rows sent as one request into a stream of their own (one file) are read the same way, and so is a
 *    copy of the small files' table without its checkpoints (this service writes a log version per file, so
 *    the reader then replays every commit). The peak RSS of the service while it compacts is sampled from
 *    /proc.
 *
 * Results go to bench/results/lake-<date>.json.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { promisify } from 'node:util';
import { columnsFor, csvHeader, smallCsvBody } from './src/dataset';
import { smallRequests } from './src/loadgen';
import { admin, rssBytes, startService } from './src/service';

const { values } = parseArgs({
  options: {
    ages: { type: 'string', default: '1000,200,100,50' },
    seconds: { type: 'string', default: '10' },
    files: { type: 'string', default: '2000' },
    reads: { type: 'string', default: '5' },
  },
});
const ages = values.ages === 'none' ? [] : values.ages.split(',').map(Number);
const seconds = Number(values.seconds);
const fileCount = Number(values.files);
const reads = Number(values.reads);
const columns = columnsFor('mixed');
const run = promisify(execFile);
const chdb = createRequire(import.meta.url).resolve('chdb', { paths: [path.resolve(import.meta.dirname, '../apps/ingest')] });

let service = await startService({ COMPACTION: 'off', INGEST_MAX_REQUESTS_PER_KEY: '256' });
const results: Record<string, unknown> = { date: new Date().toISOString() };
try {
  let { key } = await admin(service.url, 'POST', '/v1/admin/keys', { name: 'bench', streams: '*' });
  const body = (producer: number, sequence: number) => smallCsvBody('mixed', 1000, producer, sequence);

  // 1. Batch age: one producer, then a hundred.
  const sweep: Record<string, unknown>[] = [];
  for (const age of ages) {
    for (const producers of [1, 100]) {
      const name = `age_${age}_${producers}`;
      await admin(service.url, 'POST', '/v1/admin/streams', { name, schema: { columns }, batch: { maxAgeMs: age } });
      const filesBefore = countFiles(service.lake, name);
      const result = await smallRequests({
        url: `${service.url}/v1/streams/${name}/rows`,
        key,
        producers,
        rowsPerRequest: 1000,
        seconds,
        body,
      });
      const files = countFiles(service.lake, name) - filesBefore;
      const line = { batchAgeMs: age, ...result, filesPerSecond: Number((files / seconds).toFixed(1)) };
      sweep.push(line);
      console.log(JSON.stringify(line));
    }
  }
  results.batchAge = sweep;

  // 2. Reads through Delta: many small files, the same compacted, the same rows in one file. On a service that
  // writes a log version per file (no commit delay): a long log, with its checkpoints.
  await service.stop();
  service = await startService({ COMPACTION: 'off', DELTA_COMMIT_DELAY_MS: '0' });
  ({ key } = await admin(service.url, 'POST', '/v1/admin/keys', { name: 'bench', streams: '*' }));
  const small = 'read_small';
  const whole = 'read_whole';
  await admin(service.url, 'POST', '/v1/admin/streams', { name: small, schema: { columns }, batch: { maxAgeMs: 10 } });
  await admin(service.url, 'POST', '/v1/admin/streams', {
    name: whole,
    schema: { columns },
    batch: { maxRows: 10_000_000, maxBytes: 1024 * 1024 * 1024, maxAgeMs: 60_000 },
  });
  const wholeBody: string[] = [csvHeader(columns).trimEnd()];
  for (let i = 0; i < fileCount; i++) {
    const part = body(0, i);
    wholeBody.push(part.slice(part.indexOf('\n') + 1).trimEnd());
    const response = await fetch(`${service.url}/v1/streams/${small}/rows`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'text/csv' },
      body: part,
    });
    if (response.status !== 200) throw new Error(`small request ${i}: ${response.status} ${await response.text()}`);
  }
  await waitForLog(service.lake, small, (text) => text.includes('"add"'), fileCount);

  const queries = {
    count: (table: string) => `SELECT count() FROM ${table}`,
    aggregate: (table: string) =>
      `SELECT category, count(), sum(user_id), avg(amount), max(created_at) FROM ${table} GROUP BY category ORDER BY category`,
  };
  const readAll = async (stream: string) => timeQueries(service.lake, stream, queries);
  const before = await readAll(small);
  // The same table without its checkpoints: a reader replays every commit.
  const versions = fs.readdirSync(path.join(service.lake, small, '_delta_log')).filter((name) => /^\d{20}\.json$/.test(name)).length;
  fs.cpSync(path.join(service.lake, small), path.join(service.lake, 'read_small_no_checkpoints'), { recursive: true });
  for (const name of fs.readdirSync(path.join(service.lake, 'read_small_no_checkpoints', '_delta_log'))) {
    if (name.includes('checkpoint')) fs.rmSync(path.join(service.lake, 'read_small_no_checkpoints', '_delta_log', name));
  }
  const withoutCheckpoints = await readAll('read_small_no_checkpoints');
  fs.rmSync(path.join(service.lake, 'read_small_no_checkpoints'), { recursive: true });

  const rssBefore = rssBytes(service.pid);
  let peakRss = rssBefore;
  const sampler = setInterval(() => {
    if (fs.existsSync(`/proc/${service.pid}`)) peakRss = Math.max(peakRss, rssBytes(service.pid));
  }, 50);
  const started = performance.now();
  const compacted = await admin(service.url, 'POST', `/v1/admin/streams/${small}/compact`, {}).finally(() => clearInterval(sampler));
  const compactSeconds = (performance.now() - started) / 1000;
  await waitForLog(service.lake, small, (text) => text.includes('"OPTIMIZE"'), 1);
  const after = await readAll(small);
  // The same rows in one request, into a stream that makes one file of them: sent after the compaction, whose
  // memory is measured above (a 2M-row batch leaves the service's RSS higher).
  const one = await fetch(`${service.url}/v1/streams/${whole}/rows`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'text/csv' },
    body: `${wholeBody.join('\n')}\n`,
  });
  if (one.status !== 200) throw new Error(`whole request: ${one.status} ${await one.text()}`);
  await waitForLog(service.lake, whole, (text) => text.includes('"add"'), 1);
  const oneFile = await readAll(whole);

  results.reads = {
    rows: fileCount * 1000,
    filesBefore: compacted.filesIn,
    filesAfter: compacted.filesOut,
    compactSeconds: Number(compactSeconds.toFixed(1)),
    compactRssBeforeMb: Math.round(rssBefore / 1e6),
    compactPeakRssMb: Math.round(peakRss / 1e6),
    logVersions: versions,
    medianMs: { before, beforeWithoutCheckpoints: withoutCheckpoints, after, oneFile },
    afterOverOneFile: {
      count: ratio(after.count, oneFile.count),
      aggregate: ratio(after.aggregate, oneFile.aggregate),
    },
    beforeOverOneFile: {
      count: ratio(before.count, oneFile.count),
      aggregate: ratio(before.aggregate, oneFile.aggregate),
    },
  };
  console.log(JSON.stringify(results.reads, null, 2));
} finally {
  await service.stop();
}
const out = path.resolve(import.meta.dirname, 'results', `lake-${new Date().toISOString().slice(0, 16).replace(':', '')}.json`);
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
console.log(`results: ${path.relative(process.cwd(), out)}`);

function ratio(a: number, b: number): number {
  return Number((a / b).toFixed(2));
}

/** Data files under the stream's prefix. */
function countFiles(lake: string, stream: string): number {
  const dir = path.join(lake, stream);
  if (!fs.existsSync(dir)) return 0;
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter(
    (name) => name.endsWith('.parquet') && !name.startsWith('_delta_log'),
  ).length;
}

/** Waits until the log's entries match `test` at least `times` times altogether (files added, a compaction). */
async function waitForLog(lake: string, stream: string, test: (text: string) => boolean, times: number): Promise<void> {
  const dir = path.join(lake, stream, '_delta_log');
  for (const deadline = Date.now() + 300_000; Date.now() < deadline; ) {
    if (fs.existsSync(dir)) {
      let found = 0;
      for (const name of fs.readdirSync(dir).filter((file) => file.endsWith('.json'))) {
        const text = fs.readFileSync(path.join(dir, name), 'utf8');
        if (test(text)) found += times > 1 ? text.split('\n').filter((line) => line.startsWith('{"add"')).length : 1;
      }
      if (found >= times) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the ${stream} log did not catch up`);
}

/** Median ms of each query over the stream's Delta table, timed inside one chdb process (after one untimed run). */
async function timeQueries(
  lake: string,
  stream: string,
  sql: Record<'count' | 'aggregate', (table: string) => string>,
): Promise<Record<'count' | 'aggregate', number>> {
  const table = `deltaLakeLocal('${path.join(lake, stream)}')`;
  const script = `
    const { query } = require(process.argv[1]);
    const sql = JSON.parse(process.argv[2]);
    const runs = Number(process.argv[3]);
    const out = {};
    for (const [name, text] of Object.entries(sql)) {
      query(text, 'CSV');
      const times = [];
      for (let i = 0; i < runs; i++) {
        const started = performance.now();
        query(text, 'CSV');
        times.push(performance.now() - started);
      }
      times.sort((a, b) => a - b);
      out[name] = Math.round(times[Math.floor(times.length / 2)]);
    }
    process.stdout.write(JSON.stringify(out));`;
  const texts = Object.fromEntries(Object.entries(sql).map(([name, make]) => [name, make(table)]));
  const { stdout } = await run(process.execPath, ['-e', script, chdb, JSON.stringify(texts), String(reads)], {
    cwd: lake,
    maxBuffer: 64 << 20,
  });
  return JSON.parse(stdout) as Record<'count' | 'aggregate', number>;
}
