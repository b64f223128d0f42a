/**
 * The slow baseline: parquetjs-lite writing row by row (one JS object per row). Rows come from the same
 * generator as the files, so CSV parsing is not counted: its figure flatters it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { columnsFor, rows } from './dataset';

export async function parquetjsWrite(count: number, seed: number): Promise<number> {
  // @ts-expect-error parquetjs-lite ships no types
  const parquet = (await import('parquetjs-lite')).default;
  const columns = columnsFor('mixed');
  const types: Record<string, string> = {
    int64: 'INT64',
    int32: 'INT32',
    string: 'UTF8',
    float64: 'DOUBLE',
    boolean: 'BOOLEAN',
    timestamp: 'TIMESTAMP_MILLIS',
  };
  const schema = new parquet.ParquetSchema(Object.fromEntries(columns.map((c) => [c.name, { type: types[c.type], optional: c.nullable }])));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-parquetjs-'));
  const started = performance.now();
  const writer = await parquet.ParquetWriter.openFile(schema, path.join(dir, 'out.parquet'));
  for (const row of rows('mixed', count, seed)) {
    const record: Record<string, unknown> = {};
    columns.forEach((c, i) => {
      record[c.name] = c.type === 'timestamp' ? new Date(row[i] as string) : row[i];
    });
    await writer.appendRow(record);
  }
  await writer.close();
  const seconds = (performance.now() - started) / 1000;
  fs.rmSync(dir, { recursive: true, force: true });
  return seconds;
}
