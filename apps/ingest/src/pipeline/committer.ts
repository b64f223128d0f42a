/**
 * Turns a flushed batch into a durable file: encode to Parquet (in a worker), write its manifest row as
 * `writing`, put the object in the store with retries, then commit the row (in flush order, per stream):
 * only then does the file exist for readers. The object key is chosen once per batch, so every retry
 * writes the same object (idempotent). An object whose row never commits is the orphan janitor's.
 */
import { commitDataFile, reserveDataFile, type Db } from '@sluice/db';
import { newId, SluiceError, sortableToken, type StreamDto } from '@sluice/shared';
import type { FastifyBaseLogger } from 'fastify';
import type { Metrics } from '../metrics';
import { objectKeyFor, type ObjectStore } from '../sinks/object-store';
import { withRetries, type RetryOptions } from '../sinks/retry';
import type { CommittedFile } from './batch-owner';
import type { Batch, FlushReason } from './batcher';
import type { ByteBudget } from './byte-budget';
import type { ZstdRoute } from './parquet-encode';
import type { WorkerPool } from './worker-pool';
import { freeNow } from './young-gc';

export interface CommitterDeps {
  db: Db;
  store: ObjectStore;
  pool: WorkerPool;
  budget: ByteBudget;
  metrics: Metrics;
  log: FastifyBaseLogger;
  retry: Omit<RetryOptions, 'onRetry'>;
  rowGroupRows: number;
  zstd: ZstdRoute;
  /** Called after a file is in the manifest (the ClickHouse forwarder listens). */
  onFileCommitted?: (stream: StreamDto) => void;
}

export class Committer {
  /**
   * Per stream, the commit flushed last: batches of one stream are encoded in parallel and may finish out
   * of order, but each row is committed in the manifest only after the one flushed before it (in flush
   * order, which is also the order of their object keys and of the rows' createdAt and id).
   */
  private readonly lastFlushed = new Map<string, Promise<unknown>>();

  constructor(private readonly deps: CommitterDeps) {}

  commit(stream: StreamDto, batch: Batch, reason: FlushReason): Promise<CommittedFile> {
    const previous = this.lastFlushed.get(stream.id);
    // The file's manifest row is named and dated now, at the flush: a stream's files sort in flush order.
    const commit = this.store(stream, batch, reason, previous, { id: newId('file'), flushedAt: new Date() });
    const settled = commit.catch(() => {});
    this.lastFlushed.set(stream.id, settled);
    void settled.then(() => {
      if (this.lastFlushed.get(stream.id) === settled) this.lastFlushed.delete(stream.id);
    });
    return commit;
  }

  private async store(
    stream: StreamDto,
    batch: Batch,
    reason: FlushReason,
    previous: Promise<unknown> | undefined,
    row: { id: string; flushedAt: Date },
  ): Promise<CommittedFile> {
    const { db, store, pool, budget, metrics, log } = this.deps;
    metrics.batchesFlushed.inc({ stream: stream.name, reason });
    const key = objectKeyFor(stream.name, sortableToken(), row.flushedAt);
    let held = batch.bytes;
    try {
      const parquet = await pool.encode(stream.schema, batch.chunks, {
        stream: stream.name,
        schemaVersion: stream.schemaVersion,
        rowGroupRows: this.deps.rowGroupRows,
        zstd: this.deps.zstd,
      });
      // The column buffers went to the worker and are gone; the Parquet bytes are what is held now.
      const bytes = parquet.byteLength;
      budget.resize(held, bytes);
      held = bytes;

      // The row first, `writing`: an object put with no committed row (the manifest failed, the process
      // died) is one the janitor can find, and no reader sees meanwhile.
      const manifestRetry = (what: string) => ({
        ...this.deps.retry,
        onRetry: (attempt: number, error: unknown) => log.warn({ key, attempt, err: error }, `manifest ${what} failed; retrying`),
      });
      await withRetries(
        () =>
          reserveDataFile(db, {
            id: row.id,
            createdAt: row.flushedAt,
            streamId: stream.id,
            schemaVersion: stream.schemaVersion,
            key,
            rows: batch.rows,
            bytes,
            clickhouse: stream.sinks.clickhouse ? 'pending' : 'skipped',
          }),
        manifestRetry('insert'),
      );

      const started = process.hrtime.bigint();
      try {
        await withRetries(() => store.put(key, parquet), {
          ...this.deps.retry,
          onRetry: (attempt, error) => {
            metrics.uploadRetries.inc();
            log.warn({ key, attempt, err: error }, 'object store upload failed; retrying');
          },
        });
      } catch (error) {
        // Not freed here: a failed upload's socket may still be writing from it.
        metrics.failedUploads.inc();
        throw new SluiceError('sink.unavailable', undefined, { cause: error });
      }
      freeNow(parquet.buffer as ArrayBuffer);
      metrics.uploadDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);

      await previous;

      if (!(await withRetries(() => commitDataFile(db, key), manifestRetry('commit')))) {
        throw new Error(`the manifest row of ${key} was given up before it could be committed`);
      }
      metrics.filesWritten.inc({ stream: stream.name });
      this.deps.onFileCommitted?.(stream);
      log.debug({ key, rows: batch.rows, bytes, reason }, 'file committed');
      return { key, rows: batch.rows, bytes };
    } catch (error) {
      log.error({ key, rows: batch.rows, err: error }, 'batch could not be stored');
      throw error instanceof SluiceError ? error : new SluiceError('sink.unavailable', undefined, { cause: error });
    } finally {
      budget.release(held);
    }
  }
}
