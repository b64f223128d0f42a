/** The same conversion done by DuckDB (the reference for speed): CSV / NDJSON file -> zstd Parquet. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Column } from '@sluice/shared';

const DUCK_TYPES: Record<Column['type'], string> = {
  string: 'VARCHAR',
  int32: 'INTEGER',
  int64: 'BIGINT',
  float64: 'DOUBLE',
  boolean: 'BOOLEAN',
  timestamp: 'TIMESTAMPTZ',
  date: 'DATE',
};

export async function duckdbConvert(file: string, format: 'csv' | 'ndjson', columns: Column[], threads: number): Promise<number> {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-duck-')), 'out.parquet');
  const instance = await DuckDBInstance.create(':memory:', { threads: String(threads) });
  const connection = await instance.connect();
  const spec = `{${columns.map((c) => `'${c.name}': '${DUCK_TYPES[c.type]}'`).join(', ')}}`;
  const source =
    format === 'csv'
      ? `read_csv('${file}', header = true, columns = ${spec})`
      : `read_json('${file}', format = 'newline_delimited', columns = ${spec})`;
  const started = performance.now();
  await connection.run(`COPY (SELECT * FROM ${source}) TO '${out}' (FORMAT parquet, COMPRESSION zstd)`);
  const seconds = (performance.now() - started) / 1000;
  connection.closeSync();
  instance.closeSync();
  fs.rmSync(path.dirname(out), { recursive: true, force: true });
  return seconds;
}
