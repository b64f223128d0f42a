/** Parsed column chunks -> Arrow record batches, sharing the chunk buffer (no copy, no per-value work). */
import { toArrowSchema, type StreamSchema } from '@sluice/shared';
import { makeData, RecordBatch, Struct, type Data, type DataType, type Schema } from 'apache-arrow';
import type { ColumnChunk, ParsedChunk } from './parse/columns';

// makeData's typings are keyed on the concrete DataType; the schema guarantees the pairing here.
const make = makeData as unknown as (props: Record<string, unknown>) => Data;

function columnData(type: DataType, chunk: ColumnChunk): Data {
  const base = { type, length: chunk.length, nullCount: chunk.nullCount, nullBitmap: chunk.validity ?? undefined };
  const { values } = chunk;
  switch (chunk.type) {
    case 'string':
      return make({ ...base, valueOffsets: view(Int32Array, chunk.offsets!), data: values });
    case 'int32':
    case 'date':
      return make({ ...base, data: view(Int32Array, values) });
    case 'int64':
    case 'timestamp':
      return make({ ...base, data: view(BigInt64Array, values) });
    case 'float64':
      return make({ ...base, data: view(Float64Array, values) });
    case 'boolean':
      return make({ ...base, data: values });
  }
}

/** The same bytes seen as wider elements (the chunk buffer keeps every part 8-byte aligned). */
function view<T>(Type: { new (buffer: ArrayBuffer, offset: number, length: number): T; BYTES_PER_ELEMENT: number }, bytes: Uint8Array): T {
  return new Type(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength / Type.BYTES_PER_ELEMENT);
}

export function toRecordBatch(schema: Schema, chunk: ParsedChunk): RecordBatch {
  const children = chunk.columns.map((column, index) => columnData(schema.fields[index]!.type, column));
  const struct = makeData({ type: new Struct(schema.fields), length: chunk.rows, nullCount: 0, children });
  return new RecordBatch(schema, struct);
}

export function toRecordBatches(
  streamSchema: StreamSchema,
  chunks: ParsedChunk[],
  metadata: Record<string, string> = {},
): { schema: Schema; batches: RecordBatch[] } {
  const schema = toArrowSchema(streamSchema, metadata);
  return { schema, batches: chunks.map((chunk) => toRecordBatch(schema, chunk)) };
}
