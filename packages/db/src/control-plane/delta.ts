/**
 * The bookkeeping of each stream's Delta Lake log. The manifest stays the source of truth: the log is
 * written from it, a version at a time, by whichever replica holds the stream's log lease. A committed
 * file gets the version of the Delta commit that added it (`DataFile.deltaVersion`), in the same
 * transaction that records the version as written, so a writer that died between putting a log entry
 * and recording it finds the entry in the store and records it then.
 */
import type { Column } from '@sluice/shared';
import type { Db } from '../client';
import type { LakeTable } from '../generated/prisma/client';

export type { LakeTable };

export interface DeltaLogState {
  /** The last version written (-1: none). */
  version: number;
  /** The stream's schema version that the log's latest metaData declares (0: none). */
  schemaVersion: number;
  checkpointVersion: number | null;
}

/**
 * Takes (or renews) the stream's log lease for `holder`: the log's state, or null while another holder's
 * lease runs.
 */
export async function claimDeltaLog(
  db: Db,
  streamId: string,
  holder: string,
  leaseMs: number,
  table: LakeTable = 'data',
): Promise<DeltaLogState | null> {
  const lease = `${Math.max(1, Math.round(leaseMs))} milliseconds`;
  const rows = await db.$queryRaw<DeltaLogState[]>`
    INSERT INTO "DeltaLog" ("streamId", "lakeTable", "holder", "leaseUntil", "updatedAt")
    VALUES (${streamId}, ${table}::"LakeTable", ${holder}, now() + ${lease}::interval, now())
    ON CONFLICT ("streamId", "lakeTable") DO UPDATE SET "holder" = EXCLUDED."holder", "leaseUntil" = EXCLUDED."leaseUntil", "updatedAt" = now()
    WHERE "DeltaLog"."holder" IS NULL OR "DeltaLog"."holder" = EXCLUDED."holder" OR "DeltaLog"."leaseUntil" < now()
    RETURNING "version", "schemaVersion", "checkpointVersion"`;
  return rows[0] ?? null;
}

/** Gives the lease up (a replica stopping), so another can take the log at once. */
export async function releaseDeltaLog(db: Db, streamId: string, holder: string, table: LakeTable = 'data'): Promise<void> {
  await db.$executeRaw`
    UPDATE "DeltaLog" SET "holder" = NULL, "leaseUntil" = NULL
    WHERE "streamId" = ${streamId} AND "lakeTable" = ${table}::"LakeTable" AND "holder" = ${holder}`;
}

export interface PendingLogFile {
  id: string;
  objectKey: string;
  schemaVersion: number;
  rows: number;
  bytes: number;
  createdAt: Date;
  commitGroup: string | null;
  /** Delta statistics (JSON), when the encoder computed them. */
  stats: string | null;
}

/**
 * Committed files that no Delta commit has added yet, in commit order: about `limit` of them, never
 * splitting files committed together (an all-or-nothing request's go into one Delta commit).
 */
export async function pendingLogFiles(
  db: Pick<Db, '$queryRaw'>,
  streamId: string,
  limit: number,
  table: LakeTable = 'data',
): Promise<PendingLogFile[]> {
  const rows = await db.$queryRaw<(Omit<PendingLogFile, 'bytes'> & { bytes: bigint })[]>`
    SELECT "id", "objectKey", "schemaVersion", "rows", "bytes", "createdAt", "commitGroup", "stats" FROM "DataFile"
    WHERE "streamId" = ${streamId} AND "lakeTable" = ${table}::"LakeTable" AND "deltaVersion" IS NULL AND "state" = 'committed'
    ORDER BY "createdAt", "id" LIMIT ${limit}`;
  const last = rows[rows.length - 1];
  if (rows.length === limit && last?.commitGroup) {
    const rest = await db.$queryRaw<typeof rows>`
      SELECT "id", "objectKey", "schemaVersion", "rows", "bytes", "createdAt", "commitGroup", "stats" FROM "DataFile"
      WHERE "commitGroup" = ${last.commitGroup} AND "deltaVersion" IS NULL AND "state" = 'committed'
        AND NOT ("id" = ANY(${rows.map((row) => row.id)}::text[]))
      ORDER BY "createdAt", "id"`;
    rows.push(...rest);
  }
  return rows.map((row) => ({ ...row, bytes: Number(row.bytes) }));
}

export interface PendingRemoval {
  objectKey: string;
  bytes: number;
  removedAt: Date;
  /** True when the file's rows left the table (retention); false when another file holds them (compaction). */
  dataChange: boolean;
  /** The group of the removal: the replacing file's commitGroup (compaction). */
  removeGroup: string | null;
}

export interface PendingLogChanges {
  adds: PendingLogFile[];
  removes: PendingRemoval[];
}

/**
 * What the next Delta commit holds: the pending adds (`pendingLogFiles`) and the removals that go with
 * them, read in one snapshot. A compaction's removals go in the commit that adds the file replacing them,
 * never before it (a reader would see the rows gone); a retention's removals, which replace nothing, go
 * in the next commit.
 */
export async function pendingLogChanges(db: Db, streamId: string, limit: number, table: LakeTable = 'data'): Promise<PendingLogChanges> {
  return db.$transaction(
    async (tx) => {
      const adds = await pendingLogFiles(tx, streamId, limit, table);
      const groups = [...new Set(adds.flatMap((file) => (file.commitGroup ? [file.commitGroup] : [])))];
      const rows = await tx.$queryRaw<
        { objectKey: string; bytes: bigint; removedAt: Date; removeGroup: string | null; replaced: boolean }[]
      >`
        SELECT r."objectKey", r."bytes", r."removedAt", r."removeGroup",
               EXISTS (SELECT 1 FROM "DataFile" a WHERE a."commitGroup" = r."removeGroup" AND a."state" = 'committed') AS "replaced"
        FROM "DataFile" r
        WHERE r."streamId" = ${streamId} AND r."lakeTable" = ${table}::"LakeTable" AND r."state" = 'removed'
          AND r."removedVersion" IS NULL AND r."deltaVersion" IS NOT NULL
          AND (r."removeGroup" = ANY(${groups}::text[])
               OR NOT EXISTS (SELECT 1 FROM "DataFile" a WHERE a."commitGroup" = r."removeGroup" AND a."state" = 'committed' AND a."deltaVersion" IS NULL))
        ORDER BY r."removedAt", r."id"`;
      const removes = rows.map((row) => ({
        objectKey: row.objectKey,
        bytes: Number(row.bytes),
        removedAt: row.removedAt,
        removeGroup: row.removeGroup,
        dataChange: !row.replaced,
      }));
      return { adds, removes };
    },
    { isolationLevel: 'RepeatableRead' },
  );
}

export interface LogCommitRecord {
  streamId: string;
  table?: LakeTable;
  holder: string;
  version: number;
  /** The object keys of the files the commit added. */
  added: string[];
  /** The object keys of the files the commit removed. */
  removed?: string[];
  /** The schema version its metaData declared, when it had one. */
  schemaVersion?: number;
  checkpoint?: boolean;
}

/**
 * Records a Delta commit written to the store: its files get its version, the log its version. False
 * when this holder lost the lease, or the version was recorded meanwhile (by another writer).
 */
export async function recordDeltaCommit(db: Db, commit: LogCommitRecord): Promise<boolean> {
  const { streamId, holder, version, added } = commit;
  const table = commit.table ?? 'data';
  return db.$transaction(async (tx) => {
    const updated = await tx.$executeRaw`
      UPDATE "DeltaLog"
      SET "version" = ${version}, "schemaVersion" = GREATEST("schemaVersion", ${commit.schemaVersion ?? 0}), "updatedAt" = now()
      WHERE "streamId" = ${streamId} AND "lakeTable" = ${table}::"LakeTable" AND "holder" = ${holder} AND "version" = ${version - 1}`;
    if (updated !== 1) return false;
    if (added.length > 0) {
      await tx.$executeRaw`
        UPDATE "DataFile" SET "deltaVersion" = ${version}
        WHERE "streamId" = ${streamId} AND "objectKey" = ANY(${added}::text[]) AND "deltaVersion" IS NULL`;
    }
    if (commit.removed && commit.removed.length > 0) {
      // Readers see the removal from now on: LAKE_VACUUM_HOURS counts from here, not from the manifest's.
      await tx.$executeRaw`
        UPDATE "DataFile" SET "removedVersion" = ${version}, "removedAt" = now()
        WHERE "streamId" = ${streamId} AND "objectKey" = ANY(${commit.removed}::text[]) AND "removedVersion" IS NULL`;
    }
    return true;
  });
}

/** Records a checkpoint written at `version`. */
export async function recordDeltaCheckpoint(
  db: Db,
  streamId: string,
  holder: string,
  version: number,
  table: LakeTable = 'data',
): Promise<void> {
  await db.$executeRaw`
    UPDATE "DeltaLog" SET "checkpointVersion" = ${version}, "updatedAt" = now()
    WHERE "streamId" = ${streamId} AND "lakeTable" = ${table}::"LakeTable" AND "holder" = ${holder}`;
}

/** The files a version of the log holds (added at or before it, not removed by then), for a checkpoint. */
export async function activeLogFiles(db: Db, streamId: string, version: number, table: LakeTable = 'data'): Promise<PendingLogFile[]> {
  const rows = await db.$queryRaw<(Omit<PendingLogFile, 'bytes'> & { bytes: bigint })[]>`
    SELECT "id", "objectKey", "schemaVersion", "rows", "bytes", "createdAt", "commitGroup", "stats" FROM "DataFile"
    WHERE "streamId" = ${streamId} AND "lakeTable" = ${table}::"LakeTable" AND "deltaVersion" <= ${version} AND "state" IN ('committed', 'removed')
      AND ("removedVersion" IS NULL OR "removedVersion" > ${version})
    ORDER BY "createdAt", "id"`;
  return rows.map((row) => ({ ...row, bytes: Number(row.bytes) }));
}

/** A schema version's columns. */
export async function schemaColumns(db: Db, streamId: string, version: number): Promise<Column[]> {
  const row = await db.schemaVersion.findUnique({ where: { streamId_version: { streamId, version } }, select: { columns: true } });
  if (!row) throw new Error(`stream ${streamId} has no schema version ${version}`);
  return row.columns as unknown as Column[];
}

export interface DeltaTableSummary {
  /** The latest version (-1: no log yet). */
  version: number;
  checkpointVersion: number | null;
  /** Files in the table, and their average size. */
  activeFiles: number;
  averageFileBytes: number;
  /** Committed files not yet in the log (written within moments). */
  pendingFiles: number;
  updatedAt: Date | null;
}

/** Where a stream's Delta table stands (for the console). */
export async function deltaTableSummary(db: Db, streamId: string): Promise<DeltaTableSummary> {
  const [log, [files]] = await Promise.all([
    db.deltaLog.findUnique({
      where: { streamId_lakeTable: { streamId, lakeTable: 'data' } },
      select: { version: true, checkpointVersion: true, updatedAt: true },
    }),
    db.$queryRaw<{ active: bigint; pending: bigint; bytes: bigint | null }[]>`
      SELECT count(*) FILTER (WHERE "deltaVersion" IS NOT NULL) AS "active",
             count(*) FILTER (WHERE "deltaVersion" IS NULL) AS "pending",
             sum("bytes") FILTER (WHERE "deltaVersion" IS NOT NULL) AS "bytes"
      FROM "DataFile" WHERE "streamId" = ${streamId} AND "lakeTable" = 'data' AND "state" = 'committed'`,
  ]);
  const active = Number(files?.active ?? 0);
  return {
    version: log?.version ?? -1,
    checkpointVersion: log?.checkpointVersion ?? null,
    activeFiles: active,
    averageFileBytes: active > 0 ? Number(files?.bytes ?? 0) / active : 0,
    pendingFiles: Number(files?.pending ?? 0),
    updatedAt: log?.updatedAt ?? null,
  };
}
