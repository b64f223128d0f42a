/**
 * Just enough of Thrift's compact protocol to edit a Parquet footer or page header in place: a struct is
 * read as a list of fields that point at their encoded values, and written back from such a list, so the
 * fields that are not edited (statistics, schema, metadata) are copied as bytes, never decoded.
 * The protocol: https://github.com/apache/thrift/blob/master/doc/specs/thrift-compact-protocol.md
 */

export const ThriftType = {
  True: 1,
  False: 2,
  Byte: 3,
  I16: 4,
  I32: 5,
  I64: 6,
  Double: 7,
  Binary: 8,
  List: 9,
  Set: 10,
  Map: 11,
  Struct: 12,
} as const;
export type ThriftType = (typeof ThriftType)[keyof typeof ThriftType];

/** A field of a struct: its id, its type and where its encoded value lies in the bytes it was read from. */
export interface ThriftField {
  id: number;
  type: ThriftType;
  value: Uint8Array;
}

export class ThriftError extends Error {}

export class ThriftReader {
  constructor(
    readonly bytes: Uint8Array,
    public position = 0,
  ) {}

  /** The fields of the struct at the position; the position moves past it. */
  struct(): ThriftField[] {
    const fields: ThriftField[] = [];
    let id = 0;
    for (;;) {
      const header = this.byte();
      if (header === 0) return fields;
      const type = (header & 0x0f) as ThriftType;
      const delta = header >> 4;
      id = delta === 0 ? unzigzag(this.varint()) : id + delta;
      const start = this.position;
      this.skip(type);
      fields.push({ id, type, value: this.bytes.subarray(start, this.position) });
    }
  }

  /** The elements of the list at the position, each as its encoded bytes. */
  list(): { type: ThriftType; items: Uint8Array[] } {
    const header = this.byte();
    const type = (header & 0x0f) as ThriftType;
    const size = header >> 4 === 0x0f ? this.varint() : header >> 4;
    const items: Uint8Array[] = [];
    for (let i = 0; i < size; i++) {
      const start = this.position;
      this.skipElement(type);
      items.push(this.bytes.subarray(start, this.position));
    }
    return { type, items };
  }

  /** An i16, i32 or i64 (zigzag varint); exact up to 2^53, which every size and offset here is. */
  integer(): number {
    return unzigzag(this.varint());
  }

  private byte(): number {
    if (this.position >= this.bytes.length) throw new ThriftError('thrift: unexpected end of data');
    return this.bytes[this.position++]!;
  }

  private varint(): number {
    let value = 0;
    let scale = 1;
    for (;;) {
      const byte = this.byte();
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
      if (scale > 2 ** 63) throw new ThriftError('thrift: varint too long');
    }
  }

  private skip(type: ThriftType): void {
    switch (type) {
      case ThriftType.True:
      case ThriftType.False:
        return; // a struct field's boolean is its type
      case ThriftType.Byte:
        this.position += 1;
        return;
      case ThriftType.I16:
      case ThriftType.I32:
      case ThriftType.I64:
        this.varint();
        return;
      case ThriftType.Double:
        this.position += 8;
        return;
      case ThriftType.Binary: {
        // Not `this.position += this.varint()`: that adds the length to the position from before the varint.
        const length = this.varint();
        this.position += length;
        return;
      }
      case ThriftType.List:
      case ThriftType.Set:
        this.list();
        return;
      case ThriftType.Map: {
        const size = this.varint();
        if (size === 0) return;
        const types = this.byte();
        for (let i = 0; i < size; i++) {
          this.skipElement((types >> 4) as ThriftType);
          this.skipElement((types & 0x0f) as ThriftType);
        }
        return;
      }
      case ThriftType.Struct:
        this.struct();
        return;
      default:
        throw new ThriftError(`thrift: unknown type ${type}`);
    }
  }

  /** In a list or map a boolean is a byte of its own. */
  private skipElement(type: ThriftType): void {
    if (type === ThriftType.True || type === ThriftType.False) this.position += 1;
    else this.skip(type);
    if (this.position > this.bytes.length) throw new ThriftError('thrift: unexpected end of data');
  }
}

/** The value of an integer field. */
export function integerOf(field: ThriftField): number {
  return new ThriftReader(field.value).integer();
}

/** An integer field's value in the compact encoding (zigzag, in floating point to stay exact past 2^31). */
export function encodeInteger(value: number): Uint8Array {
  return varint(value >= 0 ? value * 2 : -value * 2 - 1);
}

/** A binary (or string) value: its length, then its bytes. */
export function encodeBinary(bytes: Uint8Array): Uint8Array {
  return concat([varint(bytes.length), bytes]);
}

/** A struct from its fields, in ascending id order as the protocol's field-id deltas expect. */
export function encodeStruct(fields: readonly ThriftField[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let last = 0;
  for (const field of fields) {
    const delta = field.id - last;
    parts.push(
      delta > 0 && delta <= 15 ? Uint8Array.of((delta << 4) | field.type) : concat([Uint8Array.of(field.type), encodeInteger(field.id)]),
    );
    parts.push(field.value);
    last = field.id;
  }
  parts.push(Uint8Array.of(0));
  return concat(parts);
}

export function encodeList(type: ThriftType, items: readonly Uint8Array[]): Uint8Array {
  const header = items.length < 15 ? Uint8Array.of((items.length << 4) | type) : concat([Uint8Array.of(0xf0 | type), varint(items.length)]);
  return concat([header, ...items]);
}

function varint(value: number): Uint8Array {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest % 128) | 0x80);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Uint8Array.from(bytes);
}

function unzigzag(value: number): number {
  return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
}

/**
 * The parts joined in a buffer of their own. Not Buffer.concat: below 4 KiB it returns a slice of Node's
 * shared pool, and a Parquet file is sent to the main thread by transferring its whole buffer.
 */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.byteLength;
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.byteLength;
  }
  return bytes;
}
