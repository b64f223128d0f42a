/**
 * Reads what a stream wrote, as an analyst would: objects listed from the store, then every row read with
 * DuckDB (an independent Parquet reader), ordered as asked.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { ObjectStore } from '../sinks/object-store';

export async function listStreamObjects(store: ObjectStore, stream: string) {
  return (await store.list(`${stream}/`)).filter((object) => object.key.endsWith('.parquet'));
}

/** Runs `sql` with `files` bound as the table name `data` (a view over the Parquet files). */
export async function queryParquet(store: ObjectStore, keys: string[], sql: string): Promise<Record<string, unknown>[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-readback-'));
  try {
    const paths: string[] = [];
    for (const key of keys) {
      const file = path.join(dir, key.replaceAll('/', '__'));
      fs.writeFileSync(file, await store.get(key));
      paths.push(file);
    }
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    try {
      const list = paths.map((p) => `'${p.replaceAll("'", "''")}'`).join(', ');
      await connection.run(`CREATE VIEW data AS SELECT * FROM read_parquet([${list}], hive_partitioning = false)`);
      const reader = await connection.runAndReadAll(sql);
      return reader.getRowObjectsJS() as Record<string, unknown>[];
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function readStream(store: ObjectStore, stream: string, orderBy = 'id'): Promise<Record<string, unknown>[]> {
  const objects = await listStreamObjects(store, stream);
  if (objects.length === 0) return [];
  return queryParquet(
    store,
    objects.map((o) => o.key),
    `SELECT * FROM data ORDER BY ${orderBy}`,
  );
}
