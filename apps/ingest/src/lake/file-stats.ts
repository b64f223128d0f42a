/**
 * A file's statistics as Delta add actions carry them: `numRecords`, and per column `nullCount`,
 * `minValues` and `maxValues`, which let readers skip files. Computed on the encoder worker from the
 * parsed columns (the same bounds as the Parquet footer's, parquet/statistics.ts). Bounds are never
 * narrower than the values: strings cut to 64 bytes keep a raised maximum; timestamps, written with
 * millisecond precision, round the minimum down and the maximum up. Booleans have none, nor do floats
 * that are not finite (JSON has no Infinity).
 */
import type { Column, StreamSchema } from '@sluice/shared';
import type { ParsedChunk } from '../pipeline/parse/columns';
import { columnBounds } from '../pipeline/parquet/statistics';

const decoder = new TextDecoder();

export function deltaFileStats(schema: StreamSchema, chunks: readonly ParsedChunk[]): string {
  const rows = chunks.reduce((sum, chunk) => sum + chunk.rows, 0);
  const mins: string[] = [];
  const maxes: string[] = [];
  const nulls: string[] = [];
  schema.columns.forEach((column, index) => {
    const slices = chunks.map((chunk) => ({ parsed: chunk.columns[index]!, start: 0, end: chunk.rows }));
    const bounds = columnBounds(column, slices);
    const name = JSON.stringify(column.name);
    nulls.push(`${name}:${bounds.nulls}`);
    if (!bounds.min || !bounds.max) return;
    const min = jsonValue(column, bounds.min, 'min');
    const max = jsonValue(column, bounds.max, 'max');
    if (min === null || max === null) return;
    mins.push(`${name}:${min}`);
    maxes.push(`${name}:${max}`);
  });
  return `{"numRecords":${rows},"minValues":{${mins.join(',')}},"maxValues":{${maxes.join(',')}},"nullCount":{${nulls.join(',')}}}`;
}

/** A plain-encoded bound as JSON text (64-bit integers with all their digits), or null when JSON cannot hold it. */
function jsonValue(column: Column, bytes: Uint8Array, bound: 'min' | 'max'): string | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (column.type) {
    case 'int32':
      return String(view.getInt32(0, true));
    case 'int64':
      return view.getBigInt64(0, true).toString();
    case 'float64': {
      const value = view.getFloat64(0, true);
      return Number.isFinite(value) ? JSON.stringify(value) : null;
    }
    case 'date':
      return JSON.stringify(new Date(view.getInt32(0, true) * 86_400_000).toISOString().slice(0, 10));
    case 'timestamp': {
      const micros = view.getBigInt64(0, true);
      const floor = micros / 1000n - (micros % 1000n < 0n ? 1n : 0n);
      const millis = bound === 'max' && micros % 1000n !== 0n ? floor + 1n : floor;
      return JSON.stringify(new Date(Number(millis)).toISOString());
    }
    case 'string':
      return JSON.stringify(decoder.decode(bytes));
    case 'boolean':
      return null;
  }
}

interface ParsedStats {
  numRecords: number;
  minValues?: Record<string, unknown>;
  maxValues?: Record<string, unknown>;
  nullCount?: Record<string, number>;
}

/**
 * The statistics of a file holding the rows of several (a compaction's): counts added, the least minimum
 * and the greatest maximum of each column. A column loses its bounds when a file has none for it, or when
 * one is a 64-bit integer past 2^53 (JSON.parse cannot keep it exact); `rows` stands in for a file with
 * no statistics.
 */
export function mergeFileStats(columns: readonly Column[], files: readonly { stats: string | null; rows: number }[]): string {
  const parsed = files.map((file): ParsedStats => (file.stats ? (JSON.parse(file.stats) as ParsedStats) : { numRecords: file.rows }));
  const merged: Required<ParsedStats> = { numRecords: 0, minValues: {}, maxValues: {}, nullCount: {} };
  for (const stats of parsed) merged.numRecords += stats.numRecords;
  for (const column of columns) {
    const nulls = parsed.map((stats) => stats.nullCount?.[column.name]);
    if (nulls.every((count) => typeof count === 'number')) merged.nullCount[column.name] = nulls.reduce((sum, count) => sum! + count!, 0)!;
    const min = bound(
      column,
      parsed.map((stats) => stats.minValues?.[column.name]),
      -1,
    );
    const max = bound(
      column,
      parsed.map((stats) => stats.maxValues?.[column.name]),
      1,
    );
    if (min !== undefined && max !== undefined) {
      merged.minValues[column.name] = min;
      merged.maxValues[column.name] = max;
    }
  }
  return JSON.stringify(merged);
}

/** The least (`sign` -1) or greatest (1) of the files' bounds, or undefined when one is missing or inexact. */
function bound(column: Column, values: unknown[], sign: 1 | -1): unknown {
  let best: unknown;
  for (const value of values) {
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value)) return undefined;
    if (best === undefined || compareBounds(column, value, best) * sign > 0) best = value;
  }
  return best;
}

/** Strings compare as UTF-8 bytes (as Delta readers do); dates and timestamps as their ISO text. */
function compareBounds(column: Column, a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (column.type === 'string') return Buffer.compare(Buffer.from(String(a)), Buffer.from(String(b)));
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}
