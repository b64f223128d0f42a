/**
 * Writes a deterministic dataset: `npx tsx bench/generate.ts --rows 2000000 --shape mixed --format csv --seed 42 --out f.csv`.
 */
import fs from 'node:fs';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { columnsFor, csvHeader, csvLine, ndjsonLine, rows, type Shape } from './src/dataset';

export async function generate(options: { rows: number; shape: Shape; format: 'csv' | 'ndjson'; seed: number; out: string }) {
  const columns = columnsFor(options.shape);
  const out = fs.createWriteStream(options.out, { highWaterMark: 1 << 20 });
  let buffer = options.format === 'csv' ? csvHeader(columns) : '';
  for (const row of rows(options.shape, options.rows, options.seed)) {
    buffer += options.format === 'csv' ? csvLine(row) : ndjsonLine(columns, row);
    if (buffer.length > 1 << 20) {
      if (!out.write(buffer)) await once(out, 'drain');
      buffer = '';
    }
  }
  out.end(buffer);
  await once(out, 'finish');
  return fs.statSync(options.out).size;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '2000000' },
      shape: { type: 'string', default: 'mixed' },
      format: { type: 'string', default: 'csv' },
      seed: { type: 'string', default: '42' },
      out: { type: 'string' },
    },
  });
  const out = values.out ?? `bench/data/${values.shape}-${values.rows}.${values.format}`;
  fs.mkdirSync('bench/data', { recursive: true });
  const size = await generate({
    rows: Number(values.rows),
    shape: values.shape as Shape,
    format: values.format as 'csv' | 'ndjson',
    seed: Number(values.seed),
    out,
  });
  console.log(`${out}: ${(size / 1e6).toFixed(1)} MB`);
}
