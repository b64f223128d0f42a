/**
 * Column chunk statistics computed from the parsed columns, as the footer fields parquet-wasm writes with
 * EnabledStatistics.Chunk: the same bytes, so a reader cannot tell them apart (statistics.test.ts compares
 * whole files). parquet-wasm computes them in WebAssembly, a comparison per value, which was ~15 % of an
 * encode on the benchmark dataset; here they are a loop over typed arrays.
 *
 * What parquet-wasm 0.8 (parquet-rs 59) writes, per column chunk:
 * - Statistics: null_count; min_value / max_value where the column has a value that is not null (or NaN),
 *   and for signed sort orders (integers, floats, dates, timestamps) the same again in the legacy min / max
 *   fields; is_min_value_exact / is_max_value_exact (false when there is no value). Floats skip NaN; a zero
 *   minimum is written as -0 and a zero maximum as +0. Strings compare as unsigned bytes and are cut to 64
 *   bytes at a character boundary; a cut maximum has its last character that can be raised by one raised
 *   (not exact any more), and one that cannot stays whole. (The cut assumes valid UTF-8, which the parsers
 *   guarantee; parquet-rs cuts other bytes differently.)
 * - SizeStatistics: for strings the bytes of the values; for nullable columns the histogram of definition
 *   levels ([nulls, values]).
 */
import type { Column } from '@sluice/shared';
import type { ColumnChunk } from '../parse/columns';
import { encodeBinary, encodeInteger, encodeList, encodeStruct, ThriftType, type ThriftField } from './thrift-compact';

/** parquet-rs's default statistics_truncate_length. */
const TRUNCATE_BYTES = 64;

// Field ids, from parquet.thrift.
const Statistics = { max: 1, min: 2, nullCount: 3, maxValue: 5, minValue: 6, maxExact: 7, minExact: 8 };
const SizeStatistics = { unencodedByteArrayDataBytes: 1, definitionLevelHistogram: 3 };
const ColumnMetaData = { statistics: 12, sizeStatistics: 16 };

/** Rows [start, end) of a column as parsed (see parse/columns.ts). */
export interface ColumnSlice {
  parsed: ColumnChunk;
  start: number;
  end: number;
}

/** The ColumnMetaData fields (statistics, size statistics) for one column chunk of a row group. */
export function statisticsFields(column: Column, slices: readonly ColumnSlice[]): ThriftField[] {
  let nulls = 0;
  let rows = 0;
  for (const slice of slices) {
    nulls += nullsIn(slice);
    rows += slice.end - slice.start;
  }
  const { min, max, minExact = true, maxExact = true } = minMax(column, slices);
  const stats: ThriftField[] = [];
  // parquet-rs repeats the bounds in the deprecated min / max fields where their old (signed) order holds.
  const legacyFields = column.type !== 'string' && column.type !== 'boolean';
  if (min && max && legacyFields) stats.push(binary(Statistics.max, max), binary(Statistics.min, min));
  stats.push({ id: Statistics.nullCount, type: ThriftType.I64, value: encodeInteger(nulls) });
  if (min && max) stats.push(binary(Statistics.maxValue, max), binary(Statistics.minValue, min));
  stats.push(flag(Statistics.maxExact, !!max && maxExact), flag(Statistics.minExact, !!min && minExact));
  const fields: ThriftField[] = [{ id: ColumnMetaData.statistics, type: ThriftType.Struct, value: encodeStruct(stats) }];

  const size: ThriftField[] = [];
  if (column.type === 'string') {
    let bytes = 0;
    for (const { parsed, start, end } of slices) bytes += offsetAt(parsed, end) - offsetAt(parsed, start);
    size.push({ id: SizeStatistics.unencodedByteArrayDataBytes, type: ThriftType.I64, value: encodeInteger(bytes) });
  }
  if (column.nullable) {
    const histogram = encodeList(ThriftType.I64, [encodeInteger(nulls), encodeInteger(rows - nulls)]);
    size.push({ id: SizeStatistics.definitionLevelHistogram, type: ThriftType.List, value: histogram });
  }
  if (size.length > 0) fields.push({ id: ColumnMetaData.sizeStatistics, type: ThriftType.Struct, value: encodeStruct(size) });
  return fields;
}

/** A column's bounds and nulls over slices: what a Delta add action's statistics say of it. */
export function columnBounds(column: Column, slices: readonly ColumnSlice[]): MinMax & { nulls: number } {
  let nulls = 0;
  for (const slice of slices) nulls += nullsIn(slice);
  return { ...minMax(column, slices), nulls };
}

export interface MinMax {
  /** Plain-encoded, as Parquet statistics hold them; undefined when the chunk has no value to compare. */
  min?: Uint8Array;
  max?: Uint8Array;
  /** False when the bound was cut (strings); a bound not cut is exact (the default). */
  minExact?: boolean;
  maxExact?: boolean;
}

function minMax(column: Column, slices: readonly ColumnSlice[]): MinMax {
  switch (column.type) {
    case 'int32':
    case 'date':
      return int32MinMax(slices);
    case 'int64':
    case 'timestamp':
      return int64MinMax(slices);
    case 'float64':
      return float64MinMax(slices);
    case 'boolean':
      return booleanMinMax(slices);
    case 'string':
      return stringMinMax(slices);
  }
}

function isNull(validity: Uint8Array | null, row: number): boolean {
  return validity !== null && (validity[row >> 3]! & (1 << (row & 7))) === 0;
}

function nullsIn({ parsed, start, end }: ColumnSlice): number {
  if (parsed.nullCount === 0) return 0;
  if (start === 0 && end === parsed.length) return parsed.nullCount;
  let nulls = 0;
  for (let row = start; row < end; row++) if (isNull(parsed.validity, row)) nulls++;
  return nulls;
}

function int32MinMax(slices: readonly ColumnSlice[]): MinMax {
  let min = 2 ** 31;
  let max = -(2 ** 31) - 1;
  for (const { parsed, start, end } of slices) {
    const values = new Int32Array(parsed.values.buffer, parsed.values.byteOffset, parsed.length);
    const validity = parsed.nullCount > 0 ? parsed.validity : null;
    for (let row = start; row < end; row++) {
      if (isNull(validity, row)) continue;
      const value = values[row]!;
      if (value < min) min = value;
      if (value > max) max = value;
    }
  }
  if (min > max) return {};
  return { min: int32Bytes(min), max: int32Bytes(max) };
}

/** int64 as two little-endian words: compared by the signed high word, then the unsigned low word. */
function int64MinMax(slices: readonly ColumnSlice[]): MinMax {
  let found = false;
  let minHigh = 0;
  let minLow = 0;
  let maxHigh = 0;
  let maxLow = 0;
  for (const { parsed, start, end } of slices) {
    const words = new Int32Array(parsed.values.buffer, parsed.values.byteOffset, parsed.length * 2);
    const validity = parsed.nullCount > 0 ? parsed.validity : null;
    for (let row = start; row < end; row++) {
      if (isNull(validity, row)) continue;
      const high = words[row * 2 + 1]!;
      const low = words[row * 2]! >>> 0;
      if (!found) {
        found = true;
        minHigh = maxHigh = high;
        minLow = maxLow = low;
        continue;
      }
      if (high < minHigh || (high === minHigh && low < minLow)) {
        minHigh = high;
        minLow = low;
      }
      if (high > maxHigh || (high === maxHigh && low > maxLow)) {
        maxHigh = high;
        maxLow = low;
      }
    }
  }
  if (!found) return {};
  return { min: int64Bytes(minHigh, minLow), max: int64Bytes(maxHigh, maxLow) };
}

function float64MinMax(slices: readonly ColumnSlice[]): MinMax {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let found = false;
  for (const { parsed, start, end } of slices) {
    const values = new Float64Array(parsed.values.buffer, parsed.values.byteOffset, parsed.length);
    const validity = parsed.nullCount > 0 ? parsed.validity : null;
    for (let row = start; row < end; row++) {
      if (isNull(validity, row)) continue;
      const value = values[row]!;
      if (Number.isNaN(value)) continue;
      found = true;
      if (value < min) min = value;
      if (value > max) max = value;
    }
  }
  if (!found) return {};
  // Zero's sign is not ordered: the bounds are widened to both zeros.
  return { min: float64Bytes(min === 0 ? -0 : min), max: float64Bytes(max === 0 ? 0 : max) };
}

function booleanMinMax(slices: readonly ColumnSlice[]): MinMax {
  let anyTrue = false;
  let anyFalse = false;
  for (const { parsed, start, end } of slices) {
    const validity = parsed.nullCount > 0 ? parsed.validity : null;
    for (let row = start; row < end && !(anyTrue && anyFalse); row++) {
      if (isNull(validity, row)) continue;
      if ((parsed.values[row >> 3]! & (1 << (row & 7))) !== 0) anyTrue = true;
      else anyFalse = true;
    }
  }
  if (!anyTrue && !anyFalse) return {};
  return { min: Uint8Array.of(anyFalse ? 0 : 1), max: Uint8Array.of(anyTrue ? 1 : 0) };
}

function offsetAt(parsed: ColumnChunk, row: number): number {
  const offsets = parsed.offsets!;
  return new DataView(offsets.buffer, offsets.byteOffset + row * 4, 4).getInt32(0, true);
}

function stringMinMax(slices: readonly ColumnSlice[]): MinMax {
  // The bounds are kept as places in the chunks' bytes, copied once at the end. A value whose first four
  // bytes lie strictly between theirs lies between them (a shorter value's missing bytes count as 0, no
  // greater than any byte): most values are passed over on that alone.
  let minBytes: Uint8Array | null = null;
  let minStart = 0;
  let minEnd = 0;
  let minKey = 0;
  let maxBytes: Uint8Array | null = null;
  let maxStart = 0;
  let maxEnd = 0;
  let maxKey = 0;
  for (const { parsed, start, end } of slices) {
    const data = parsed.values;
    const offsets = new Int32Array(parsed.offsets!.buffer, parsed.offsets!.byteOffset, parsed.length + 1);
    const validity = parsed.nullCount > 0 ? parsed.validity : null;
    for (let row = start; row < end; row++) {
      if (isNull(validity, row)) continue;
      const from = offsets[row]!;
      const to = offsets[row + 1]!;
      const key = prefixKey(data, from, to);
      if (key > minKey && key < maxKey) continue;
      if (minBytes === null || (key <= minKey && compareBytes(data, from, to, minBytes, minStart, minEnd) < 0)) {
        minBytes = data;
        minStart = from;
        minEnd = to;
        minKey = key;
      }
      if (maxBytes === null || (key >= maxKey && compareBytes(data, from, to, maxBytes, maxStart, maxEnd) > 0)) {
        maxBytes = data;
        maxStart = from;
        maxEnd = to;
        maxKey = key;
      }
    }
  }
  if (minBytes === null || maxBytes === null) return {};
  const min = truncateMin(minBytes.slice(minStart, minEnd));
  const max = truncateMax(maxBytes.slice(maxStart, maxEnd));
  return { min: min.bytes, max: max.bytes, minExact: min.exact, maxExact: max.exact };
}

/** The first four bytes of a value as an unsigned big-endian number, missing bytes as 0. */
function prefixKey(data: Uint8Array, from: number, to: number): number {
  const length = to - from;
  if (length >= 4) return ((data[from]! << 24) | (data[from + 1]! << 16) | (data[from + 2]! << 8) | data[from + 3]!) >>> 0;
  let key = 0;
  for (let i = 0; i < 4; i++) key = key * 256 + (i < length ? data[from + i]! : 0);
  return key;
}

/** Unsigned byte order, a shorter prefix first. */
function compareBytes(a: Uint8Array, aStart: number, aEnd: number, b: Uint8Array, bStart: number, bEnd: number): number {
  const length = Math.min(aEnd - aStart, bEnd - bStart);
  for (let i = 0; i < length; i++) {
    const difference = a[aStart + i]! - b[bStart + i]!;
    if (difference !== 0) return difference;
  }
  return aEnd - aStart - (bEnd - bStart);
}

function isCharBoundary(bytes: Uint8Array, at: number): boolean {
  return at >= bytes.length || (bytes[at]! & 0xc0) !== 0x80;
}

/** The longest prefix of at most TRUNCATE_BYTES that ends on a character boundary: a lower bound. */
function truncateMin(bytes: Uint8Array): { bytes: Uint8Array; exact: boolean } {
  if (bytes.length <= TRUNCATE_BYTES) return { bytes, exact: true };
  let split = TRUNCATE_BYTES;
  while (!isCharBoundary(bytes, split)) split--;
  return { bytes: bytes.subarray(0, split), exact: false };
}

/**
 * An upper bound of at most TRUNCATE_BYTES: the prefix ending on the last character boundary in the last
 * four bytes allowed, with its last character that can be raised by one without changing its UTF-8 length
 * raised, and what followed it dropped. A value no character of which can be raised is kept whole.
 */
function truncateMax(bytes: Uint8Array): { bytes: Uint8Array; exact: boolean } {
  if (bytes.length <= TRUNCATE_BYTES) return { bytes, exact: true };
  let split = TRUNCATE_BYTES;
  while (split > TRUNCATE_BYTES - 3 && !isCharBoundary(bytes, split)) split--; // valid UTF-8 has one in any 4 bytes
  const characters = Array.from(utf8Decoder.decode(bytes.subarray(0, split)));
  for (let i = characters.length - 1; i >= 0; i--) {
    const code = characters[i]!.codePointAt(0)!;
    const next = code + 1;
    if (next > 0x10ffff || (next >= 0xd800 && next <= 0xdfff) || utf8Length(next) !== utf8Length(code)) continue;
    return { bytes: utf8Encoder.encode(characters.slice(0, i).join('') + String.fromCodePoint(next)), exact: false };
  }
  return { bytes, exact: true };
}

const utf8Decoder = new TextDecoder();
const utf8Encoder = new TextEncoder();

function utf8Length(code: number): number {
  return code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
}

function binary(id: number, bytes: Uint8Array): ThriftField {
  return { id, type: ThriftType.Binary, value: encodeBinary(bytes) };
}

function flag(id: number, value: boolean): ThriftField {
  return { id, type: value ? ThriftType.True : ThriftType.False, value: new Uint8Array(0) };
}

function int32Bytes(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setInt32(0, value, true);
  return bytes;
}

function int64Bytes(high: number, low: number): Uint8Array {
  const bytes = new Uint8Array(8);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, low, true);
  view.setInt32(4, high, true);
  return bytes;
}

function float64Bytes(value: number): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setFloat64(0, value, true);
  return bytes;
}
