/**
 * `npm run bench:encode`: the Parquet encoder alone, in this process. The 2M-row CSV of bench:ingest is
 * parsed once into column chunks and cut into batches of about the default batch size (100,000 rows); then each batch is
 * encoded by the native route (zstd and statistics outside parquet-wasm) and by parquet-wasm alone, taking
 * turns, --runs times after a warm-up. Prints the median milliseconds per million rows of each and their
 * ratio. No HTTP, no workers: the figure to watch when changing the encoder.
 *
 * `--workers 1,2`: instead, the service's worker pool with that many encoder workers (taking turns, the
 * native route), every batch handed to the pool at once as the batcher would: how encoding scales with
 * the encoders (on a machine with at least that many cores).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_BATCH } from '@sluice/shared';
import { ParquetEncoder, type ZstdRoute } from '../apps/ingest/src/pipeline/parquet-encode';
import type { ParsedChunk } from '../apps/ingest/src/pipeline/parse/columns';
import { CsvParser } from '../apps/ingest/src/pipeline/parse/csv-parser';
import { WorkerPool } from '../apps/ingest/src/pipeline/worker-pool';
import { NODE_FLAGS, serviceEnv } from '../apps/ingest/runtime.mjs';
import { generate } from './generate';
import { columnsFor } from './src/dataset';
import { median } from './src/median';
import { parseOptions } from '../apps/ingest/src/test/parse-helpers';

const { values } = parseArgs({
  options: { rows: { type: 'string', default: '2000000' }, runs: { type: 'string', default: '5' }, workers: { type: 'string' } },
});
const rows = Number(values.rows);
const runs = Number(values.runs);
const columns = columnsFor('mixed');

const file = path.resolve(import.meta.dirname, 'data', `mixed-${rows}-seed42.csv`);
if (!fs.existsSync(file)) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await generate({ rows, shape: 'mixed', format: 'csv', seed: 42, out: file });
}

// Parsed as the service parses, then grouped as its batcher groups them.
const parser = new CsvParser(parseOptions(columns, { chunkRows: 16 * 1024, chunkBytes: 4 << 20 }));
const batches: ParsedChunk[][] = [[]];
let batchRows = 0;
const fd = fs.openSync(file, 'r');
const block = Buffer.alloc(1 << 20);
for (let position = 0; ; ) {
  const length = fs.readSync(fd, block, 0, block.length, position);
  position += length;
  if (length === 0) parser.end();
  else parser.push(block.subarray(0, length));
  for (const chunk of parser.sink.takeChunks()) {
    if (batchRows >= DEFAULT_BATCH.maxRows) {
      batches.push([]);
      batchRows = 0;
    }
    batches.at(-1)!.push(chunk);
    batchRows += chunk.rows;
  }
  if (length === 0) break;
}
fs.closeSync(fd);

if (values.workers) {
  // Worker threads share the process's allocator: measured as the service runs (its Node flags and
  // MALLOC_* settings, apps/ingest/runtime.mjs), in a process started so. Without them page faults, which
  // take a lock of the whole process, made two encoders 1.26x one instead of 1.54x.
  if (process.env.BENCH_ENCODE_AS_SERVICE !== '1') {
    const child = spawnSync(process.execPath, [...NODE_FLAGS, '--import', 'tsx', ...process.argv.slice(1)], {
      env: serviceEnv({ ...process.env, BENCH_ENCODE_AS_SERVICE: '1' }),
      stdio: 'inherit',
    });
    process.exit(child.status ?? 1);
  }
  await encodeInPools(values.workers.split(',').map(Number));
  process.exit(0);
}

/** Encodes every batch through pools of `sizes` encoder workers, taking turns, and prints each one's median. */
async function encodeInPools(sizes: number[]) {
  const pools = sizes.map((size) => new WorkerPool(size, size));
  // The pool's workers do not keep the process alive (a server does): this timer does, meanwhile.
  const alive = setInterval(() => {}, 1000);
  await Promise.all(pools.map((pool) => pool.ready()));
  const times = sizes.map((): number[] => []);
  for (let run = 0; run <= runs; run++) {
    for (const [p, pool] of pools.entries()) {
      // The pool takes the chunk buffers it encodes: each run encodes copies.
      const copies = batches.map((batch) => structuredClone(batch));
      const started = performance.now();
      await Promise.all(
        copies.map((batch) =>
          pool.encode({ columns }, batch, { stream: 'bench', schemaVersion: 1, rowGroupRows: 1 << 20, zstd: 'native' }),
        ),
      );
      if (run > 0) times[p]!.push(performance.now() - started);
    }
  }
  for (const [p, size] of sizes.entries()) {
    console.log(
      JSON.stringify({ encoders: size, rows, batches: batches.length, msPerMillionRows: Math.round((median(times[p]!) / rows) * 1e6) }),
    );
  }
  console.log(
    JSON.stringify({
      speedup: Number((median(times[0]!) / median(times.at(-1)!)).toFixed(2)),
      of: `${sizes[0]} -> ${sizes.at(-1)} encoders`,
    }),
  );
  await Promise.all(pools.map((pool) => pool.close()));
  clearInterval(alive);
}

const routes: ZstdRoute[] = ['native', 'wasm'];
const encoder = new ParquetEncoder();
const times: Record<ZstdRoute, number[]> = { native: [], wasm: [] };
const bytes: Record<ZstdRoute, number> = { native: 0, wasm: 0 };
for (let run = 0; run <= runs; run++) {
  for (const zstd of routes) {
    let written = 0;
    const started = performance.now();
    for (const batch of batches) {
      written += (await encoder.encode({ columns }, batch, { stream: 'bench', schemaVersion: 1, rowGroupRows: 1 << 20, zstd })).byteLength;
    }
    if (run > 0) times[zstd].push(performance.now() - started); // the first run warms up
    bytes[zstd] = written;
  }
}
for (const zstd of routes) {
  console.log(
    JSON.stringify({
      zstd,
      rows,
      batches: batches.length,
      msPerMillionRows: Math.round((median(times[zstd]) / rows) * 1e6),
      parquetMb: Number((bytes[zstd] / 1e6).toFixed(1)),
    }),
  );
}
console.log(JSON.stringify({ nativeToWasm: Number((median(times.native) / median(times.wasm)).toFixed(2)) }));
