/**
 * Stream schema -> Arrow schema. Timestamps are microseconds in UTC so that the Parquet files carry
 * TIMESTAMP(MICROS, UTC), which every reader (Spark, Athena, DuckDB, pandas) understands.
 */
import { Bool, DateDay, Field, Float64, Int32, Int64, Schema, TimestampMicrosecond, Utf8, type DataType } from 'apache-arrow';
import type { ColumnType, StreamSchema } from './schema';

export function arrowTypeFor(type: ColumnType): DataType {
  switch (type) {
    case 'string':
      return new Utf8();
    case 'int32':
      return new Int32();
    case 'int64':
      return new Int64();
    case 'float64':
      return new Float64();
    case 'boolean':
      return new Bool();
    case 'timestamp':
      return new TimestampMicrosecond('UTC');
    case 'date':
      return new DateDay();
  }
}

export function toArrowSchema(schema: StreamSchema, metadata: Record<string, string> = {}): Schema {
  const fields = schema.columns.map((column) => new Field(column.name, arrowTypeFor(column.type), column.nullable));
  return new Schema(fields, new Map(Object.entries(metadata)));
}
