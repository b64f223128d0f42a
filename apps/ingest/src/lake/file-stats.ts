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
