/**
 * The ClickHouse destination: creates and extends tables from the stream schema (through the shared
 * mapper), and inserts a Parquet file's rows. The insert format follows the server: servers from 22.x read
 * Parquet bytes directly through input() (the files' DELTA_BINARY_PACKED integers need the Arrow library
 * of 22.x and later); older ones get JSONEachRow (18.x also lacks DateTime64 and Bool). Every row carries
 * its file id, which makes inserts exactly-once (see the forwarder).
 */
import { Readable } from 'node:stream';
import { createClient, ClickHouseLogLevel, type ClickHouseClient } from '@clickhouse/client';
import {
  CLICKHOUSE_FILE_COLUMN,
  clickhouseAddColumns,
  clickhouseColumnType,
  clickhouseCreateTable,
  quoteClickHouseIdentifier,
  type ClickHouseCapabilities,
  type Column,
  type StreamSchema,
} from '@sluice/shared';
import { rangeReader, type ObjectStore } from './object-store';

export interface ClickHouseOptions {
  url: string;
  username: string;
  password: string;
  database: string;
  requestTimeoutMs: number;
}

export interface ServerFeatures extends ClickHouseCapabilities {
  version: string;
  /** INSERT ... SELECT FROM input() FORMAT Parquet (22.x and later). */
  parquetInput: boolean;
}

export function featuresOf(version: string): ServerFeatures {
  const major = Number(version.split('.')[0]);
  const minor = Number(version.split('.')[1] ?? 0);
  return {
    version,
    dateTime64: major >= 20,
    bool: major > 21 || (major === 21 && minor >= 12),
    parquetInput: major >= 22,
  };
}

export class ClickHouseSink {
  private readonly client: ClickHouseClient;
  private features: ServerFeatures | null = null;
  /** Tables known to match a schema version: table -> version. */
  private readonly ensured = new Map<string, number>();

  constructor(private readonly options: ClickHouseOptions) {
    this.client = createClient({
      url: options.url,
      username: options.username,
      password: options.password,
      database: options.database,
      request_timeout: options.requestTimeoutMs,
      log: { level: ClickHouseLogLevel.OFF },
    });
  }

  async serverFeatures(): Promise<ServerFeatures> {
    if (!this.features) {
      const result = await this.client.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' });
      const [row] = (await result.json()) as { v: string }[];
      this.features = featuresOf(row!.v);
    }
    return this.features;
  }

  /** Creates the table from the schema when missing, and adds the columns of newer schema versions. */
  async ensureTable(table: string, schema: StreamSchema, version: number, orderBy?: string[]): Promise<void> {
    if ((this.ensured.get(table) ?? 0) >= version) return;
    const caps = await this.serverFeatures();
    await this.client.command({ query: clickhouseCreateTable(table, schema, { database: this.options.database, orderBy, caps }) });
    const existing = await this.client.query({
      query: `SELECT name FROM system.columns WHERE database = '${escapeString(this.options.database)}' AND table = '${escapeString(table)}'`,
      format: 'JSONEachRow',
    });
    const names = new Set(((await existing.json()) as { name: string }[]).map((row) => row.name));
    const missing = schema.columns.filter((column) => !names.has(column.name));
    if (missing.length > 0) {
      await this.client.command({ query: clickhouseAddColumns(table, missing, { database: this.options.database, caps }) });
    }
    this.ensured.set(table, version);
  }

  /** Rows already inserted from this file (0, all of them, or, after a torn insert, some). */
  async countFile(table: string, fileId: string): Promise<number> {
    const result = await this.client.query({
      query: `SELECT count() AS n FROM ${this.qualified(table)} WHERE ${quoteClickHouseIdentifier(CLICKHOUSE_FILE_COLUMN)} = '${escapeString(fileId)}'`,
      format: 'JSONEachRow',
    });
    const [row] = (await result.json()) as { n: string }[];
    return Number(row?.n ?? 0);
  }

  /** Removes a torn insert's rows (a mutation; waited for on servers that can, else asynchronous). */
  async deleteFile(table: string, fileId: string): Promise<void> {
    await this.client.command({
      query: `ALTER TABLE ${this.qualified(table)} DELETE WHERE ${quoteClickHouseIdentifier(CLICKHOUSE_FILE_COLUMN)} = '${escapeString(fileId)}'`,
    });
  }

  /** Inserts every row of a stored Parquet file, tagged with its file id. */
  async insertFile(table: string, columns: Column[], store: ObjectStore, key: string, fileId: string): Promise<void> {
    const caps = await this.serverFeatures();
    if (caps.parquetInput) return this.insertParquet(table, columns, store, key, fileId);
    return this.insertJsonEachRow(table, columns, store, key, fileId, caps);
  }

  private async insertParquet(table: string, columns: Column[], store: ObjectStore, key: string, fileId: string): Promise<void> {
    const caps = await this.serverFeatures();
    const structure = columns.map((c) => `${quoteClickHouseIdentifier(c.name)} ${clickhouseColumnType(c, caps)}`).join(', ');
    const names = columns.map((c) => quoteClickHouseIdentifier(c.name)).join(', ');
    const bytes = await store.get(key);
    await this.client.exec({
      query: `INSERT INTO ${this.qualified(table)} (${names}, ${quoteClickHouseIdentifier(CLICKHOUSE_FILE_COLUMN)}) SELECT *, '${escapeString(fileId)}' FROM input('${escapeString(structure)}') FORMAT Parquet`,
      values: Readable.from([Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)]),
    });
  }

  private async insertJsonEachRow(
    table: string,
    columns: Column[],
    store: ObjectStore,
    key: string,
    fileId: string,
    caps: ServerFeatures,
  ): Promise<void> {
    const { parquetMetadataAsync, parquetReadObjects } = await import('hyparquet');
    const { compressors } = await import('hyparquet-compressors');
    const file = rangeReader(store, key, (await store.size(key)) ?? 0);
    const metadata = await parquetMetadataAsync(file);
    // Keep timestamps as microseconds and dates as days: Date objects would drop the microseconds.
    const parsers = { timestampFromMicroseconds: (v: bigint) => v, dateFromDays: (v: number) => v };
    const tag = JSON.stringify(fileId);
    // One row group at a time: a file is never decoded whole into memory.
    let start = 0;
    for (const group of metadata.row_groups) {
      const end = start + Number(group.num_rows);
      const rows = await parquetReadObjects({ file, metadata, compressors, parsers: parsers as never, rowStart: start, rowEnd: end });
      start = end;
      const lines = rows.map(
        (row) =>
          `{${columns.map((c) => `${JSON.stringify(c.name)}:${jsonValue(row[c.name], c, caps)}`).join(',')},"${CLICKHOUSE_FILE_COLUMN}":${tag}}\n`,
      );
      await this.client.exec({
        query: `INSERT INTO ${this.qualified(table)} FORMAT JSONEachRow`,
        values: Readable.from(lines),
      });
    }
  }

  async query<T>(query: string): Promise<T[]> {
    const result = await this.client.query({ query, format: 'JSONEachRow' });
    return (await result.json()) as T[];
  }

  private qualified(table: string): string {
    return `${quoteClickHouseIdentifier(this.options.database)}.${quoteClickHouseIdentifier(table)}`;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

function escapeString(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
}

/** One value in JSONEachRow as the server's column type expects it. */
export function jsonValue(value: unknown, column: Column, caps: ClickHouseCapabilities): string {
  if (value === null || value === undefined) return 'null';
  switch (column.type) {
    case 'int64':
      return String(value);
    case 'boolean':
      return caps.bool ? String(value) : value ? '1' : '0';
    case 'timestamp': {
      // 'YYYY-MM-DD hh:mm:ss' in UTC (both column types are UTC), with the microseconds for DateTime64(6);
      // DateTime has whole seconds.
      const micros = BigInt(value as bigint);
      const seconds = micros >= 0n ? micros / 1_000_000n : (micros - 999_999n) / 1_000_000n;
      const text = new Date(Number(seconds) * 1000).toISOString().slice(0, 19).replace('T', ' ');
      if (!caps.dateTime64) return JSON.stringify(text);
      return JSON.stringify(`${text}.${String(micros - seconds * 1_000_000n).padStart(6, '0')}`);
    }
    case 'date':
      return JSON.stringify(new Date(Number(value) * 86_400_000).toISOString().slice(0, 10));
    case 'float64': {
      const n = value as number;
      return Number.isFinite(n) ? String(n) : Number.isNaN(n) ? 'nan' : n > 0 ? 'inf' : '-inf';
    }
    default:
      return typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(String(value));
  }
}
