/**
 * Typed column buffers that parsers write into directly: no JS object per row, no JS string per value.
 * A finished chunk is one ArrayBuffer holding every column's buffers (8-byte aligned), which crosses
 * threads without copying and becomes Arrow vectors without conversion (validity bitmaps LSB-first, int64
 * little-endian, UTF-8 data + int32 offsets). One buffer per chunk (about a MB): a dozen small ones per
 * chunk fragmented the worker threads' malloc arena, which grew request after request.
 */
import type { ColumnType } from '@sluice/shared';

/** One column of one chunk: views into the chunk's buffer. */
export interface ColumnChunk {
  type: ColumnType;
  length: number;
  nullCount: number;
  /** Validity bitmap (1 = present); null when the chunk has no nulls. */
  validity: Uint8Array | null;
  /** Fixed-width values, a bit-packed boolean bitmap, or UTF-8 string data. */
  values: Uint8Array;
  /** int32 offsets into values, for strings (length + 1 entries). */
  offsets: Uint8Array | null;
}

export interface ParsedChunk {
  rows: number;
  columns: ColumnChunk[];
  /** The buffer every column of the chunk lies in (what crosses threads). */
  buffer: ArrayBuffer;
  /** Its size, for memory accounting. */
  bytes: number;
  /** The body lines it covers (see RecordSink.flushChunk): what an Idempotency-Key's retry skips once stored. */
  fromLine: number;
  toLine: number;
}

const TWO_32 = 4294967296;

export class ColumnBuilder {
  readonly type: ColumnType;
  length = 0;
  nullCount = 0;
  /** Rows every buffer has room for (string data grows on its own, see reserveData). */
  private capacity: number;
  /** Null bitmap (1 = null): a present value writes nothing; finish() inverts it into Arrow's validity. */
  private nulls: Uint8Array;
  // Fixed-width storage (int32, date: 4 bytes; int64, timestamp, float64: 8 bytes; boolean: bits).
  private bytes: Uint8Array;
  private i32: Int32Array;
  private f64: Float64Array | null = null;
  // Strings: offsets and data.
  private offsets: Int32Array | null = null;
  dataLength = 0;
  /** A Buffer view of the string data, for Buffer.write. */
  private text: Buffer | null = null;
  private readonly width: number;

  constructor(type: ColumnType, capacity = 1024) {
    this.type = type;
    this.width = widthOf(type);
    this.capacity = capacity;
    this.nulls = new Uint8Array(Math.ceil(capacity / 8));
    if (type === 'string') {
      this.offsets = new Int32Array(capacity + 1);
      this.bytes = new Uint8Array(capacity * 16);
    } else if (type === 'boolean') {
      this.bytes = new Uint8Array(Math.ceil(capacity / 8));
    } else {
      this.bytes = new Uint8Array(capacity * this.width);
    }
    this.i32 = new Int32Array(this.bytes.buffer, 0, this.bytes.byteLength >> 2);
    if (type === 'float64') this.f64 = new Float64Array(this.bytes.buffer);
  }

  /** Doubles the room in rows of every buffer (string data grows on its own). */
  private growRows(): void {
    const rows = this.capacity * 2;
    this.capacity = rows;
    this.nulls = grow(this.nulls, Math.ceil(rows / 8));
    if (this.offsets) {
      const next = new Int32Array(rows + 1);
      next.set(this.offsets);
      this.offsets = next;
    } else if (this.width === 0) {
      this.setBytes(grow(this.bytes, Math.ceil(rows / 8)));
    } else {
      this.setBytes(grow(this.bytes, rows * this.width));
    }
  }

  private setBytes(bytes: Uint8Array): void {
    this.bytes = bytes;
    this.i32 = new Int32Array(bytes.buffer, 0, bytes.byteLength >> 2);
    if (this.f64) this.f64 = new Float64Array(bytes.buffer);
  }

  /** The row a value goes in, with room for it. */
  private present(): number {
    const row = this.length;
    if (row === this.capacity) this.growRows();
    return row;
  }

  appendNull(): void {
    const row = this.present();
    this.nulls[row >> 3]! |= 1 << (row & 7);
    if (this.offsets) this.offsets[row + 1] = this.dataLength;
    else if (this.width === 0) this.bytes[row >> 3]! &= ~(1 << (row & 7));
    this.nullCount++;
    this.length = row + 1;
  }

  appendInt32(value: number): void {
    const row = this.present();
    this.i32[row] = value;
    this.length = row + 1;
  }

  /** int64 and timestamps from a safe-integer Number, written as two little-endian words. */
  appendInt64(value: number): void {
    const row = this.present();
    this.i32[row * 2] = value >>> 0;
    this.i32[row * 2 + 1] = Math.floor(value / TWO_32);
    this.length = row + 1;
  }

  appendBigInt64(value: bigint): void {
    const row = this.present();
    this.i32[row * 2] = Number(BigInt.asUintN(32, value)) | 0;
    this.i32[row * 2 + 1] = Number(BigInt.asIntN(32, value >> 32n));
    this.length = row + 1;
  }

  appendFloat64(value: number): void {
    const row = this.present();
    this.f64![row] = value;
    this.length = row + 1;
  }

  appendBoolean(value: boolean): void {
    const row = this.present();
    if (value) this.bytes[row >> 3]! |= 1 << (row & 7);
    else this.bytes[row >> 3]! &= ~(1 << (row & 7));
    this.length = row + 1;
  }

  /** Appends a JS string as UTF-8 (NDJSON values arrive as strings). */
  appendString(text: string): void {
    this.reserveData(text.length * 3);
    const written = this.text!.write(text, this.dataLength, 'utf8');
    this.commitData(written);
  }

  /** Room for `extra` more bytes of string data; returns the data buffer to write into. */
  reserveData(extra: number): Uint8Array {
    const needed = this.dataLength + extra;
    if (needed > this.bytes.length) {
      this.bytes = grow(this.bytes, Math.max(needed, this.bytes.length * 2));
      this.text = null;
    }
    this.text ??= Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    return this.bytes;
  }

  /** Copies UTF-8 bytes [start, end) of `source` as the next string value. */
  appendBytes(source: Uint8Array, start: number, end: number): void {
    const row = this.present();
    const length = end - start;
    const data = this.reserveData(length);
    if (length < 16) {
      let at = this.dataLength;
      for (let i = start; i < end; i++) data[at++] = source[i]!;
    } else {
      data.set(source.subarray(start, end), this.dataLength);
    }
    this.dataLength += length;
    this.offsets![row + 1] = this.dataLength;
    this.length = row + 1;
  }

  /** Copies the inside of a quoted CSV field [start, end) with each doubled quote written once. */
  appendUndoubled(source: Uint8Array, start: number, end: number): void {
    const data = this.reserveData(end - start);
    let at = this.dataLength;
    for (let i = start; i < end; i++) {
      const byte = source[i]!;
      data[at++] = byte;
      if (byte === 0x22) i++; // the second quote of the pair
    }
    this.commitData(at - this.dataLength);
  }

  /** Commits a string value whose bytes the caller already wrote at dataLength (see reserveData). */
  commitData(length: number): void {
    const row = this.present();
    this.dataLength += length;
    this.offsets![row + 1] = this.dataLength;
    this.length = row + 1;
  }

  /** Drops rows past `length`: a parser that rejects a row half-way through undoes what it wrote. */
  truncate(length: number): void {
    if (length >= this.length) return;
    if (this.nullCount > 0) {
      for (let row = length; row < this.length; row++) {
        const bit = 1 << (row & 7);
        if ((this.nulls[row >> 3]! & bit) !== 0) {
          this.nulls[row >> 3]! &= ~bit;
          this.nullCount--;
        }
      }
    }
    if (this.offsets) this.dataLength = this.offsets[length]!;
    this.length = length;
  }

  /** Bytes this column would hand over now. */
  byteSize(): number {
    if (this.offsets) return this.dataLength + (this.length + 1) * 4 + (this.length >> 3);
    if (this.width === 0) return (this.length >> 2) + 2;
    return this.length * this.width + (this.length >> 3);
  }

  /** The sizes of what finish() writes: values, offsets (strings) and validity (when there are nulls). */
  handover(): Handover {
    const rows = this.length;
    const bitmapBytes = Math.ceil(rows / 8);
    const values = this.offsets ? this.dataLength : this.width === 0 ? bitmapBytes : rows * this.width;
    return [values, this.offsets ? (rows + 1) * 4 : 0, this.nullCount > 0 ? bitmapBytes : 0];
  }

  /**
   * Copies the rows into `buffer` at `at` (8-byte aligned, roomFor(sizes) of room; `sizes` from handover()),
   * hands them over as views of it, and starts empty again.
   */
  finish(buffer: ArrayBuffer, at: number, sizes: Handover): ColumnChunk {
    const [valueBytes, offsetBytes, validityBytes] = sizes;
    const values = new Uint8Array(buffer, at, valueBytes);
    values.set(this.bytes.subarray(0, valueBytes));
    at += align8(valueBytes);
    let offsets: Uint8Array | null = null;
    if (this.offsets) {
      offsets = new Uint8Array(buffer, at, offsetBytes);
      new Int32Array(buffer, at, this.length + 1).set(this.offsets.subarray(0, this.length + 1));
      at += align8(offsetBytes);
    }
    let validity: Uint8Array | null = null;
    if (validityBytes > 0) {
      validity = new Uint8Array(buffer, at, validityBytes);
      const nulls = this.nulls;
      for (let i = 0; i < validityBytes; i++) validity[i] = ~nulls[i]!;
      // Bits past the last row stay 0, as a validity bitmap built row by row leaves them.
      if (this.length & 7) validity[validityBytes - 1]! &= (1 << (this.length & 7)) - 1;
      nulls.fill(0, 0, validityBytes);
    }
    const chunk: ColumnChunk = { type: this.type, length: this.length, nullCount: this.nullCount, validity, values, offsets };
    this.length = 0;
    this.nullCount = 0;
    this.dataLength = 0;
    return chunk;
  }
}

type Handover = [values: number, offsets: number, validity: number];

/** Bytes rounded up to the 8-byte alignment of a chunk's parts. */
export function align8(bytes: number): number {
  return (bytes + 7) & ~7;
}

/** Room a column's hand-over takes in a chunk buffer, each part 8-byte aligned. */
function roomFor([values, offsets, validity]: Handover): number {
  return align8(values) + align8(offsets) + align8(validity);
}

/** Bytes a fixed-width value takes (0: booleans, bit-packed, and strings). */
export function widthOf(type: ColumnType): number {
  switch (type) {
    case 'int32':
    case 'date':
      return 4;
    case 'int64':
    case 'timestamp':
    case 'float64':
      return 8;
    default:
      return 0;
  }
}

function grow(array: Uint8Array, size: number): Uint8Array {
  const next = new Uint8Array(size);
  next.set(array);
  return next;
}

/** Hands the builders' rows over as one chunk in one buffer. */
export function finishChunk(builders: ColumnBuilder[], rows: number): ParsedChunk {
  const sizes = builders.map((builder) => builder.handover());
  const buffer = new ArrayBuffer(sizes.reduce((total, size) => total + roomFor(size), 0));
  let at = 0;
  const columns = builders.map((builder, index) => {
    const column = builder.finish(buffer, at, sizes[index]!);
    at += roomFor(sizes[index]!);
    return column;
  });
  return { rows, columns, buffer, bytes: buffer.byteLength, fromLine: 0, toLine: 0 };
}
