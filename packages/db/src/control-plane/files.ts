/**
 * The manifest of written files. A file's row is written before its object is put (`writing`) and becomes
 * `committed` once the object is stored; only committed files exist for readers (listed, previewed,
 * forwarded, counted). Rows left `writing` are found by the orphan janitor.
 */
import { newId, SluiceError, type DataFileDto } from '@sluice/shared';
import type { Db } from '../client';
import type { DataFile, SinkStatus } from '../generated/prisma/client';

export function toDataFileDto(row: DataFile, stream: string): DataFileDto {
  return {
    id: row.id,
    stream,
    schemaVersion: row.schemaVersion,
    key: row.objectKey,
    rows: row.rows,
    bytes: Number(row.bytes),
    createdAt: row.createdAt.toISOString(),
    clickhouseStatus: row.clickhouseStatus,
  };
}

export interface DataFileRecord {
  streamId: string;
  schemaVersion: number;
  key: string;
  rows: number;
  bytes: number;
  clickhouse: SinkStatus;
  /** The file's Delta statistics (JSON), for its add action. */
  stats?: string;
  /** When the batch was flushed: files of a stream sort by it (and then by id), whenever their rows were written. */
  createdAt?: Date;
  id?: string;
  /** The stream's table the file belongs to: its rows (the default), or the rows it rejected. */
  table?: 'data' | 'quarantine';
}

/** The row of a file about to be put, `writing`: not yet a file for readers. */
export async function reserveDataFile(db: Db, file: DataFileRecord): Promise<void> {
  await recordDataFile(db, file, 'writing');
}

/** Body lines [fromLine, toLine] of a keyed request (its Idempotency-Key's row) whose rows a file holds. */
export interface LineSpanRecord {
  idempotencyKeyId: string;
  /** The attempt that stored them: it must still hold the key when the file commits. */
  holder: string;
  fromLine: number;
  toLine: number;
}

/**
 * The file's object is stored: from now on it exists for readers, and the line spans of keyed requests it
 * holds are recorded with it (in the same transaction). False when the row is not `writing` any more (the
 * janitor gave it up, and deleted its object), or when an attempt whose lines it holds has lost its key to
 * another (its lease ran out: the other attempt stores those lines): the caller must not count the file
 * stored.
 */
export async function commitDataFile(db: Db, key: string, spans: LineSpanRecord[] = []): Promise<boolean> {
  if (spans.length === 0) {
    // One plain statement: this runs for every file written.
    const updated = await db.$executeRaw`
      UPDATE "DataFile" SET "state" = 'committed' WHERE "objectKey" = ${key} AND "state" IN ('writing', 'committed')`;
    return updated === 1;
  }
  return commitDataFiles(db, [{ key, spans }]);
}

/**
 * Commits several files in one transaction, all or none (an all-or-nothing request's files): false, with
 * nothing committed, when one of them was given up meanwhile. `createdAt` re-dates them (they were written
 * before files committed ahead of them).
 */
export async function commitDataFiles(db: Db, files: { key: string; spans: LineSpanRecord[] }[], createdAt?: Date): Promise<boolean> {
  const keys = files.map((file) => file.key);
  const spans = files.flatMap((file) => file.spans.map((span) => ({ ...span, key: file.key })));
  try {
    await db.$transaction(async (tx) => {
      // Files committed together share a group: the Delta log adds them in one commit.
      const group = keys.length > 1 ? newId('commit') : null;
      const updated = createdAt
        ? await tx.$executeRaw`
            UPDATE "DataFile" SET "state" = 'committed', "createdAt" = ${createdAt}, "commitGroup" = ${group}
            WHERE "objectKey" = ANY(${keys}::text[]) AND "state" IN ('writing', 'committed')`
        : await tx.$executeRaw`
            UPDATE "DataFile" SET "state" = 'committed', "commitGroup" = ${group}
            WHERE "objectKey" = ANY(${keys}::text[]) AND "state" IN ('writing', 'committed')`;
      if (updated !== keys.length) throw new GivenUp();
      if (spans.length === 0) return;
      // Each attempt must still hold its key, and keeps it until this commits: a retry that claims the key
      // (FOR UPDATE) waits, then sees these lines stored.
      const attempts = [...new Map(spans.map((span) => [span.idempotencyKeyId, span.holder])).entries()];
      const held = await tx.$queryRaw<{ id: string }[]>`
        SELECT k."id" FROM "IdempotencyKey" k
        JOIN unnest(${attempts.map(([id]) => id)}::text[], ${attempts.map(([, holder]) => holder)}::text[]) AS a(id, holder)
          ON k."id" = a.id AND k."holder" = a.holder AND k."state" = 'in_flight'
        FOR SHARE OF k`;
      if (held.length !== attempts.length) throw new GivenUp();
      await tx.$executeRaw`
        INSERT INTO "IdempotentSpan" ("idempotencyKeyId", "fileId", "fromLine", "toLine")
        SELECT s.id, f."id", s.from_line, s.to_line
        FROM unnest(${spans.map((span) => span.idempotencyKeyId)}::text[], ${spans.map((span) => span.key)}::text[],
                    ${spans.map((span) => span.fromLine)}::bigint[], ${spans.map((span) => span.toLine)}::bigint[])
               AS s(id, object_key, from_line, to_line)
        JOIN "DataFile" f ON f."objectKey" = s.object_key`;
    });
    return true;
  } catch (error) {
    if (error instanceof GivenUp) return false;
    throw error;
  }
}

class GivenUp extends Error {}

/** Rows left `writing` since before `olderThan`: their objects may be in the store, but no reader sees them. */
export async function listStaleWritingFiles(db: Db, olderThan: Date, limit = 100): Promise<{ id: string; objectKey: string }[]> {
  return db.dataFile.findMany({
    where: { state: 'writing', createdAt: { lt: olderThan } },
    orderBy: { createdAt: 'asc' },
    take: limit,
    select: { id: true, objectKey: true },
  });
}

/** Marks a row that stayed `writing` as `abandoned` (its object deleted); false when it was committed meanwhile. */
export async function abandonDataFile(db: Db, id: string): Promise<boolean> {
  const { count } = await db.dataFile.updateMany({ where: { id, state: 'writing' }, data: { state: 'abandoned' } });
  return count === 1;
}

export async function recordDataFile(db: Db, file: DataFileRecord, state: 'writing' | 'committed' = 'committed'): Promise<void> {
  // Idempotent for a key: a retried insert after a lost answer finds the row already there. One plain
  // statement, because this runs for every file written: the model's upsert took ~5 ms and allocated
  // ~190 KB a call, this ~1.3 ms and ~36 KB (garbage that, outliving the ingest path's minor
  // collections, piled up in the main thread's old generation).
  await db.$executeRaw`
    INSERT INTO "DataFile" ("id", "streamId", "schemaVersion", "objectKey", "lakeTable", "state", "rows", "bytes", "clickhouseStatus", "createdAt", "stats")
    VALUES (${file.id ?? newId('file')}, ${file.streamId}, ${file.schemaVersion}, ${file.key}, ${file.table ?? 'data'}::"LakeTable",
            ${state}::"FileState", ${file.rows}, ${BigInt(file.bytes)}, ${file.clickhouse}::"SinkStatus", ${file.createdAt ?? new Date()},
            ${file.stats ?? null})
    ON CONFLICT ("objectKey") DO NOTHING`;
}

export interface FilePage {
  files: DataFileDto[];
  /** Pass back as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

export async function listDataFiles(
  db: Db,
  streamName: string,
  options: { limit?: number; cursor?: string | null } = {},
): Promise<FilePage> {
  const stream = await db.stream.findUnique({ where: { name: streamName }, select: { id: true } });
  if (!stream) throw new SluiceError('stream.not_found', `No stream is named "${streamName}".`);
  const limit = Math.min(Math.max(options.limit ?? 50, 1), 500);
  const rows = await db.dataFile.findMany({
    where: { streamId: stream.id, lakeTable: 'data', state: 'committed' },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: limit + 1,
    ...(options.cursor ? { cursor: { id: options.cursor }, skip: 1 } : {}),
  });
  const page = rows.slice(0, limit);
  return {
    files: page.map((row) => toDataFileDto(row, streamName)),
    nextCursor: rows.length > limit ? (page[page.length - 1]?.id ?? null) : null,
  };
}

export async function findDataFile(db: Db, streamName: string, key: string): Promise<DataFileDto> {
  const row = await db.dataFile.findUnique({ where: { objectKey: key }, include: { stream: { select: { name: true } } } });
  if (!row || row.stream.name !== streamName || row.state !== 'committed' || row.lakeTable !== 'data') {
    throw new SluiceError('file.not_found', `No file "${key}" in stream "${streamName}".`);
  }
  return toDataFileDto(row, streamName);
}

export interface ClickHouseDelivery {
  pending: number;
  failed: number;
  /** The latest failed files, with the error each ended on. */
  failures: { key: string; error: string | null; attempts: number; at: string }[];
}

/** Where a stream's files stand with ClickHouse: how many wait, how many failed, and why the latest failed. */
export async function clickHouseDelivery(db: Db, streamName: string, limit = 10): Promise<ClickHouseDelivery> {
  const stream = await db.stream.findUnique({ where: { name: streamName }, select: { id: true } });
  if (!stream) throw new SluiceError('stream.not_found', `No stream is named "${streamName}".`);
  const [pending, failed, failures] = await Promise.all([
    db.dataFile.count({ where: { streamId: stream.id, state: 'committed', clickhouseStatus: 'pending' } }),
    db.dataFile.count({ where: { streamId: stream.id, state: 'committed', clickhouseStatus: 'failed' } }),
    db.dataFile.findMany({
      where: { streamId: stream.id, clickhouseStatus: 'failed' },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: limit,
      select: { objectKey: true, clickhouseError: true, clickhouseAttempts: true, createdAt: true },
    }),
  ]);
  return {
    pending,
    failed,
    failures: failures.map((row) => ({
      key: row.objectKey,
      error: row.clickhouseError,
      attempts: row.clickhouseAttempts,
      at: row.createdAt.toISOString(),
    })),
  };
}

/** Gives a stream's failed files to the ClickHouse forwarder again, with their attempts counted anew; returns how many. */
export async function retryFailedClickHouseFiles(db: Db, streamName: string): Promise<number> {
  const stream = await db.stream.findUnique({ where: { name: streamName }, select: { id: true } });
  if (!stream) throw new SluiceError('stream.not_found', `No stream is named "${streamName}".`);
  const { count } = await db.dataFile.updateMany({
    where: { streamId: stream.id, clickhouseStatus: 'failed' },
    data: { clickhouseStatus: 'pending', clickhouseAttempts: 0, clickhouseNextAt: null, clickhouseError: null },
  });
  return count;
}

export interface QuarantineFile {
  id: string;
  objectKey: string;
  rows: number;
  bytes: number;
}

/**
 * The files of a stream's quarantine table, newest first (from `fromId` on, when given), and the rows they
 * hold together.
 */
export async function quarantineFiles(
  db: Db,
  streamName: string,
  options: { fromId?: string; limit?: number } = {},
): Promise<{ files: QuarantineFile[]; totalRows: number }> {
  const stream = await db.stream.findUnique({ where: { name: streamName }, select: { id: true } });
  if (!stream) throw new SluiceError('stream.not_found', `No stream is named "${streamName}".`);
  const where = { streamId: stream.id, lakeTable: 'quarantine' as const, state: 'committed' as const };
  const [rows, total] = await Promise.all([
    db.dataFile.findMany({
      where,
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: options.limit ?? 1000,
      ...(options.fromId ? { cursor: { id: options.fromId } } : {}),
      select: { id: true, objectKey: true, rows: true, bytes: true },
    }),
    db.dataFile.aggregate({ where, _sum: { rows: true } }),
  ]);
  return { files: rows.map((row) => ({ ...row, bytes: Number(row.bytes) })), totalRows: total._sum.rows ?? 0 };
}
