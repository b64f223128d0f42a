/** Test helpers: Arrow data of exact types and values, and IPC streams of record batches. */
import {
  Bool,
  DateDay,
  Field,
  Float64,
  Int32,
  Int64,
  makeData,
  RecordBatch,
  RecordBatchStreamWriter,
  Schema,
  Struct,
  TimestampMicrosecond,
  Utf8,
  vectorFromArray,
  type Data,
  type DataType,
} from 'apache-arrow';
import type { TypedRow } from './typed-rows';

/** A nullable field's data from values (null = null), of an Arrow type whose values are one plain buffer. */
export function dataOf<T extends DataType>(
  type: T,
  values: (number | bigint | null)[],
  ArrayType: new (n: number) => ArrayLike<unknown>,
): Data<T> {
  const array = new ArrayType(values.length) as unknown as (number | bigint)[];
  const validity = new Uint8Array(Math.ceil(values.length / 8));
  let nulls = 0;
  values.forEach((value, i) => {
    if (value === null) nulls++;
    else {
      array[i] = value;
      validity[i >> 3]! |= 1 << (i & 7);
    }
  });
  return makeData({
    type,
    length: values.length,
    nullCount: nulls,
    nullBitmap: nulls > 0 ? validity : undefined,
    data: array,
  } as never) as unknown as Data<T>;
}

/** One record batch per entry of `batches` (field name -> data; every batch with the same fields), as an IPC stream. */
export function ipcStream(batches: Record<string, Data>[]): Uint8Array {
  const writer = new RecordBatchStreamWriter();
  for (const columns of batches) {
    const fields = Object.entries(columns).map(([name, data]) => new Field(name, data.type, true));
    const length = Object.values(columns)[0]!.length;
    writer.write(new RecordBatch(new Schema(fields), makeData({ type: new Struct(fields), length, children: Object.values(columns) })));
  }
  return writer.toUint8Array(true);
}

/** typed-rows.ts's rows as Arrow columns of the stream's own types. */
export function typedRowsData(rows: TypedRow[]): Record<string, Data> {
  return {
    id: dataOf(
      new Int64(),
      rows.map((row) => row.id),
      BigInt64Array,
    ),
    label: vectorFromArray(
      rows.map((row) => row.label),
      new Utf8(),
    ).data[0]!,
    qty: dataOf(
      new Int32(),
      rows.map((row) => row.qty),
      Int32Array,
    ),
    big: dataOf(
      new Int64(),
      rows.map((row) => row.big),
      BigInt64Array,
    ),
    price: dataOf(
      new Float64(),
      rows.map((row) => row.price),
      Float64Array,
    ),
    ok: vectorFromArray(
      rows.map((row) => row.ok),
      new Bool(),
    ).data[0]!,
    at: dataOf(
      new TimestampMicrosecond('UTC'),
      rows.map((row) => row.at),
      BigInt64Array,
    ),
    day: dataOf(
      new DateDay(),
      rows.map((row) => (row.day === null ? null : Date.parse(row.day) / 86_400_000)),
      Int32Array,
    ),
  };
}

/** The rows as an IPC stream of batches of `batchRows` rows. */
export function typedRowsIpc(rows: TypedRow[], batchRows: number): Uint8Array {
  const batches: Record<string, Data>[] = [];
  for (let at = 0; at < rows.length; at += batchRows) batches.push(typedRowsData(rows.slice(at, at + batchRows)));
  return ipcStream(batches);
}
