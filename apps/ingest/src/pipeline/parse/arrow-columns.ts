/**
 * One stream column read from Arrow record batches: the Arrow field it comes from, the cast that takes
 * its values losslessly into the column's type, the rows that cannot be taken (checked a column at a
 * time), and the copy of a run of rows into a chunk buffer (chunk layout: columns.ts).
 *
 * Casts taken: int8/16/32/64 and uint8/16/32/64 into int32 and int64 (range-checked where they could
 * overflow), float16/32/64 into float64, utf8, large_utf8 and dictionary-encoded strings into string,
 * bool, date32/date64 into date (a date64 that is not a whole day is rejected), and timestamps of any
 * unit and time zone into microseconds UTC (Arrow stores UTC instants whatever the zone; a nanosecond
 * value that is not a whole microsecond is rejected, not rounded); a field of the null type is all nulls.
 * Anything else is refused.
 *
 * A column whose Arrow type is the stream type's own layout (int32, int64, float64, bool, utf8, date32,
 * timestamp[us]) is copied buffer by buffer, never value by value.
 */
import { isUtf8 } from 'node:buffer';
import { ROW_ERRORS, type Column, type RowErrorCode } from '@sluice/shared';
import { DateUnit, Precision, TimeUnit, Type, type Data, type DataType, type Dictionary, type Field } from 'apache-arrow';
import { align8, widthOf, type ColumnChunk } from './columns';
import { expectationFor } from './values';

/** Why a row cannot be stored: reported with its row number. */
export type RowReject = (row: number, code: RowErrorCode, message: string) => void;

/** The parameters of the Arrow types read here (Int, Float, Date, Timestamp). */
interface TypeInfo {
  bitWidth: number;
  isSigned: boolean;
  precision: Precision;
  unit: TimeUnit & DateUnit;
}

function info(type: DataType): TypeInfo {
  return type as unknown as TypeInfo;
}

type TypedArray =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

/** Rows [from, to) of a batch. */
export type Run = [from: number, to: number];

/** The sizes a column's part of a chunk takes: values, offsets, validity (see columns.ts). */
export type Sizes = [values: number, offsets: number, validity: number];

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const INT64_MAX = 2n ** 63n - 1n;
const MILLIS_PER_DAY = 86_400_000n;

/** How the values of the Arrow type become the column's. */
type Cast =
  | 'copy' // the same layout: bytes copied
  | 'int-to-int32'
  | 'int-to-int64'
  | 'float-to-float64'
  | 'timestamp-to-micros'
  | 'date64-to-date'
  | 'large-utf8'
  | 'dictionary'
  | 'missing'; // no such field: every row null

export class UnsupportedArrowType extends Error {}

function castFor(column: Column, type: DataType): Cast | null {
  switch (column.type) {
    case 'int32':
      if (type.typeId !== Type.Int) return null;
      return info(type).bitWidth === 32 && info(type).isSigned ? 'copy' : 'int-to-int32';
    case 'int64':
      if (type.typeId !== Type.Int) return null;
      return info(type).bitWidth === 64 && info(type).isSigned ? 'copy' : 'int-to-int64';
    case 'float64':
      if (type.typeId !== Type.Float) return null;
      return info(type).precision === Precision.DOUBLE ? 'copy' : 'float-to-float64';
    case 'boolean':
      return type.typeId === Type.Bool ? 'copy' : null;
    case 'string':
      if (type.typeId === Type.Utf8) return 'copy';
      if (type.typeId === Type.LargeUtf8) return 'large-utf8';
      if (type.typeId === Type.Dictionary) {
        const values = (type as Dictionary).dictionary.typeId;
        return values === Type.Utf8 || values === Type.LargeUtf8 ? 'dictionary' : null;
      }
      return null;
    case 'date':
      if (type.typeId !== Type.Date) return null;
      return info(type).unit === DateUnit.DAY ? 'copy' : 'date64-to-date';
    case 'timestamp':
      if (type.typeId !== Type.Timestamp) return null;
      return info(type).unit === TimeUnit.MICROSECOND ? 'copy' : 'timestamp-to-micros';
  }
}

/** Microseconds per unit, and the largest magnitude that fits int64 once scaled. */
const TIME_SCALE: Record<TimeUnit, { multiply: bigint; divide: bigint; limit: bigint }> = {
  [TimeUnit.SECOND]: { multiply: 1_000_000n, divide: 1n, limit: INT64_MAX / 1_000_000n },
  [TimeUnit.MILLISECOND]: { multiply: 1_000n, divide: 1n, limit: INT64_MAX / 1_000n },
  [TimeUnit.MICROSECOND]: { multiply: 1n, divide: 1n, limit: INT64_MAX },
  [TimeUnit.NANOSECOND]: { multiply: 1n, divide: 1_000n, limit: INT64_MAX },
};

const UNIT_NAMES: Record<TimeUnit, string> = {
  [TimeUnit.SECOND]: 's',
  [TimeUnit.MILLISECOND]: 'ms',
  [TimeUnit.MICROSECOND]: 'µs',
  [TimeUnit.NANOSECOND]: 'ns',
};

export class ArrowColumn {
  readonly cast: Cast;
  private readonly width: number;
  /** The batch's data for this column (null: the field is missing), bound per batch. */
  private data: Data | null = null;
  private rows = 0;
  /** Nulls in the rows being written (set by sizes(), used by write()). */
  private nullsInRun = 0;

  /**
   * `field` null: the batch has no such field (the column must be nullable). Throws
   * UnsupportedArrowType when the field's type cannot go into the column without loss.
   */
  constructor(
    readonly column: Column,
    readonly field: Field | null,
    private readonly allowNonFinite: boolean,
  ) {
    this.width = widthOf(column.type);
    // A field of Arrow's null type (pandas' all-None column) holds no values: as if it were missing.
    if (field === null || field.type.typeId === Type.Null) {
      this.cast = 'missing';
      return;
    }
    const cast = castFor(column, field.type);
    if (cast === null) {
      throw new UnsupportedArrowType(
        `field "${field.name}" is ${String(field.type)}, which does not go into the ${column.type} column "${column.name}" without loss`,
      );
    }
    this.cast = cast;
  }

  /** The data of the next batch (its child for this field), or null when the field is missing. */
  bind(data: Data | null, rows: number): void {
    this.data = this.cast === 'missing' ? null : data;
    this.rows = rows;
    if (this.data !== null && this.cast === 'dictionary' && !this.data.dictionary) {
      throw new UnsupportedArrowType(
        `field "${this.field!.name}" is dictionary-encoded, and no dictionary batch came before the record batch`,
      );
    }
  }

  /** Calls `reject` for each row of the batch this column cannot store, in row order. */
  check(reject: RowReject): void {
    const data = this.data;
    const { column } = this;
    if (data === null) {
      if (!column.nullable) for (let row = 0; row < this.rows; row++) reject(row, ROW_ERRORS.missingColumn, this.requiredMessage());
      return;
    }
    const nulls = nullBits(data);
    const isNull = (row: number) => nulls !== null && (nulls[(data.offset + row) >> 3]! & (1 << ((data.offset + row) & 7))) === 0;
    if (nulls !== null && !column.nullable) {
      for (let row = 0; row < data.length; row++) if (isNull(row)) reject(row, ROW_ERRORS.missingColumn, this.requiredMessage());
    }
    const bad = (row: number, shown: string) =>
      reject(row, ROW_ERRORS.invalidValue, `${shown} is not ${expectationFor(column.type, this.allowNonFinite)}`);
    const values = data.values;
    const at = data.offset;
    switch (this.cast) {
      case 'int-to-int32': {
        const { bitWidth, isSigned } = info(data.type);
        if (bitWidth < 32 || (bitWidth === 32 && isSigned)) return;
        for (let row = 0; row < data.length; row++) {
          if (isNull(row)) continue;
          // int64 and uint64 as BigInt; uint32 compared as the number it is.
          const value = bitWidth === 64 ? (values as BigInt64Array | BigUint64Array)[at + row]! : (values as Uint32Array)[at + row]!;
          if (value < INT32_MIN || value > INT32_MAX) bad(row, String(value));
        }
        return;
      }
      case 'int-to-int64': {
        const { bitWidth, isSigned } = info(data.type);
        if (bitWidth !== 64 || isSigned) return;
        for (let row = 0; row < data.length; row++) {
          if (!isNull(row) && (values as BigUint64Array)[at + row]! > INT64_MAX) bad(row, String((values as BigUint64Array)[at + row]));
        }
        return;
      }
      case 'copy':
      case 'float-to-float64':
        if (column.type === 'float64' && !this.allowNonFinite) {
          const half = info(data.type).precision === Precision.HALF;
          for (let row = 0; row < data.length; row++) {
            const value = half ? float16((values as Uint16Array)[at + row]!) : (values as Float64Array)[at + row]!;
            if (!Number.isFinite(value) && !isNull(row)) bad(row, String(value));
          }
        } else if (column.type === 'string') {
          this.checkUtf8(data, data.valueOffsets as Int32Array, values as Uint8Array, isNull, reject);
        }
        return;
      case 'large-utf8':
        this.checkUtf8(data, data.valueOffsets as unknown as BigInt64Array, values as Uint8Array, isNull, reject);
        return;
      case 'dictionary':
        this.checkDictionary(data, isNull, reject);
        return;
      case 'timestamp-to-micros': {
        const unit = info(data.type).unit;
        const { divide, limit } = TIME_SCALE[unit];
        for (let row = 0; row < data.length; row++) {
          if (isNull(row)) continue;
          const value = (values as BigInt64Array)[at + row]!;
          if (value > limit || value < -limit) {
            reject(row, ROW_ERRORS.invalidValue, `${value} ${UNIT_NAMES[unit]} is out of the range of microsecond timestamps`);
          } else if (value % divide !== 0n) {
            reject(row, ROW_ERRORS.invalidValue, `${value} ns is not a whole number of microseconds (it would lose precision)`);
          }
        }
        return;
      }
      case 'date64-to-date':
        for (let row = 0; row < data.length; row++) {
          if (isNull(row)) continue;
          const value = (values as BigInt64Array)[at + row]!;
          const days = value / MILLIS_PER_DAY;
          if (value % MILLIS_PER_DAY !== 0n) {
            reject(row, ROW_ERRORS.invalidValue, `${value} ms is not a whole day (a date64 must be midnight UTC)`);
          } else if (days < INT32_MIN || days > INT32_MAX) {
            reject(row, ROW_ERRORS.invalidValue, `${value} ms is out of the range of dates`);
          }
        }
        return;
      case 'missing':
        return;
    }
  }

  private requiredMessage(): string {
    return `column "${this.column.name}" is required but has no value`;
  }

  /** Rows whose string is not valid UTF-8 (one pass over the whole data when it all is). */
  private checkUtf8(
    data: Data,
    offsets: Int32Array | BigInt64Array,
    bytes: Uint8Array,
    isNull: (row: number) => boolean,
    reject: RowReject,
  ): void {
    const first = Number(offsets[data.offset]!);
    const last = Number(offsets[data.offset + data.length]!);
    if (isUtf8(bytes.subarray(first, last))) return;
    for (let row = 0; row < data.length; row++) {
      const start = Number(offsets[data.offset + row]!);
      const end = Number(offsets[data.offset + row + 1]!);
      if (!isNull(row) && !isUtf8(bytes.subarray(start, end))) reject(row, ROW_ERRORS.invalidUtf8, 'the value is not valid UTF-8');
    }
  }

  /** Rows whose index is outside the dictionary, or points at a string that is not valid UTF-8. */
  private checkDictionary(data: Data, isNull: (row: number) => boolean, reject: RowReject): void {
    const entries = flatDictionary(data.dictionary!.data);
    let badEntries: Set<number> | null = null;
    if (!isUtf8(entries.bytes.subarray(entries.offsets[0]!, entries.offsets[entries.length]!))) {
      badEntries = new Set();
      for (let entry = 0; entry < entries.length; entry++) {
        if (!isUtf8(entries.bytes.subarray(entries.offsets[entry]!, entries.offsets[entry + 1]!))) badEntries.add(entry);
      }
    }
    const indices = data.values as ArrayLike<number | bigint>;
    for (let row = 0; row < data.length; row++) {
      if (isNull(row)) continue;
      const index = Number(indices[data.offset + row]!);
      if (!(index >= 0 && index < entries.length)) {
        reject(row, ROW_ERRORS.invalidValue, `dictionary index ${index} is outside the dictionary of ${entries.length} entries`);
      } else if (badEntries?.has(index)) {
        reject(row, ROW_ERRORS.invalidUtf8, 'the value is not valid UTF-8');
      } else if (entries.nulls?.[index]) {
        // Writers put a null in the indices' validity; a null entry in the dictionary itself is not taken.
        reject(row, ROW_ERRORS.invalidValue, `dictionary index ${index} points at a null entry: send the null in the indices`);
      }
    }
  }

  /** The sizes of the rows of `runs` in a chunk (and notes their nulls for write()). */
  sizes(runs: readonly Run[]): Sizes {
    const data = this.data;
    let rows = 0;
    let nulls = 0;
    let bytes = 0;
    for (const [from, to] of runs) {
      rows += to - from;
      if (data === null) nulls += to - from;
      else {
        nulls += this.countNulls(data, from, to);
        if (this.column.type === 'string') bytes += this.stringBytes(data, from, to);
      }
    }
    this.nullsInRun = nulls;
    const validity = nulls > 0 ? Math.ceil(rows / 8) : 0;
    if (this.column.type === 'string') return [bytes, (rows + 1) * 4, validity];
    return [this.width === 0 ? Math.ceil(rows / 8) : rows * this.width, 0, validity];
  }

  /** Writes the rows of `runs` at buffer[at] (sizes from sizes(runs)); returns the column's part of the chunk. */
  write(buffer: ArrayBuffer, at: number, sizes: Sizes, runs: readonly Run[]): ColumnChunk {
    const [valueBytes, offsetBytes, validityBytes] = sizes;
    const values = new Uint8Array(buffer, at, valueBytes);
    at += align8(valueBytes);
    let offsets: Int32Array | null = null;
    if (offsetBytes > 0) {
      offsets = new Int32Array(buffer, at, offsetBytes >> 2);
      at += align8(offsetBytes);
    }
    const validity = validityBytes > 0 ? new Uint8Array(buffer, at, validityBytes) : null;
    const data = this.data;
    let rowAt = 0;
    let dataAt = 0;
    for (const [from, to] of runs) {
      if (data !== null) {
        if (validity !== null) copyBits(nullBits(data) ?? allPresent(data.offset + to), data.offset + from, validity, to - from, rowAt);
        dataAt = this.writeValues(data, from, to, values, offsets, rowAt, dataAt);
      }
      rowAt += to - from;
    }
    // A missing field: every row null (the buffer is zeroed: values, offsets and validity are all 0).
    return {
      type: this.column.type,
      length: rowAt,
      nullCount: this.nullsInRun,
      validity,
      values,
      offsets: offsets === null ? null : new Uint8Array(offsets.buffer, offsets.byteOffset, offsetBytes),
    };
  }

  /**
   * Writes rows [from, to) of the data as rows from `rowAt` of the chunk (string bytes from `dataAt`);
   * returns where the string bytes end.
   */
  private writeValues(
    data: Data,
    from: number,
    to: number,
    out: Uint8Array,
    offsets: Int32Array | null,
    rowAt: number,
    dataAt: number,
  ): number {
    const rows = to - from;
    const start = data.offset + from;
    const end = data.offset + to;
    const source = data.values as TypedArray;
    const fixed = out.subarray(rowAt * this.width);
    switch (this.cast) {
      case 'copy':
        if (this.column.type === 'boolean') copyBits(data.values as Uint8Array, start, out, rows, rowAt);
        else if (this.column.type === 'string')
          return copyStrings(data.valueOffsets as Int32Array, data.values as Uint8Array, start, end, out, offsets!, rowAt, dataAt);
        else fixed.set(new Uint8Array(source.buffer, source.byteOffset + start * this.width, rows * this.width));
        return dataAt;
      case 'int-to-int32': {
        const target = int32s(fixed);
        if (info(data.type).bitWidth === 64) {
          // Range-checked: the low word is the value.
          const words = new Int32Array(source.buffer, source.byteOffset, source.byteLength >> 2);
          for (let i = 0; i < rows; i++) target[i] = words[(start + i) * 2]!;
        } else {
          target.set(source.subarray(start, end) as ArrayLike<number>);
        }
        return dataAt;
      }
      case 'int-to-int64': {
        if (info(data.type).bitWidth === 64) {
          fixed.set(new Uint8Array(source.buffer, source.byteOffset + start * 8, rows * 8));
          return dataAt;
        }
        const target = int32s(fixed);
        const unsigned = !info(data.type).isSigned;
        for (let i = 0; i < rows; i++) {
          const value = source[start + i] as number;
          target[i * 2] = value;
          target[i * 2 + 1] = unsigned || value >= 0 ? 0 : -1;
        }
        return dataAt;
      }
      case 'float-to-float64': {
        const target = new Float64Array(fixed.buffer, fixed.byteOffset, rows);
        if (info(data.type).precision === Precision.HALF) {
          for (let i = 0; i < rows; i++) target[i] = float16(source[start + i] as number);
        } else {
          target.set(source.subarray(start, end) as ArrayLike<number>);
        }
        return dataAt;
      }
      case 'timestamp-to-micros': {
        const { multiply, divide } = TIME_SCALE[info(data.type).unit];
        const target = new BigInt64Array(fixed.buffer, fixed.byteOffset, rows);
        const times = source as BigInt64Array;
        // Null slots may hold anything: BigInt64Array keeps the low 64 bits of whatever they scale to.
        if (divide === 1n) for (let i = 0; i < rows; i++) target[i] = times[start + i]! * multiply;
        else for (let i = 0; i < rows; i++) target[i] = times[start + i]! / divide;
        return dataAt;
      }
      case 'date64-to-date': {
        const target = int32s(fixed);
        const millis = source as BigInt64Array;
        for (let i = 0; i < rows; i++) target[i] = Number(BigInt.asIntN(32, millis[start + i]! / MILLIS_PER_DAY));
        return dataAt;
      }
      case 'large-utf8':
        return copyStrings(
          data.valueOffsets as unknown as BigInt64Array,
          data.values as Uint8Array,
          start,
          end,
          out,
          offsets!,
          rowAt,
          dataAt,
        );
      case 'dictionary': {
        const entries = flatDictionary(data.dictionary!.data);
        const nulls = nullBits(data);
        let filled = dataAt;
        offsets![rowAt] = filled;
        for (let i = 0; i < rows; i++) {
          const row = start + i;
          if (nulls === null || (nulls[row >> 3]! & (1 << (row & 7))) !== 0) {
            const entry = Number(source[row]!);
            const first = entries.offsets[entry]!;
            const length = entries.offsets[entry + 1]! - first;
            if (length < 16) for (let b = 0; b < length; b++) out[filled + b] = entries.bytes[first + b]!;
            else out.set(entries.bytes.subarray(first, first + length), filled);
            filled += length;
          }
          offsets![rowAt + i + 1] = filled;
        }
        return filled;
      }
      case 'missing':
        return dataAt;
    }
  }

  private stringBytes(data: Data, from: number, to: number): number {
    if (this.cast === 'dictionary') {
      const entries = flatDictionary(data.dictionary!.data);
      const indices = data.values as ArrayLike<number | bigint>;
      const nulls = nullBits(data);
      let total = 0;
      for (let row = data.offset + from; row < data.offset + to; row++) {
        if (nulls !== null && (nulls[row >> 3]! & (1 << (row & 7))) === 0) continue;
        const entry = Number(indices[row]!);
        total += entries.offsets[entry + 1]! - entries.offsets[entry]!;
      }
      return total;
    }
    const offsets = data.valueOffsets as ArrayLike<number | bigint>;
    return Number(offsets[data.offset + to]!) - Number(offsets[data.offset + from]!);
  }

  private countNulls(data: Data, from: number, to: number): number {
    const nulls = nullBits(data);
    return nulls === null ? 0 : to - from - countBits(nulls, data.offset + from, to - from);
  }
}

/** The validity bitmap of `data` (1 = present), or null when it has no nulls. */
function nullBits(data: Data): Uint8Array | null {
  return data.nullCount > 0 && data.nullBitmap !== undefined && data.nullBitmap.length > 0 ? data.nullBitmap : null;
}

/**
 * Copies `count` bits starting at bit `from` of `source` to bits from `at` of `target`, which is zeroed
 * from there on (bits past the last copied are left 0, as a bitmap built row by row leaves them).
 */
export function copyBits(source: Uint8Array, from: number, target: Uint8Array, count: number, at = 0): void {
  if ((at & 7) === 0) {
    const bytes = Math.ceil(count / 8);
    const shift = from & 7;
    const first = from >> 3;
    const out = at >> 3;
    if (shift === 0) {
      target.set(source.subarray(first, first + bytes), out);
    } else {
      for (let i = 0; i < bytes; i++) {
        target[out + i] = ((source[first + i]! >> shift) | ((source[first + i + 1] ?? 0) << (8 - shift))) & 0xff;
      }
    }
    if (count & 7) target[out + bytes - 1]! &= (1 << (count & 7)) - 1;
    return;
  }
  // A run that starts mid-byte in the chunk (after an earlier run): bit by bit.
  for (let i = 0; i < count; i++) {
    const bit = at + i;
    if ((source[(from + i) >> 3]! >> ((from + i) & 7)) & 1) target[bit >> 3]! |= 1 << (bit & 7);
    else target[bit >> 3]! &= ~(1 << (bit & 7));
  }
}

/** A validity bitmap of `rows` set bits: a column without nulls in a run that shares a chunk with nulls. */
function allPresent(rows: number): Uint8Array {
  return new Uint8Array(Math.ceil(rows / 8)).fill(0xff);
}

/**
 * Rows [start, end) of a utf8 or large_utf8 column as rows from `rowAt` of the chunk, their bytes at
 * `dataAt` of `out`; returns where the bytes end.
 */
function copyStrings(
  offsets: Int32Array | BigInt64Array,
  bytes: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
  target: Int32Array,
  rowAt: number,
  dataAt: number,
): number {
  const base = Number(offsets[start]!);
  const last = Number(offsets[end]!);
  if (offsets instanceof Int32Array) {
    const shift = dataAt - base;
    if (shift === 0) target.set(offsets.subarray(start, end + 1), rowAt);
    else for (let i = start; i <= end; i++) target[rowAt + i - start] = offsets[i]! + shift;
  } else {
    for (let i = start; i <= end; i++) target[rowAt + i - start] = Number(offsets[i]!) - base + dataAt;
  }
  out.set(bytes.subarray(base, last), dataAt);
  return dataAt + last - base;
}

/** Set bits among `count` bits starting at bit `from`. */
export function countBits(bits: Uint8Array, from: number, count: number): number {
  let set = 0;
  let bit = from;
  const end = from + count;
  while (bit < end && bit & 7) set += (bits[bit >> 3]! >> (bit++ & 7)) & 1;
  while (bit + 8 <= end) {
    set += POPCOUNT[bits[bit >> 3]!]!;
    bit += 8;
  }
  while (bit < end) set += (bits[bit >> 3]! >> (bit++ & 7)) & 1;
  return set;
}

const POPCOUNT = Uint8Array.from({ length: 256 }, (_, byte) => {
  let set = 0;
  for (let b = byte; b !== 0; b >>= 1) set += b & 1;
  return set;
});

function int32s(bytes: Uint8Array): Int32Array {
  return new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2);
}

/** An IEEE half-precision value as a number (exactly: every float16 is a float64). */
export function float16(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** A dictionary's strings as one run of bytes with int offsets, and which entries are null. */
interface FlatDictionary {
  length: number;
  offsets: Int32Array;
  bytes: Uint8Array;
  nulls: Uint8Array | null;
}

const flattened = new WeakMap<object, FlatDictionary>();

/**
 * A dictionary (one Data per dictionary batch that built it: a delta adds one) as one flat view. A
 * single utf8 Data with no offset is used as it is; anything else is copied once and remembered.
 */
function flatDictionary(parts: readonly Data[]): FlatDictionary {
  const key = parts[0] ?? parts;
  const known = flattened.get(key);
  if (known && known.length === parts.reduce((sum, part) => sum + part.length, 0)) return known;
  const only = parts.length === 1 ? parts[0]! : null;
  let flat: FlatDictionary;
  if (only && only.typeId === Type.Utf8 && only.offset === 0 && Number((only.valueOffsets as Int32Array)[0]) === 0) {
    flat = { length: only.length, offsets: only.valueOffsets as Int32Array, bytes: only.values as Uint8Array, nulls: entryNulls(parts) };
  } else {
    const length = parts.reduce((sum, part) => sum + part.length, 0);
    const offsets = new Int32Array(length + 1);
    let total = 0;
    for (const part of parts) {
      const partOffsets = part.valueOffsets as ArrayLike<number | bigint>;
      total += Number(partOffsets[part.offset + part.length]!) - Number(partOffsets[part.offset]!);
    }
    const bytes = new Uint8Array(total);
    let entry = 0;
    let filled = 0;
    for (const part of parts) {
      const partOffsets = part.valueOffsets as ArrayLike<number | bigint>;
      const first = Number(partOffsets[part.offset]!);
      const last = Number(partOffsets[part.offset + part.length]!);
      bytes.set((part.values as Uint8Array).subarray(first, last), filled);
      for (let i = 0; i < part.length; i++) offsets[entry++] = filled + Number(partOffsets[part.offset + i]!) - first;
      filled += last - first;
    }
    offsets[entry] = filled;
    flat = { length, offsets, bytes, nulls: entryNulls(parts) };
  }
  flattened.set(key, flat);
  return flat;
}

/** Per dictionary entry, 1 when it is null; null when none is. */
function entryNulls(parts: readonly Data[]): Uint8Array | null {
  if (!parts.some((part) => nullBits(part) !== null)) return null;
  const nulls = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let entry = 0;
  for (const part of parts) {
    const bits = nullBits(part);
    for (let i = 0; i < part.length; i++, entry++) {
      const bit = part.offset + i;
      if (bits !== null && (bits[bit >> 3]! & (1 << (bit & 7))) === 0) nulls[entry] = 1;
    }
  }
  return nulls;
}
