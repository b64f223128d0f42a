/**
 * `npm run bench:ingest`: the 2M-row, 8-column dataset (CSV and NDJSON) POSTed to a running ingest service
 * in one chunked request each, into the local-folder sink; rows/s, peak RSS and CPU of the service; and in
 * the same run DuckDB's conversion of the same files (2 threads), as a ratio. Then a body 5x larger, to
 * show that memory stays flat. Medians of --runs runs, after one request per format not counted (the
 * service's code is compiled as it first runs). Sluice and DuckDB take turns, run by run, and each pair's
 * ratio is printed too: this machine's speed drifts by up to 2x within minutes. Each run also sends the
 * body with an Idempotency-Key (a new key each time), and --small-seconds runs 100 producers of 1,000-row
 * requests without and with keys, in turns: the cost of keys on the hot path. Results go to
 * bench/results/ingest-<date>.json.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { generate } from './generate';
import { duckdbConvert } from './src/duckdb';
import { columnsFor as shapeColumns, smallCsvBody } from './src/dataset';
import { smallRequests } from './src/loadgen';
import { median } from './src/median';
import { flightPut, writeArrowDataset } from './src/arrow';
import { admin, measured, measuredPost, startService, type RequestSample } from './src/service';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '2000000' },
    runs: { type: 'string', default: '3' },
    large: { type: 'string', default: '5' },
    'small-seconds': { type: 'string', default: '10' },
    /** The text formats run (CSV first: the Arrow figures are held against it). */
    formats: { type: 'string', default: 'csv,ndjson' },
  },
});
const rows = Number(values.rows);
const runs = Number(values.runs);
const largeFactor = Number(values.large);
const smallSeconds = Number(values['small-seconds']);
const dataDir = path.resolve(import.meta.dirname, 'data');
fs.mkdirSync(dataDir, { recursive: true });

async function dataset(format: 'csv' | 'ndjson', count: number): Promise<string> {
  const file = path.join(dataDir, `mixed-${count}-seed42.${format}`);
  if (!fs.existsSync(file)) {
    console.log(`generating ${path.basename(file)} ...`);
    await generate({ rows: count, shape: 'mixed', format, seed: 42, out: file });
  }
  return file;
}

const columns = shapeColumns('mixed');
// 100 producers share one API key in the small-request runs: the per-key limit (64) would answer some with 429.
const service = await startService({ INGEST_MAX_REQUESTS_PER_KEY: '256' });
const results: Record<string, unknown>[] = [];
try {
  const streams: Record<string, string> = {};
  for (const format of ['csv', 'ndjson'] as const) {
    streams[format] = `bench_${format}`;
    await admin(service.url, 'POST', '/v1/admin/streams', { name: streams[format], schema: { columns } });
  }
  const { key } = await admin(service.url, 'POST', '/v1/admin/keys', { name: 'bench', streams: '*' });

  let keys = 0;
  const post = (format: 'csv' | 'ndjson', file: string, count: number, keyed = false) =>
    measuredPost(service, streams[format]!, key, file, format, count, keyed ? { 'idempotency-key': `bench-${Date.now()}-${keys++}` } : {});
  const summary = (samples: RequestSample[], file: string, count: number) => {
    const seconds = median(samples.map((s) => s.seconds));
    return {
      rowsPerSecond: count / seconds,
      mbPerSecond: fs.statSync(file).size / 1e6 / seconds,
      peakRssMb: Math.max(...samples.map((s) => s.peakRss)) / 2 ** 20,
      cpuSeconds: median(samples.map((s) => s.cpu)),
      mainThreadCpuSeconds: median(samples.map((s) => s.mainThreadCpu)),
    };
  };

  for (const format of values.formats.split(',') as ('csv' | 'ndjson')[]) {
    const file = await dataset(format, rows);
    // Sluice and DuckDB take turns, so that both see the same phases of a machine whose speed drifts;
    // each pair also gives a ratio of its own.
    const samples: RequestSample[] = [];
    const keyedSamples: RequestSample[] = [];
    const duck: number[] = [];
    const pairRatios: number[] = [];
    // One request first, not counted: the service's code is compiled as it runs, as in a service that has run a while.
    await post(format, file, rows);
    for (let run = 0; run < runs; run++) {
      samples.push(await post(format, file, rows));
      duck.push(await duckdbConvert(file, format, columns, 2));
      pairRatios.push(duck.at(-1)! / samples.at(-1)!.seconds);
      keyedSamples.push(await post(format, file, rows, true));
    }
    const sluice = summary(samples, file, rows);
    const keyed = summary(keyedSamples, file, rows);
    const duckRowsPerSecond = rows / median(duck);
    const row = {
      format,
      rows,
      fileMb: fs.statSync(file).size / 1e6,
      sluiceRowsPerSecond: Math.round(sluice.rowsPerSecond),
      sluiceMbPerSecond: Number(sluice.mbPerSecond.toFixed(1)),
      sluicePeakRssMb: Math.round(sluice.peakRssMb),
      sluiceCpuSeconds: Number(sluice.cpuSeconds.toFixed(2)),
      sluiceMainThreadCpuSeconds: Number(sluice.mainThreadCpuSeconds.toFixed(2)),
      duckdb2RowsPerSecond: Math.round(duckRowsPerSecond),
      ratioToDuckdb2: Number((sluice.rowsPerSecond / duckRowsPerSecond).toFixed(2)),
      pairRatios: pairRatios.map((ratio) => Number(ratio.toFixed(2))).join(' '),
      keyedRowsPerSecond: Math.round(keyed.rowsPerSecond),
      keyedPeakRssMb: Math.round(keyed.peakRssMb),
      keyedToUnkeyed: Number((keyed.rowsPerSecond / sluice.rowsPerSecond).toFixed(3)),
      target: format === 'csv' ? 1.5 : 1.2,
    };
    results.push(row);
    console.log(JSON.stringify(row));
  }

  {
    // The same rows as Arrow IPC (record batches of 64Ki rows): over HTTP, and over Arrow Flight, taking
    // turns; each against the CSV figure of this run.
    const file = path.join(dataDir, `mixed-${rows}-seed42.arrows`);
    if (!fs.existsSync(file)) {
      console.log(`generating ${path.basename(file)} ...`);
      writeArrowDataset(rows, 42, file);
    }
    const stream = 'bench_arrow';
    await admin(service.url, 'POST', '/v1/admin/streams', { name: stream, schema: { columns } });
    const overHttp = () => measuredPost(service, stream, key, file, 'arrow', rows);
    const overFlight = () => measured(service, rows, () => flightPut(service.flightAddress, key, stream, file));
    await overHttp();
    await overFlight();
    const samples: Record<'http' | 'flight', RequestSample[]> = { http: [], flight: [] };
    for (let run = 0; run < runs; run++) {
      samples.http.push(await overHttp());
      samples.flight.push(await overFlight());
    }
    const csvRate = (results[0] as { sluiceRowsPerSecond: number }).sluiceRowsPerSecond;
    for (const route of ['http', 'flight'] as const) {
      const result = summary(samples[route], file, rows);
      const row = {
        format: route === 'http' ? 'arrow over HTTP' : 'arrow over Flight',
        rows,
        fileMb: fs.statSync(file).size / 1e6,
        sluiceRowsPerSecond: Math.round(result.rowsPerSecond),
        sluiceMbPerSecond: Number(result.mbPerSecond.toFixed(1)),
        sluicePeakRssMb: Math.round(result.peakRssMb),
        sluiceCpuSeconds: Number(result.cpuSeconds.toFixed(2)),
        sluiceMainThreadCpuSeconds: Number(result.mainThreadCpuSeconds.toFixed(2)),
        ratioToCsv: Number((result.rowsPerSecond / csvRate).toFixed(2)),
        target: 3,
      };
      results.push(row);
      console.log(JSON.stringify(row));
    }
  }

  if (largeFactor > 1) {
    const count = rows * largeFactor;
    const file = await dataset('csv', count);
    const samples: RequestSample[] = [];
    for (let run = 0; run < runs; run++) samples.push(await post('csv', file, count));
    const large = summary(samples, file, count);
    const row = {
      format: 'csv',
      rows: count,
      fileMb: fs.statSync(file).size / 1e6,
      sluiceRowsPerSecond: Math.round(large.rowsPerSecond),
      sluicePeakRssMb: Math.round(large.peakRssMb),
      note: `${largeFactor}x the body: memory should stay flat`,
    };
    results.push(row);
    console.log(JSON.stringify(row));
  }

  if (smallSeconds > 0) {
    // 100 producers of 1,000-row requests, without and with a key (a new one per request), in turns.
    const small = 'bench_small';
    await admin(service.url, 'POST', '/v1/admin/streams', { name: small, schema: { columns }, batch: { maxAgeMs: 1000 } });
    const levels: Record<string, unknown>[] = [];
    for (let turn = 0; turn < 2 * runs; turn++) {
      const withKeys = turn % 2 === 1;
      const result = await smallRequests({
        url: `${service.url}/v1/streams/${small}/rows`,
        key,
        producers: 100,
        rowsPerRequest: 1000,
        seconds: smallSeconds,
        body: (producer, sequence) => smallCsvBody('mixed', 1000, producer, sequence),
        headers: withKeys ? (producer, sequence) => ({ 'idempotency-key': `small-${turn}-${producer}-${sequence}` }) : undefined,
      });
      levels.push({ keyed: withKeys, ...result });
      console.log(JSON.stringify({ keyed: withKeys, ...result }));
    }
    const rate = (keyed: boolean) => median(levels.filter((level) => level.keyed === keyed).map((level) => level.rowsPerSecond as number));
    const row = {
      format: 'csv',
      note: '100 producers x 1,000-row requests',
      unkeyedRowsPerSecond: rate(false),
      keyedRowsPerSecond: rate(true),
      keyedToUnkeyed: Number((rate(true) / rate(false)).toFixed(3)),
    };
    results.push(row);
    console.log(JSON.stringify(row));
  }
} finally {
  await service.stop();
}

const resultsDir = path.resolve(import.meta.dirname, 'results');
fs.mkdirSync(resultsDir, { recursive: true });
const out = path.join(resultsDir, `ingest-${new Date().toISOString().slice(0, 16).replace(':', '')}.json`);
fs.writeFileSync(
  out,
  `${JSON.stringify({ machine: { cpus: (await import('node:os')).cpus().length, node: process.version }, runs, results }, null, 2)}\n`,
);
console.table(results);
console.log(`written ${path.relative(process.cwd(), out)}`);
