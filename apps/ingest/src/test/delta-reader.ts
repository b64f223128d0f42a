/**
 * Reads a stream's Delta table as a Delta reader would: ClickHouse's own (chdb, ClickHouse embedded), in a
 * child process whose working folder is the lake (chdb reads local tables only under its working folder,
 * and a query holds its thread). `deltaLakeLocal('<stream>')` in the SQL names the table.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { logKey } from '../lake/delta-actions';
import type { TypedRow } from './typed-rows';

const chdb = createRequire(import.meta.url).resolve('chdb');
const run = promisify(execFile);

const SCRIPT = `
const { query } = require(process.argv[1]);
process.stdout.write(query(process.argv[2], 'JSONEachRow'));
`;

/** The rows of `sql` (64-bit integers as strings, as ClickHouse writes them in JSON). */
export async function queryDelta(lakeDir: string, sql: string): Promise<Record<string, unknown>[]> {
  const { stdout } = await run(process.execPath, ['-e', SCRIPT, chdb, sql], { cwd: lakeDir, maxBuffer: 512 << 20 });
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/**
 * The typed-rows columns as a SELECT list: 64-bit integers and timestamps as text (JSON numbers lose their
 * precision past 2^53); aliases differ from the columns they read, so that ORDER BY id sorts by the column.
 */
export const SELECT_TYPED = `toString(id) AS id_text, label, qty, toString(big) AS big_text, price, ok,
  toString(toUnixTimestamp64Micro(at)) AS at_text, toString(day) AS day_text`;

/** A row selected with SELECT_TYPED, as the typed row it was sent as. */
export function typedRowOf(row: Record<string, unknown>): TypedRow {
  return {
    id: BigInt(row.id_text as string),
    label: row.label as string | null,
    qty: row.qty as number | null,
    big: row.big_text === null ? null : BigInt(row.big_text as string),
    price: row.price as number | null,
    ok: row.ok as boolean | null,
    at: row.at_text === null ? null : BigInt(row.at_text as string),
    day: row.day_text as string | null,
  };
}

/** A log entry's line: one action, by its name. */
export type Action = Partial<
  Record<
    'commitInfo' | 'add' | 'remove' | 'metaData' | 'protocol',
    { operation?: string; path: string; dataChange: boolean; stats: string }
  >
>;

/** The versions in a table's log folder (`prefix`: the stream, or `_quarantine/<stream>`), in order. */
export function logVersions(lake: string, prefix: string): number[] {
  return fs
    .readdirSync(path.join(lake, prefix, '_delta_log'))
    .filter((name) => /^\d{20}\.json$/.test(name))
    .map((name) => Number(name.slice(0, 20)))
    .sort((a, b) => a - b);
}

/** Each version's actions, parsed, in version order. */
export function logEntries(lake: string, prefix: string): { version: number; actions: Action[] }[] {
  return logVersions(lake, prefix).map((version) => ({
    version,
    actions: fs
      .readFileSync(path.join(lake, logKey(prefix, version)), 'utf8')
      .split('\n')
      .filter((line) => line.trim())
      .map((line) => JSON.parse(line) as Action),
  }));
}
