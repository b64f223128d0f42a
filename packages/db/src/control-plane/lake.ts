/**
 * The lake's upkeep in the manifest: compaction (small files of a partition replaced by one, in one
 * transaction), retention (whole partitions past a stream's `retentionDays` removed) and vacuum (removed
 * files deleted once no reader can still be reading them). A removed file stays `removed` until the
 * Delta log has written its `remove` action and LAKE_VACUUM_HOURS have passed.
 */
import { newId } from '@sluice/shared';
import type { Db } from '../client';

/**
 * Takes (or renews) the stream's lease of kind `kind` for `holder`: true when it holds it. One replica at
 * a time does a stream's background work; a holder that died frees it when the lease runs out.
 */
export async function claimStreamLease(db: Db, streamId: string, kind: string, holder: string, leaseMs: number): Promise<boolean> {
  const lease = `${Math.max(1, Math.round(leaseMs))} milliseconds`;
  const rows = await db.$queryRaw<{ holder: string }[]>`
    INSERT INTO "StreamLease" ("streamId", "kind", "holder", "leaseUntil")
    VALUES (${streamId}, ${kind}, ${holder}, now() + ${lease}::interval)
    ON CONFLICT ("streamId", "kind") DO UPDATE SET "holder" = EXCLUDED."holder", "leaseUntil" = EXCLUDED."leaseUntil"
    WHERE "StreamLease"."holder" = EXCLUDED."holder" OR "StreamLease"."leaseUntil" < now()
    RETURNING "holder"`;
  return rows.length === 1;
}

export async function releaseStreamLease(db: Db, streamId: string, kind: string, holder: string): Promise<void> {
  await db.$executeRaw`DELETE FROM "StreamLease" WHERE "streamId" = ${streamId} AND "kind" = ${kind} AND "holder" = ${holder}`;
}

export interface CompactionSource {
  id: string;
  objectKey: string;
  rows: number;
  bytes: number;
  stats: string | null;
}

/** Small files of one partition and schema version, oldest first. */
export interface CompactionCandidate {
  /** The partition's folder, relative to the stream (`dt=…/hour=…`). */
  partition: string;
  schemaVersion: number;
  files: CompactionSource[];
}

export interface CandidateOptions {
  /** Files smaller than this are small. */
  smallBytes: number;
  /** Partitions with fewer small files are left alone. */
  minFiles: number;
  /** Only files committed before this. */
  olderThan: Date;
  /** Only files the Delta log has added (when the log is written): a file's remove follows its add. */
  logged: boolean;
  /** Files looked at, at most. */
  limit?: number;
}

/**
 * The partitions of a stream with enough small files to compact. Files waiting for ClickHouse are left
 * out: their rows go there from their own file, once.
 */
export async function compactionCandidates(db: Db, streamId: string, options: CandidateOptions): Promise<CompactionCandidate[]> {
  const rows = await db.$queryRaw<
    { id: string; objectKey: string; schemaVersion: number; rows: number; bytes: bigint; stats: string | null }[]
  >`
    SELECT "id", "objectKey", "schemaVersion", "rows", "bytes", "stats" FROM "DataFile"
    WHERE "streamId" = ${streamId} AND "lakeTable" = 'data' AND "state" = 'committed' AND "bytes" < ${options.smallBytes}
      AND "createdAt" < ${options.olderThan} AND "clickhouseStatus" IN ('skipped', 'done')
      AND (${!options.logged} OR "deltaVersion" IS NOT NULL)
    ORDER BY "createdAt", "id"
    LIMIT ${options.limit ?? 50_000}`;
  const groups = new Map<string, CompactionCandidate>();
  for (const row of rows) {
    const slash = row.objectKey.lastIndexOf('/');
    const partition = row.objectKey.slice(row.objectKey.indexOf('/') + 1, slash);
    const id = `${partition}\n${row.schemaVersion}`;
    let group = groups.get(id);
    if (!group) groups.set(id, (group = { partition, schemaVersion: row.schemaVersion, files: [] }));
    group.files.push({ id: row.id, objectKey: row.objectKey, rows: row.rows, bytes: Number(row.bytes), stats: row.stats });
  }
  return [...groups.values()].filter((group) => group.files.length >= options.minFiles);
}

export interface CompactionRecord {
  streamId: string;
  partition: string;
  /** The files replaced. */
  sourceIds: string[];
  /** The file that replaces them, reserved `writing` and put in the store. */
  fileId: string;
  objectKey: string;
  rows: number;
  bytesIn: number;
  bytesOut: number;
  startedAt: Date;
}

/**
 * Commits a compaction in one transaction: the new file is committed and the files it replaces removed,
 * sharing a group so that one Delta commit adds the one and removes the others; the line spans of keyed
 * requests move to the new file (a retry still finds its rows stored). False, with nothing changed, when
 * a source is not committed any more or the new file's row was given up.
 */
export async function commitCompaction(db: Db, record: CompactionRecord): Promise<boolean> {
  const group = newId('commit');
  try {
    await db.$transaction(async (tx) => {
      const removed = await tx.$executeRaw`
        UPDATE "DataFile" SET "state" = 'removed', "removedAt" = now(), "removeGroup" = ${group}
        WHERE "id" = ANY(${record.sourceIds}::text[]) AND "state" = 'committed'`;
      if (removed !== record.sourceIds.length) throw new Superseded();
      const added = await tx.$executeRaw`
        UPDATE "DataFile" SET "state" = 'committed', "commitGroup" = ${group}
        WHERE "id" = ${record.fileId} AND "state" = 'writing'`;
      if (added !== 1) throw new Superseded();
      await tx.$executeRaw`
        UPDATE "IdempotentSpan" SET "fileId" = ${record.fileId} WHERE "fileId" = ANY(${record.sourceIds}::text[])`;
      await tx.compaction.create({
        data: {
          id: newId('cmp'),
          streamId: record.streamId,
          partition: record.partition,
          filesIn: record.sourceIds.length,
          rows: record.rows,
          bytesIn: BigInt(record.bytesIn),
          bytesOut: BigInt(record.bytesOut),
          objectKey: record.objectKey,
          startedAt: record.startedAt,
        },
      });
    });
    return true;
  } catch (error) {
    if (error instanceof Superseded) return false;
    throw error;
  }
}

class Superseded extends Error {}

/**
 * Removes the committed files of the stream's partitions whose day (`dt=`) is more than `days` days
 * before today (UTC), in its table and its quarantine alike; returns how many. Files removed together share a group with no file added: one
 * Delta commit removes them.
 */
export async function removeExpiredPartitions(db: Db, streamId: string, days: number): Promise<number> {
  return db.$executeRaw`
    UPDATE "DataFile" SET "state" = 'removed', "removedAt" = now(), "removeGroup" = ${newId('commit')}
    WHERE "streamId" = ${streamId} AND "state" = 'committed'
      AND substring("objectKey" from '/dt=([0-9]{4}-[0-9]{2}-[0-9]{2})/')::date < (now() AT TIME ZONE 'UTC')::date - ${days}::int`;
}

/**
 * Removed files whose objects may go: removed before `removedBefore` and, when the log is written, removed
 * from it (a reader of the latest version no longer needs them).
 */
export async function filesToVacuum(
  db: Db,
  options: { removedBefore: Date; logged: boolean; limit?: number },
): Promise<{ id: string; objectKey: string }[]> {
  return db.$queryRaw`
    SELECT "id", "objectKey" FROM "DataFile"
    WHERE "state" = 'removed' AND "removedAt" < ${options.removedBefore}
      AND (${!options.logged} OR "removedVersion" IS NOT NULL OR "deltaVersion" IS NULL)
    ORDER BY "removedAt"
    LIMIT ${options.limit ?? 500}`;
}

/** Forgets a vacuumed file (its object deleted). */
export async function forgetVacuumedFile(db: Db, id: string): Promise<void> {
  await db.$executeRaw`DELETE FROM "DataFile" WHERE "id" = ${id} AND "state" = 'removed'`;
}

export interface CompactionSummary {
  partition: string;
  filesIn: number;
  rows: number;
  bytesIn: number;
  bytesOut: number;
  objectKey: string;
  startedAt: Date;
  finishedAt: Date;
}

/** The stream's latest compaction, if any. */
export async function lastCompaction(db: Db, streamId: string): Promise<CompactionSummary | null> {
  const row = await db.compaction.findFirst({ where: { streamId }, orderBy: { finishedAt: 'desc' } });
  if (!row) return null;
  return {
    partition: row.partition,
    filesIn: row.filesIn,
    rows: row.rows,
    bytesIn: Number(row.bytesIn),
    bytesOut: Number(row.bytesOut),
    objectKey: row.objectKey,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
  };
}
