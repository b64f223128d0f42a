/**
 * `npm run bench:parse`: the parsers alone, in this process, on the 2M-row CSV and NDJSON of bench:ingest:
 * the body read in 1 MiB blocks (as the service hands them to a worker) and pushed through CsvParser and
 * NdjsonParser into column chunks. No HTTP, no workers, no Parquet: the figure to watch when changing a
 * parser. Prints the median of --runs runs after one warm-up run.
 *
 * It times the parsers bundled into one module, as the service's build runs them: run straight from
 * TypeScript source, every imported function is a cross-module binding and the same code is ~20 % slower.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { CsvParser } from '../apps/ingest/src/pipeline/parse/csv-parser';
import { NdjsonParser } from '../apps/ingest/src/pipeline/parse/ndjson-parser';
import { columnsFor } from './src/dataset';
import { median } from './src/median';
import { parseOptions } from '../apps/ingest/src/test/parse-helpers';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '2000000' }, runs: { type: 'string', default: '5' } } });
const rows = Number(values.rows);
const runs = Number(values.runs);
// As the service parses a stream with the default batch settings.
const options = parseOptions(columnsFor('mixed'), { chunkRows: 16 * 1024, chunkBytes: 4 << 20 });

const BUNDLED = 'SLUICE_BENCH_PARSE_BUNDLED';
if (!process.env[BUNDLED]) {
  // The datasets are made here, before bundling: generate.ts runs as a command when it is the main module.
  const { generate } = await import('./generate');
  fs.mkdirSync(path.join(import.meta.dirname, 'data'), { recursive: true });
  for (const format of ['csv', 'ndjson'] as const) {
    const file = datasetFile(format);
    if (!fs.existsSync(file)) await generate({ rows, shape: 'mixed', format, seed: 42, out: file });
  }
  // Beside the data (git-ignored), where the bundle's npm imports resolve from node_modules.
  const dir = fs.mkdtempSync(path.join(import.meta.dirname, 'data', 'parse-'));
  const outfile = path.join(dir, 'parse.mjs');
  try {
    await build({
      entryPoints: [import.meta.filename],
      outfile,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'esm',
      // npm packages stay external; workspace packages (TypeScript source) are bundled, as in the service.
      plugins: [
        {
          name: 'external-npm-packages',
          setup(b) {
            b.onResolve({ filter: /^[^./]/ }, (args) =>
              args.path.startsWith('@sluice/') ? undefined : { path: args.path, external: true },
            );
          },
        },
      ],
      define: { 'import.meta.dirname': JSON.stringify(import.meta.dirname) },
      logLevel: 'warning',
    });
    // BENCH_NODE_ARGS adds Node options to the timed process, as for the service (`--cpu-prof`).
    const extra = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const child = spawnSync(process.execPath, [...extra, outfile, ...process.argv.slice(2)], {
      stdio: 'inherit',
      env: { ...process.env, [BUNDLED]: '1' },
    });
    process.exitCode = child.status ?? 1;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
} else {
  main();
}

function datasetFile(format: 'csv' | 'ndjson'): string {
  return path.resolve(import.meta.dirname, 'data', `mixed-${rows}-seed42.${format}`);
}

function main(): void {
  for (const format of ['csv', 'ndjson'] as const) {
    const file = datasetFile(format);
    const fd = fs.openSync(file, 'r');
    const block = Buffer.alloc(1 << 20);
    const times: number[] = [];
    for (let run = 0; run <= runs; run++) {
      const parser = format === 'csv' ? new CsvParser(options) : new NdjsonParser(options);
      let parsed = 0;
      let ms = 0;
      for (let position = 0; ; ) {
        const length = fs.readSync(fd, block, 0, block.length, position);
        position += length;
        const started = performance.now();
        if (length === 0) parser.end();
        else parser.push(block.subarray(0, length));
        for (const chunk of parser.sink.takeChunks()) parsed += chunk.rows;
        ms += performance.now() - started;
        if (length === 0) break;
      }
      if (parsed !== rows) throw new Error(`${format}: parsed ${parsed} rows of ${rows}`);
      if (run > 0) times.push(ms); // the first run warms the compiler up
    }
    fs.closeSync(fd);
    const ms = median(times);
    console.log(
      JSON.stringify({
        format,
        rows,
        medianMs: Math.round(ms),
        rowsPerSecond: Math.round((rows / ms) * 1000),
        mbPerSecond: Number((fs.statSync(file).size / 1e3 / ms).toFixed(1)),
      }),
    );
  }
}
