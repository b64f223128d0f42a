/**
 * The Delta Lake log's actions as Sluice writes them (protocol 1 / 2: no deletion vectors, no column
 * mapping, readable by every Delta reader). A stream's table is at its prefix: `<stream>/_delta_log/`
 * holds the commits, `<stream>/dt=…/hour=…/*.parquet` the files, with `dt` (date) and `hour` (integer)
 * as partition columns taken from the folders.
 */
import { createHash } from 'node:crypto';
import type { Column, ColumnType } from '@sluice/shared';

export const PROTOCOL = { minReaderVersion: 1, minWriterVersion: 2 };

const DELTA_TYPES: Record<ColumnType, string> = {
  string: 'string',
  int32: 'integer',
  int64: 'long',
  float64: 'double',
  boolean: 'boolean',
  // Parquet TIMESTAMP(MICROS, isAdjustedToUTC): Delta's `timestamp` (microseconds, UTC).
  timestamp: 'timestamp',
  date: 'date',
};

const PARTITION_FIELDS = [
  { name: 'dt', type: 'date', nullable: true, metadata: {} },
  { name: 'hour', type: 'integer', nullable: true, metadata: {} },
];

export function logKey(stream: string, version: number): string {
  return `${stream}/_delta_log/${String(version).padStart(20, '0')}.json`;
}

export function checkpointKey(stream: string, version: number): string {
  return `${stream}/_delta_log/${String(version).padStart(20, '0')}.checkpoint.parquet`;
}

export function lastCheckpointKey(stream: string): string {
  return `${stream}/_delta_log/_last_checkpoint`;
}

/** The partition columns of a table partitioned by hour (`dt`, `hour`) or by day (`dt`). */
function partitionFields(hourly: boolean) {
  return hourly ? PARTITION_FIELDS : PARTITION_FIELDS.slice(0, 1);
}

/** The Delta schema (`schemaString`) of a stream's columns, with the partition columns last. */
export function deltaSchema(columns: readonly Column[], hourly = true): string {
  const fields = columns.map((column) => ({ name: column.name, type: DELTA_TYPES[column.type], nullable: column.nullable, metadata: {} }));
  return JSON.stringify({ type: 'struct', fields: [...fields, ...partitionFields(hourly)] });
}

/** The table's id: stable for a stream, so a metaData written again (a new schema) names the same table. */
export function tableId(streamId: string): string {
  const hex = createHash('sha256').update(`sluice-delta:${streamId}`).digest('hex');
  // A version-4-shaped UUID made from the digest.
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${((Number.parseInt(hex[16]!, 16) & 3) | 8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export interface MetaDataAction {
  id: string;
  format: { provider: 'parquet'; options: Record<string, string> };
  schemaString: string;
  partitionColumns: string[];
  configuration: Record<string, string>;
  createdTime: number;
}

/** The metaData of a table (its id derived from `idSeed`, lake-tables.ts) holding `columns`, partitioned by hour or day. */
export function metaData(idSeed: string, columns: readonly Column[], createdTime: number, hourly = true): MetaDataAction {
  return {
    id: tableId(idSeed),
    format: { provider: 'parquet', options: {} },
    schemaString: deltaSchema(columns, hourly),
    partitionColumns: partitionFields(hourly).map((field) => field.name),
    configuration: {},
    createdTime,
  };
}

export interface AddAction {
  path: string;
  partitionValues: Record<string, string>;
  size: number;
  modificationTime: number;
  dataChange: boolean;
  /** JSON: numRecords, and minValues / maxValues / nullCount where known. */
  stats: string;
}

/** A file's add action: its path relative to the table, and its partition values read from that path. */
export function addAction(
  stream: string,
  file: { objectKey: string; bytes: number; rows: number; createdAt: Date; stats?: string | null },
): AddAction {
  const prefix = `${stream}/`;
  if (!file.objectKey.startsWith(prefix)) throw new Error(`${file.objectKey} is not in the table at ${prefix}`);
  const path = file.objectKey.slice(prefix.length);
  const partitionValues: Record<string, string> = {};
  for (const segment of path.split('/').slice(0, -1)) {
    const at = segment.indexOf('=');
    if (at > 0) partitionValues[segment.slice(0, at)] = segment.slice(at + 1);
  }
  return {
    path,
    partitionValues,
    size: file.bytes,
    modificationTime: file.createdAt.getTime(),
    dataChange: true,
    stats: file.stats ?? JSON.stringify({ numRecords: file.rows }),
  };
}

export interface RemoveAction {
  path: string;
  deletionTimestamp: number;
  /** False when the rows are still in the table (compaction moved them to another file). */
  dataChange: boolean;
  extendedFileMetadata: true;
  partitionValues: Record<string, string>;
  size: number;
}

/** A file's remove action (compaction replaced it, or retention dropped its partition). */
export function removeAction(
  stream: string,
  file: { objectKey: string; bytes: number; removedAt: Date; dataChange: boolean },
): RemoveAction {
  const { path, partitionValues } = addAction(stream, { ...file, rows: 0, createdAt: file.removedAt });
  return {
    path,
    deletionTimestamp: file.removedAt.getTime(),
    dataChange: file.dataChange,
    extendedFileMetadata: true,
    partitionValues,
    size: file.bytes,
  };
}

/** The object key of an add action's path (the inverse of `addAction`'s). */
export function objectKeyOfPath(stream: string, path: string): string {
  return `${stream}/${decodeURIComponent(path)}`;
}

export interface CommitInfo {
  timestamp: number;
  operation: 'CREATE TABLE' | 'WRITE' | 'OPTIMIZE' | 'DELETE';
  operationParameters: Record<string, string>;
  engineInfo: string;
  /** The stream's schema version that this commit's metaData declares (for recovery), when it has one. */
  sluiceSchemaVersion?: number;
}

export interface Commit {
  commitInfo: CommitInfo;
  protocol?: typeof PROTOCOL;
  metaData?: MetaDataAction;
  adds: AddAction[];
  removes?: RemoveAction[];
}

/** A commit as its log entry: one JSON action per line. */
export function serializeCommit(commit: Commit): Uint8Array {
  const lines = [JSON.stringify({ commitInfo: commit.commitInfo })];
  if (commit.protocol) lines.push(JSON.stringify({ protocol: commit.protocol }));
  if (commit.metaData) lines.push(JSON.stringify({ metaData: commit.metaData }));
  for (const remove of commit.removes ?? []) lines.push(JSON.stringify({ remove }));
  for (const add of commit.adds) lines.push(JSON.stringify({ add }));
  return Buffer.from(`${lines.join('\n')}\n`);
}

/** What a log entry written before holds, for a writer that finds it unrecorded: its files and its schema version. */
export function parseCommit(bytes: Uint8Array): { addPaths: string[]; removePaths: string[]; schemaVersion: number | undefined } {
  const addPaths: string[] = [];
  const removePaths: string[] = [];
  let schemaVersion: number | undefined;
  for (const line of Buffer.from(bytes).toString('utf8').split('\n')) {
    if (!line.trim()) continue;
    const action = JSON.parse(line) as { add?: { path: string }; remove?: { path: string }; commitInfo?: CommitInfo };
    if (action.add) addPaths.push(action.add.path);
    if (action.remove) removePaths.push(action.remove.path);
    if (action.commitInfo?.sluiceSchemaVersion !== undefined) schemaVersion = action.commitInfo.sluiceSchemaVersion;
  }
  return { addPaths, removePaths, schemaVersion };
}
