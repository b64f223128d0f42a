/**
 * Stream schema -> ClickHouse column types and DDL. Old servers (18.x) have no DateTime64 and no Bool,
 * so the mapping takes the server's capabilities into account.
 */
import type { Column, ColumnType, StreamSchema } from './schema';

export interface ClickHouseCapabilities {
  /** DateTime64 arrived in 20.1; before it, timestamps are stored as DateTime (seconds). */
  dateTime64: boolean;
  /** Bool arrived in 21.12; before it, booleans are stored as UInt8. */
  bool: boolean;
}

export const MODERN_CLICKHOUSE: ClickHouseCapabilities = { dateTime64: true, bool: true };

/**
 * Every Sluice table carries the id of the Parquet file each row came from: lineage for analysts, and
 * how inserts stay exactly-once on servers without insert deduplication tokens (count before insert).
 */
export const CLICKHOUSE_FILE_COLUMN = '_sluice_file';

export function clickhouseTypeFor(type: ColumnType, caps: ClickHouseCapabilities = MODERN_CLICKHOUSE): string {
  switch (type) {
    case 'string':
      return 'String';
    case 'int32':
      return 'Int32';
    case 'int64':
      return 'Int64';
    case 'float64':
      return 'Float64';
    case 'boolean':
      return caps.bool ? 'Bool' : 'UInt8';
    case 'timestamp':
      return caps.dateTime64 ? "DateTime64(6, 'UTC')" : "DateTime('UTC')";
    case 'date':
      return 'Date';
  }
}

export function clickhouseColumnType(column: Column, caps: ClickHouseCapabilities = MODERN_CLICKHOUSE): string {
  const base = clickhouseTypeFor(column.type, caps);
  return column.nullable ? `Nullable(${base})` : base;
}

export function quoteClickHouseIdentifier(name: string): string {
  return `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;
}

export function clickhouseCreateTable(
  table: string,
  schema: StreamSchema,
  options: { database?: string; orderBy?: string[]; caps?: ClickHouseCapabilities } = {},
): string {
  const caps = options.caps ?? MODERN_CLICKHOUSE;
  const name = options.database
    ? `${quoteClickHouseIdentifier(options.database)}.${quoteClickHouseIdentifier(table)}`
    : quoteClickHouseIdentifier(table);
  const columns = [
    ...schema.columns.map((column) => `  ${quoteClickHouseIdentifier(column.name)} ${clickhouseColumnType(column, caps)}`),
    `  ${quoteClickHouseIdentifier(CLICKHOUSE_FILE_COLUMN)} String`,
  ].join(',\n');
  const orderBy = options.orderBy?.length ? `(${options.orderBy.map(quoteClickHouseIdentifier).join(', ')})` : 'tuple()';
  return `CREATE TABLE IF NOT EXISTS ${name}\n(\n${columns}\n)\nENGINE = MergeTree\nORDER BY ${orderBy}`;
}

export function clickhouseAddColumns(
  table: string,
  added: Column[],
  options: { database?: string; caps?: ClickHouseCapabilities } = {},
): string {
  const caps = options.caps ?? MODERN_CLICKHOUSE;
  const name = options.database
    ? `${quoteClickHouseIdentifier(options.database)}.${quoteClickHouseIdentifier(table)}`
    : quoteClickHouseIdentifier(table);
  // No IF NOT EXISTS: old servers do not know it; callers add only the columns the table lacks.
  const clauses = added.map((column) => `ADD COLUMN ${quoteClickHouseIdentifier(column.name)} ${clickhouseColumnType(column, caps)}`);
  return `ALTER TABLE ${name} ${clauses.join(', ')}`;
}
