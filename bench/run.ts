/**
 * `npm run bench`: the whole benchmark, one run, every figure from the same machine and run.
 *   - Sluice end to end over HTTP: one large chunked request (CSV, NDJSON, the wide 50-column CSV) into the
 *     local folder and into the S3 server; many small concurrent requests (1, 10, 100 producers, 1,000 rows
 *     each); rows/s, MB/s, latency, peak RSS and CPU seconds of the service.
 *   - The same files converted by DuckDB (1 and 2 threads), pandas (read_csv / read_json, Debian's pandas,
 *     which has no Parquet engine: a lower bound), and parquetjs-lite (row by row, a 200k-row sample).
 *   - Growth: rows/s and peak RSS at 10k, 100k, 1M and 10M rows.
 * Writes bench/results/bench-<date>.json, BENCHMARKS.md and the charts in bench/results/.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startS3rver } from '@sluice/testkit';
import { generate } from './generate';
import { columnsFor, smallCsvBody, type Shape } from './src/dataset';
import { duckdbConvert } from './src/duckdb';
import { smallRequests } from './src/loadgen';
import { parquetjsWrite } from './src/parquetjs-baseline';
import { benchmarksMarkdown, handWrittenPart, lineChartSvg, writeFile } from './src/report';
import { admin, cpuSeconds, measuredPost, sampleRss, startService, type RunningService } from './src/service';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '2000000' },
    growth: { type: 'string', default: '10000,100000,1000000,10000000' },
    seconds: { type: 'string', default: '10' },
  },
});
const ROWS = Number(values.rows);
const GROWTH = values.growth.split(',').map(Number);
const LOAD_SECONDS = Number(values.seconds);
const here = import.meta.dirname;
const dataDir = path.join(here, 'data');
const resultsDir = path.join(here, 'results');

async function dataset(shape: Shape, format: 'csv' | 'ndjson', count: number): Promise<string> {
  const file = path.join(dataDir, `${shape}-${count}-seed42.${format}`);
  if (!fs.existsSync(file)) {
    console.log(`generating ${path.basename(file)} …`);
    fs.mkdirSync(dataDir, { recursive: true });
    await generate({ rows: count, shape, format, seed: 42, out: file });
  }
  return file;
}

async function oneRequest(service: RunningService, stream: string, key: string, file: string, format: 'csv' | 'ndjson', rows: number) {
  const { seconds, peakRss, cpu } = await measuredPost(service, stream, key, file, format, rows);
  return {
    seconds: Number(seconds.toFixed(2)),
    rowsPerSecond: Math.round(rows / seconds),
    mbPerSecond: Number((fs.statSync(file).size / 1e6 / seconds).toFixed(1)),
    peakRssMb: Math.round(peakRss / 2 ** 20),
    cpuSeconds: Number(cpu.toFixed(2)),
  };
}

async function streamsFor(service: RunningService) {
  for (const shape of ['mixed', 'wide'] as const) {
    for (const format of ['csv', 'ndjson'] as const) {
      await admin(service.url, 'POST', '/v1/admin/streams', { name: `${shape}_${format}`, schema: { columns: columnsFor(shape) } });
    }
  }
  return (await admin(service.url, 'POST', '/v1/admin/keys', { name: 'bench', streams: '*' })).key as string;
}

function pandas(file: string, format: 'csv' | 'ndjson') {
  const result = spawnSync('/usr/bin/python3', [path.join(here, 'src/pandas_convert.py'), file, format], { encoding: 'utf8' });
  if (result.status !== 0) return { error: result.stderr.trim().split('\n').pop() };
  return JSON.parse(result.stdout);
}

const results: Record<string, unknown> = {
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version },
  rows: ROWS,
};

// 1. One large request, local folder.
const local = await startService();
try {
  const key = await streamsFor(local);
  const single: Record<string, unknown>[] = [];
  for (const [shape, format, count] of [
    ['mixed', 'csv', ROWS],
    ['mixed', 'ndjson', ROWS],
    ['wide', 'csv', Math.round(ROWS / 4)],
  ] as const) {
    const file = await dataset(shape, format, count);
    const sluice = await oneRequest(local, `${shape}_${format}`, key, file, format, count);
    const duck1 = await duckdbConvert(file, format, columnsFor(shape), 1);
    const duck2 = await duckdbConvert(file, format, columnsFor(shape), 2);
    const row: Record<string, unknown> = {
      dataset: `${shape} ${format}`,
      rows: count,
      fileMb: Number((fs.statSync(file).size / 1e6).toFixed(1)),
      sink: 'local',
      ...sluice,
      duckdb1RowsPerSecond: Math.round(count / duck1),
      duckdb2RowsPerSecond: Math.round(count / duck2),
      ratioToDuckdb2: Number((sluice.rowsPerSecond / (count / duck2)).toFixed(2)),
    };
    if (shape === 'mixed') {
      const p = pandas(file, format);
      row.pandas = p;
      if (p.seconds) row.sluiceToPandas = Number((sluice.rowsPerSecond / (count / p.seconds)).toFixed(2));
    }
    single.push(row);
    console.log(JSON.stringify(row));
  }
  results.singleRequest = single;

  // parquetjs-lite on a sample (it is ~20x slower; the whole file would take minutes).
  const sample = 200_000;
  const pj = await parquetjsWrite(sample, 42);
  results.parquetjsLite = {
    rows: sample,
    rowsPerSecond: Math.round(sample / pj),
    note: 'row by row, rows generated in process (no CSV parsing counted)',
  };
  console.log(JSON.stringify(results.parquetjsLite));

  // 2. Many small concurrent requests.
  const small: unknown[] = [];
  for (const producers of [1, 10, 100]) {
    const cpuBefore = cpuSeconds(local.pid);
    const sampler = sampleRss(local.pid);
    const result = await smallRequests({
      url: `${local.url}/v1/streams/mixed_csv/rows`,
      key,
      producers,
      rowsPerRequest: 1000,
      seconds: LOAD_SECONDS,
      body: (producer, sequence) => smallCsvBody('mixed', 1000, producer, sequence),
    });
    const row = {
      ...result,
      peakRssMb: Math.round(sampler.stop() / 2 ** 20),
      cpuSeconds: Number((cpuSeconds(local.pid) - cpuBefore).toFixed(2)),
    };
    small.push(row);
    console.log(JSON.stringify(row));
  }
  results.smallRequests = { rowsPerRequest: 1000, batchMaxAgeMs: 1000, levels: small };
} finally {
  await local.stop();
}

// 3. Growth, on a fresh service so that earlier phases do not colour its memory: does RSS stay flat
// while the body grows?
const fresh = await startService();
try {
  const key = await streamsFor(fresh);
  const growth: unknown[] = [];
  for (const count of GROWTH) {
    const file = await dataset('mixed', 'csv', count);
    const row = { rows: count, ...(await oneRequest(fresh, 'mixed_csv', key, file, 'csv', count)) };
    growth.push(row);
    console.log(JSON.stringify(row));
  }
  results.growth = growth;
} finally {
  await fresh.stop();
}

// 4. One large request into the S3 server.
const s3Dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-s3-'));
const s3 = await startS3rver({ dir: s3Dir, bucket: 'bench' });
try {
  const service = await startService(s3.env);
  try {
    const key = await streamsFor(service);
    const file = await dataset('mixed', 'csv', ROWS);
    const row = {
      dataset: 'mixed csv',
      rows: ROWS,
      sink: 's3 (s3rver)',
      ...(await oneRequest(service, 'mixed_csv', key, file, 'csv', ROWS)),
    };
    results.s3 = row;
    console.log(JSON.stringify(row));
  } finally {
    await service.stop();
  }
} finally {
  await s3.stop();
  fs.rmSync(s3Dir, { recursive: true, force: true });
}

const date = new Date().toISOString().slice(0, 10);
writeFile(path.join(resultsDir, `bench-${date}.json`), `${JSON.stringify(results, null, 2)}\n`);
const growth = results.growth as { rows: number; rowsPerSecond: number; peakRssMb: number }[];
writeFile(
  path.join(resultsDir, 'throughput-vs-size.svg'),
  lineChartSvg({
    title: 'Sluice CSV ingest: rows/s by body size',
    xLabel: 'rows in one request (log scale)',
    yLabel: 'rows/s',
    points: growth.map((g) => ({ x: g.rows, y: g.rowsPerSecond })),
    logX: true,
  }),
);
writeFile(
  path.join(resultsDir, 'memory-vs-size.svg'),
  lineChartSvg({
    title: 'Sluice ingest process: peak RSS by body size',
    xLabel: 'rows in one request (log scale)',
    yLabel: 'peak RSS (MB)',
    points: growth.map((g) => ({ x: g.rows, y: g.peakRssMb })),
    logX: true,
  }),
);
const benchmarksFile = path.resolve(here, '..', 'BENCHMARKS.md');
const kept = fs.existsSync(benchmarksFile) ? handWrittenPart(fs.readFileSync(benchmarksFile, 'utf8')) : '';
writeFile(benchmarksFile, `${benchmarksMarkdown(results, date)}${kept ? `\n${kept}` : ''}`);
console.log(`written bench/results/bench-${date}.json, the charts and BENCHMARKS.md`);
