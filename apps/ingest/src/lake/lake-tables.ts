/**
 * A stream's two Delta tables: its rows at `<stream>/`, and the rows it rejected at `_quarantine/<stream>/`
 * (quarantine.ts writes them). Both are written from the manifest by the Delta log writer; they differ in
 * where they live, which columns they hold, and their table id.
 */
import { schemaColumns, type Db, type LakeTable } from '@sluice/db';
import type { Column } from '@sluice/shared';

export type { LakeTable };

/** The quarantine table's columns (its one schema version). */
export const QUARANTINE_COLUMNS: Column[] = [
  { name: 'request_id', type: 'string', nullable: false },
  { name: 'key_id', type: 'string', nullable: true },
  { name: 'line', type: 'int64', nullable: false },
  { name: 'column_name', type: 'string', nullable: true },
  { name: 'code', type: 'string', nullable: false },
  { name: 'message', type: 'string', nullable: false },
  { name: 'raw', type: 'string', nullable: true },
  { name: 'rejected_at', type: 'timestamp', nullable: false },
];

/** Where the table's files and log are: the prefix of its object keys. */
export function tablePrefix(stream: string, table: LakeTable): string {
  return table === 'data' ? stream : `_quarantine/${stream}`;
}

/** The schema version the table's log should declare: the stream's current one, or the quarantine's only one. */
export function tableSchemaVersion(stream: { currentVersion: number }, table: LakeTable): number {
  return table === 'data' ? stream.currentVersion : 1;
}

export async function tableColumns(db: Db, streamId: string, table: LakeTable, schemaVersion: number): Promise<Column[]> {
  return table === 'data' ? schemaColumns(db, streamId, schemaVersion) : QUARANTINE_COLUMNS;
}

/** What the table's id is derived from (delta-actions.ts tableId): a stream's tables have ids of their own. */
export function tableIdSeed(streamId: string, table: LakeTable): string {
  return table === 'data' ? streamId : `${streamId}:quarantine`;
}
