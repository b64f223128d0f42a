/**
 * Event-time partitions: a batch of a stream partitioned by one of its timestamp or date columns is split,
 * on the encoder worker, into a batch per partition (`dt=…/hour=…` or `dt=…`). A row whose value is null, or
 * outside years 1-9999, goes by the batch's ingest time, and is counted. A batch whose rows all fall in one
 * partition (the common case: producers send recent rows) is not copied.
 */
import { partitionOf } from '../sinks/object-store';
import { align8, widthOf, type ColumnChunk, type ParsedChunk } from './parse/columns';

export interface PartitionSpec {
  /** The column's index in the schema, and its type. */
  column: number;
  type: 'timestamp' | 'date';
  granularity: 'day' | 'hour';
}

export interface PartitionedRows {
  /** The partition folder, e.g. `dt=2026-12-02/hour=07`. */
  partition: string;
  chunks: ParsedChunk[];
  rows: number;
}

const MS_PER_HOUR = 3_600_000;
const MS_PER_DAY = 86_400_000;
/** 0001-01-01 and 9999-12-31T23:59:59.999, UTC, in ms: the instants a `dt=YYYY-MM-DD` folder can name. */
const FIRST_MS = -62_135_596_800_000;
const LAST_MS = 253_402_300_799_999;

/** The batch's rows by partition, in the order the partitions first appear; `fallback`: rows placed by ingest time. */
export function splitByPartition(
  chunks: readonly ParsedChunk[],
  spec: PartitionSpec,
  ingestAt: number,
): { parts: PartitionedRows[]; fallback: number } {
  const width = spec.granularity === 'hour' ? MS_PER_HOUR : MS_PER_DAY;
  const fallbackBucket = Math.floor(ingestAt / width);
  let fallback = 0;
  const buckets = chunks.map((chunk) => {
    const column = chunk.columns[spec.column]!;
    const values = new DataView(column.values.buffer, column.values.byteOffset, column.values.byteLength);
    const out = new Float64Array(chunk.rows);
    for (let row = 0; row < chunk.rows; row++) {
      const ms = isNull(column, row) ? Number.NaN : instantOf(values, spec.type, row);
      if (Number.isNaN(ms) || ms < FIRST_MS || ms > LAST_MS) {
        fallback++;
        out[row] = fallbackBucket;
      } else out[row] = Math.floor(ms / width);
    }
    return out;
  });

  const order: number[] = [];
  const parts = new Map<number, PartitionedRows>();
  const partOf = (bucket: number) => {
    let part = parts.get(bucket);
    if (!part) {
      part = { partition: partitionOf(new Date(bucket * width), spec.granularity), chunks: [], rows: 0 };
      parts.set(bucket, part);
      order.push(bucket);
    }
    return part;
  };
  chunks.forEach((chunk, index) => {
    const rows = buckets[index]!;
    const byBucket = new Map<number, number[]>();
    for (let row = 0; row < chunk.rows; row++) {
      const bucket = rows[row]!;
      let list = byBucket.get(bucket);
      if (!list) byBucket.set(bucket, (list = []));
      list.push(row);
    }
    for (const [bucket, list] of byBucket) {
      const part = partOf(bucket);
      part.chunks.push(list.length === chunk.rows ? chunk : takeRows(chunk, list));
      part.rows += list.length;
    }
  });
  return { parts: order.map((bucket) => parts.get(bucket)!), fallback };
}

function isNull(column: ColumnChunk, row: number): boolean {
  return column.validity !== null && (column.validity[row >> 3]! & (1 << (row & 7))) === 0;
}

/** The value in ms since the epoch: timestamps are int64 microseconds, dates int32 days. */
function instantOf(view: DataView, type: 'timestamp' | 'date', row: number): number {
  if (type === 'date') return view.getInt32(row * 4, true) * MS_PER_DAY;
  const high = view.getInt32(row * 8 + 4, true);
  // Within ±2^53 µs (years 1685-2255) a double holds the value exactly; past it, BigInt does.
  if (high >= -2_097_152 && high < 2_097_152) return Math.floor((high * 4_294_967_296 + view.getUint32(row * 8, true)) / 1000);
  const micros = view.getBigInt64(row * 8, true);
  return Number(micros / 1000n - (micros % 1000n < 0n ? 1n : 0n));
}

/** A chunk of the given rows of `chunk` (in order), in a buffer of its own laid out as finishChunk lays one out. */
export function takeRows(chunk: ParsedChunk, rows: readonly number[]): ParsedChunk {
  const n = rows.length;
  const plans = chunk.columns.map((column) => {
    const width = widthOf(column.type);
    let valueBytes: number;
    if (column.offsets) {
      const offsets = int32s(column.offsets);
      valueBytes = 0;
      for (const row of rows) valueBytes += offsets[row + 1]! - offsets[row]!;
    } else valueBytes = width === 0 ? Math.ceil(n / 8) : n * width;
    const validityBytes = column.validity ? Math.ceil(n / 8) : 0;
    return { column, width, valueBytes, offsetBytes: column.offsets ? (n + 1) * 4 : 0, validityBytes };
  });
  const buffer = new ArrayBuffer(
    plans.reduce((sum, plan) => sum + align8(plan.valueBytes) + align8(plan.offsetBytes) + align8(plan.validityBytes), 0),
  );
  let at = 0;
  const columns = plans.map(({ column, width, valueBytes, offsetBytes, validityBytes }): ColumnChunk => {
    const values = new Uint8Array(buffer, at, valueBytes);
    at += align8(valueBytes);
    let offsets: Uint8Array | null = null;
    if (column.offsets) {
      const source = int32s(column.offsets);
      const target = new Int32Array(buffer, at, n + 1);
      offsets = new Uint8Array(buffer, at, offsetBytes);
      at += align8(offsetBytes);
      let end = 0;
      rows.forEach((row, i) => {
        const start = source[row]!;
        const length = source[row + 1]! - start;
        values.set(column.values.subarray(start, start + length), end);
        target[i] = end;
        end += length;
      });
      target[n] = end;
    } else if (width === 0) {
      rows.forEach((row, i) => {
        if (column.values[row >> 3]! & (1 << (row & 7))) values[i >> 3]! |= 1 << (i & 7);
      });
    } else {
      rows.forEach((row, i) => {
        values.set(column.values.subarray(row * width, row * width + width), i * width);
      });
    }
    let validity: Uint8Array | null = null;
    let nullCount = 0;
    if (column.validity) {
      validity = new Uint8Array(buffer, at, validityBytes);
      at += align8(validityBytes);
      rows.forEach((row, i) => {
        if (column.validity![row >> 3]! & (1 << (row & 7))) validity![i >> 3]! |= 1 << (i & 7);
        else nullCount++;
      });
    }
    return { type: column.type, length: n, nullCount, validity, values, offsets };
  });
  return { rows: n, columns, buffer, bytes: buffer.byteLength, fromLine: chunk.fromLine, toLine: chunk.toLine };
}

function int32s(bytes: Uint8Array): Int32Array {
  return new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}
