/** Parsed column chunks -> Arrow record batches, sharing the chunk buffers (no copy, no per-value work). */
import { toArrowSchema, type StreamSchema } from '@sluice/shared';
import { makeData, RecordBatch, Struct, type Data, type DataType, type Schema } from 'apache-arrow';
import type { ColumnChunk, ParsedChunk } from './parse/columns';

// makeData's typings are keyed on the concrete DataType; the schema guarantees the pairing here.
const make = makeData as unknown as (props: Record<string, unknown>) => Data;

function columnData(type: DataType, chunk: ColumnChunk): Data {
  const nullBitmap = chunk.validity ? new Uint8Array(chunk.validity) : undefined;
  const base = { type, length: chunk.length, nullCount: chunk.nullCount, nullBitmap };
  switch (chunk.type) {
    case 'string':
      return make({ ...base, valueOffsets: new Int32Array(chunk.offsets!), data: new Uint8Array(chunk.values) });
    case 'int32':
    case 'date':
      return make({ ...base, data: new Int32Array(chunk.values) });
    case 'int64':
    case 'timestamp':
      return make({ ...base, data: new BigInt64Array(chunk.values) });
    case 'float64':
      return make({ ...base, data: new Float64Array(chunk.values) });
    case 'boolean':
      return make({ ...base, data: new Uint8Array(chunk.values) });
  }
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
