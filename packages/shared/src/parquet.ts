/**
 * The Parquet physical and logical types Sluice writes for each column type. The writer produces them
 * through Arrow; this table is what readers and tests check the files against.
 */
import type { ColumnType } from './schema';

export interface ParquetColumnType {
  physical: 'BYTE_ARRAY' | 'INT32' | 'INT64' | 'DOUBLE' | 'BOOLEAN';
  logical: string | null;
}

export function parquetTypeFor(type: ColumnType): ParquetColumnType {
  switch (type) {
    case 'string':
      return { physical: 'BYTE_ARRAY', logical: 'STRING' };
    case 'int32':
      return { physical: 'INT32', logical: null };
    case 'int64':
      return { physical: 'INT64', logical: null };
    case 'float64':
      return { physical: 'DOUBLE', logical: null };
    case 'boolean':
      return { physical: 'BOOLEAN', logical: null };
    case 'timestamp':
      return { physical: 'INT64', logical: 'TIMESTAMP(MICROS,UTC)' };
    case 'date':
      return { physical: 'INT32', logical: 'DATE' };
  }
}

/** Key-value metadata written into every file's footer. */
export const PARQUET_METADATA_KEYS = {
  stream: 'sluice.stream',
  schemaVersion: 'sluice.schema_version',
  rows: 'sluice.rows',
} as const;
