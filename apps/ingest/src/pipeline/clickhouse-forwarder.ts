/**
 * Feeds ClickHouse from the manifest, after the Parquet files are committed (durable first, derived
 * second). Files whose ClickHouse status is `pending` are claimed one at a time with FOR UPDATE SKIP
 * LOCKED, so replicas share the work without doing a file twice. Exactly once: before inserting, the rows
 * already tagged with the file's id are counted; all there means done, none means insert. ClickHouse being
 * down leaves files pending and is retried, never blocking Parquet ingestion, never losing a row.
 */
import type { Db } from '@sluice/db';
import type { StreamSchema } from '@sluice/shared';
import type { FastifyBaseLogger } from 'fastify';
import type { Metrics } from '../metrics';
import type { ClickHouseSink } from '../sinks/clickhouse-sink';
import type { ObjectStore } from '../sinks/object-store';

interface PendingFile {
  id: string;
  objectKey: string;
  rows: number;
  streamName: string;
  sinks: { clickhouse?: { table: string; orderBy?: string[] } };
  currentVersion: number;
  columns: StreamSchema['columns'];
}

export class ClickHouseForwarder {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private again = false;

  constructor(
    private readonly deps: {
      db: Db;
      store: ObjectStore;
      sink: ClickHouseSink;
      metrics: Metrics;
      log: FastifyBaseLogger;
      pollMs: number;
    },
  ) {}

  start(): void {
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

  /** Forwards pending files until none is left or ClickHouse fails. */
  private async drain(): Promise<void> {
    try {
      while (!this.stopped && (await this.forwardOne())) {}
    } catch (error) {
      this.deps.metrics.clickhouseFailures.inc();
      this.deps.log.warn({ err: error }, 'ClickHouse insert failed; the file stays pending and is retried');
    }
    await this.updatePendingGauge().catch(() => {});
  }

  private async updatePendingGauge() {
    const [row] = await this.deps.db.$queryRaw<{ n: bigint }[]>`
      SELECT count(*) AS n FROM "DataFile" WHERE "clickhouseStatus" = 'pending'`;
    this.deps.metrics.clickhousePendingFiles.set(Number(row?.n ?? 0));
  }

  private async forwardOne(): Promise<boolean> {
    const { db, sink, store, metrics, log } = this.deps;
    return db.$transaction(
      async (tx) => {
        const [file] = await tx.$queryRaw<PendingFile[]>`
          SELECT f."id", f."objectKey", f."rows", s."name" AS "streamName", s."sinks", s."currentVersion", v."columns"
          FROM "DataFile" f
          JOIN "Stream" s ON s."id" = f."streamId"
          JOIN "SchemaVersion" v ON v."streamId" = s."id" AND v."version" = f."schemaVersion"
          WHERE f."clickhouseStatus" = 'pending'
          ORDER BY f."createdAt"
          LIMIT 1
          FOR UPDATE OF f SKIP LOCKED`;
        if (!file) return false;
        const target = file.sinks.clickhouse;
        if (!target) {
          await tx.dataFile.update({ where: { id: file.id }, data: { clickhouseStatus: 'skipped' } });
          return true;
        }
        const current = await tx.schemaVersion.findFirstOrThrow({
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
        await tx.dataFile.update({
          where: { id: file.id },
          data: { clickhouseStatus: 'done', clickhouseAt: new Date(), clickhouseError: null },
        });
        log.debug({ file: file.id, table: target.table, rows: file.rows }, 'inserted into ClickHouse');
        return true;
      },
      { timeout: 300_000, maxWait: 10_000 },
    );
  }
}
