/**
 * Feeds ClickHouse from the manifest, after the Parquet files are committed (durable first, derived
 * second). A file whose ClickHouse status is `pending` is claimed with a lease in Postgres (one UPDATE:
 * `clickhouseClaimedBy`, `clickhouseLeaseUntil`), inserted outside any transaction, then marked done; a
 * replica that dies mid-insert only holds the file until its lease ends. Exactly once: before inserting,
 * the rows already tagged with the file's id are counted; all there means done, none means insert.
 *
 * A failed insert is tried again with exponential backoff, the file's own: other files and streams go on
 * meanwhile. After CLICKHOUSE_MAX_ATTEMPTS the file is `failed`, with its error, until an operator retries
 * it (retryFailedClickHouseFiles). ClickHouse being down never blocks Parquet ingestion.
 */
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Db } from '@sluice/db';
import type { StreamSchema } from '@sluice/shared';
import type { FastifyBaseLogger } from 'fastify';
import type { Metrics } from '../metrics';
import type { ClickHouseSink } from '../sinks/clickhouse-sink';
import type { ObjectStore } from '../sinks/object-store';

interface ClaimedFile {
  id: string;
  objectKey: string;
  rows: number;
  attempts: number;
  streamName: string;
  sinks: { clickhouse?: { table: string; orderBy?: string[] } };
  currentVersion: number;
  columns: StreamSchema['columns'];
}

export interface ForwarderOptions {
  db: Db;
  store: ObjectStore;
  sink: ClickHouseSink;
  metrics: Metrics;
  log: FastifyBaseLogger;
  pollMs: number;
  /** How long a claim holds a file: longer than an insert may take. */
  leaseMs: number;
  maxAttempts: number;
  /** Backoff after the n-th failed attempt: retryBaseMs * 2^(n-1), at most retryMaxMs. */
  retryBaseMs: number;
  retryMaxMs: number;
}

export class ClickHouseForwarder {
  /** Whose lease it is: unique per process, so a replica never mistakes another's claim for its own. */
  readonly id = `${os.hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private again = false;

  constructor(private readonly deps: ForwarderOptions) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** A file was just committed: look now rather than at the next poll. */
  wake(): void {
    if (this.running) this.again = true;
    else this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number) {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.drain().finally(() => {
        this.running = null;
        this.schedule(this.again ? 0 : this.deps.pollMs);
        this.again = false;
      });
    }, delayMs);
  }

  /** Forwards files until none is due: a failing file is put off, and the next one is tried. */
  private async drain(): Promise<void> {
    try {
      for (let file = await this.claim(); file && !this.stopped; file = await this.claim()) await this.forward(file);
    } catch (error) {
      // Postgres itself failed (a claim or a mark): the next poll tries again.
      this.deps.log.warn({ err: error }, 'the ClickHouse forwarder could not reach the manifest');
    }
    await this.updateGauges().catch(() => {});
  }

  /** The oldest pending file that is due and not leased, leased to this forwarder; null when there is none. */
  private async claim(): Promise<ClaimedFile | null> {
    const { db, leaseMs } = this.deps;
    const [file] = await db.$queryRaw<ClaimedFile[]>`
      WITH next AS (
        SELECT "id" FROM "DataFile"
        WHERE "clickhouseStatus" = 'pending'
          AND "state" = 'committed'
          AND ("clickhouseNextAt" IS NULL OR "clickhouseNextAt" <= now())
          AND ("clickhouseLeaseUntil" IS NULL OR "clickhouseLeaseUntil" < now())
        ORDER BY "createdAt"
        LIMIT 1
        FOR UPDATE SKIP LOCKED
      ), claimed AS (
        UPDATE "DataFile" f
        SET "clickhouseClaimedBy" = ${this.id},
            "clickhouseLeaseUntil" = now() + ${leaseMs} * interval '1 millisecond',
            "clickhouseAttempts" = f."clickhouseAttempts" + 1
        FROM next WHERE f."id" = next."id"
        RETURNING f."id", f."objectKey", f."rows", f."clickhouseAttempts", f."streamId", f."schemaVersion"
      )
      SELECT c."id", c."objectKey", c."rows", c."clickhouseAttempts" AS "attempts", s."name" AS "streamName", s."sinks",
             s."currentVersion", v."columns"
      FROM claimed c
      JOIN "Stream" s ON s."id" = c."streamId"
      JOIN "SchemaVersion" v ON v."streamId" = s."id" AND v."version" = c."schemaVersion"`;
    return file ?? null;
  }

  private async forward(file: ClaimedFile): Promise<void> {
    const { db, sink, store, metrics, log } = this.deps;
    const target = file.sinks.clickhouse;
    if (!target) {
      await this.release(file, { clickhouseStatus: 'skipped' });
      return;
    }
    try {
      const current = await db.schemaVersion.findFirstOrThrow({
        where: { stream: { name: file.streamName }, version: file.currentVersion },
      });
      await sink.ensureTable(target.table, { columns: current.columns as StreamSchema['columns'] }, file.currentVersion, target.orderBy);
      const started = process.hrtime.bigint();
      const already = await sink.countFile(target.table, file.id);
      if (already === 0) {
        await sink.insertFile(target.table, file.columns, store, file.objectKey, file.id);
        metrics.clickhouseRows.inc({ stream: file.streamName }, file.rows);
      } else if (already !== file.rows) {
        // A torn insert (only possible for files larger than one insert block): remove it; the next
        // attempt inserts the file whole once the deletion has landed.
        await sink.deleteFile(target.table, file.id);
        throw new Error(`file ${file.id} had ${already} of ${file.rows} rows in ClickHouse; removed them to insert again`);
      }
      metrics.clickhouseInsertDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
      await this.release(file, { clickhouseStatus: 'done', clickhouseAt: new Date(), clickhouseError: null, clickhouseNextAt: null });
      log.debug({ file: file.id, table: target.table, rows: file.rows }, 'inserted into ClickHouse');
    } catch (error) {
      metrics.clickhouseFailures.inc();
      const message = (error as Error).message.slice(0, 2000);
      if (file.attempts >= this.deps.maxAttempts) {
        log.error(
          { err: error, file: file.id, attempts: file.attempts },
          'ClickHouse insert failed for the last time; the file is marked failed',
        );
        await this.release(file, { clickhouseStatus: 'failed', clickhouseError: message, clickhouseNextAt: null });
      } else {
        const delay = Math.min(this.deps.retryMaxMs, this.deps.retryBaseMs * 2 ** (file.attempts - 1));
        log.warn({ err: error, file: file.id, attempts: file.attempts, retryInMs: delay }, 'ClickHouse insert failed; retried later');
        await this.release(file, { clickhouseError: message, clickhouseNextAt: new Date(Date.now() + delay) });
      }
    }
  }

  /** Ends this forwarder's lease on the file, recording the outcome; a lease that has passed to another is left alone. */
  private async release(
    file: ClaimedFile,
    outcome: {
      clickhouseStatus?: 'done' | 'failed' | 'skipped';
      clickhouseAt?: Date;
      clickhouseError?: string | null;
      clickhouseNextAt?: Date | null;
    },
  ): Promise<void> {
    await this.deps.db.dataFile.updateMany({
      where: { id: file.id, clickhouseClaimedBy: this.id },
      data: { ...outcome, clickhouseClaimedBy: null, clickhouseLeaseUntil: null },
    });
  }

  private async updateGauges() {
    const rows = await this.deps.db.$queryRaw<{ status: string; n: bigint }[]>`
      SELECT "clickhouseStatus"::text AS status, count(*) AS n FROM "DataFile"
      WHERE "clickhouseStatus" IN ('pending', 'failed') AND "state" = 'committed' GROUP BY 1`;
    const count = (status: string) => Number(rows.find((row) => row.status === status)?.n ?? 0);
    this.deps.metrics.clickhousePendingFiles.set(count('pending'));
    this.deps.metrics.clickhouseFailedFiles.set(count('failed'));
  }
}
