/**
 * Reads what a stream wrote, as an analyst would: objects listed from the store, then every row read with
 * DuckDB (an independent Parquet reader), ordered as asked.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { ObjectStore } from '../sinks/object-store';

/**
 * The keys of a stream's committed files, as a reader finds them: the files API (newest first), every page
 * followed. Objects in the store that it does not list (uncommitted, the orphan janitor's) are not data.
 */
export async function listCommittedFiles(admin: (method: string, route: string) => Promise<Response>, stream: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const response = await admin('GET', `/v1/streams/${stream}/files?limit=500${query}`);
    if (response.status !== 200) throw new Error(`list files: ${response.status} ${await response.text()}`);
    const page = (await response.json()) as { files: { key: string }[]; nextCursor: string | null };
    keys.push(...page.files.map((file) => file.key));
    cursor = page.nextCursor;
  } while (cursor !== null);
  return keys;
}

/** How many rows the stream's committed files hold, and how many distinct values of `id` (DuckDB). */
export async function countCommitted(
  store: ObjectStore,
  admin: (method: string, route: string) => Promise<Response>,
  stream: string,
): Promise<{ n: number; d: number }> {
  const files = await listCommittedFiles(admin, stream);
  if (files.length === 0) return { n: 0, d: 0 };
  const [counts] = await queryParquet(store, files, 'SELECT count(*)::INTEGER AS n, count(DISTINCT id)::INTEGER AS d FROM data');
  return counts as { n: number; d: number };
}

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

/** A typed-rows stream's rows as DuckDB reads them from its objects, with its timestamps in microseconds (`at_us`). */
export async function readTypedRows(store: ObjectStore, stream: string): Promise<Record<string, unknown>[]> {
  const objects = await listStreamObjects(store, stream);
  return queryParquet(
    store,
    objects.map((o) => o.key),
    'SELECT *, epoch_us("at") AS at_us FROM data ORDER BY id',
  );
}
