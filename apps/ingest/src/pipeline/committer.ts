/**
 * Turns a flushed batch into a durable file: encode to Parquet (in a worker), write its manifest row as
 * `writing`, put the object in the store with retries (`write`), then commit the row (in flush order, per
 * stream), with the line spans of the keyed requests it holds: only then does the file exist for readers.
 * The object key is chosen once per batch, so every retry writes the same object (idempotent). An object
 * whose row never commits is the orphan janitor's.
 *
 * A request whose files must become visible together (all-or-nothing across files, or a keyed retry whose
 * body must first prove to be the one stored before) writes them with `write` and ends with
 * `commitTogether` (one transaction) or `giveUp`.
 */
import { abandonDataFile, commitDataFile, commitDataFiles, reserveDataFile, type Db, type LineSpanRecord } from '@sluice/db';
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
  /** Compute each file's Delta statistics (when the Delta log is written). */
  fileStats: boolean;
  /** Called after a file is in the manifest (the ClickHouse forwarder listens). */
  onFileCommitted?: (stream: StreamDto) => void;
}

/** A file put in the store whose manifest row is still `writing`. */
export interface WrittenFile extends CommittedFile {
  spans: LineSpanRecord[];
}

export class Committer {
  /**
   * Per stream, the commit flushed last: batches of one stream are encoded in parallel and may finish out
   * of order, but each row is committed in the manifest only after the one flushed before it (in flush
   * order, which is also the order of their object keys and of the rows' createdAt and id).
   */
  private readonly lastFlushed = new Map<string, Promise<unknown>>();

  constructor(private readonly deps: CommitterDeps) {}

  /** Writes the batch and commits it after the stream's batches flushed before it. */
  commit(stream: StreamDto, batch: Batch, reason: FlushReason): Promise<CommittedFile> {
    // The file's manifest row is named and dated now, at the flush: a stream's files sort in flush order.
    const written = this.write(stream, batch, reason);
    return this.inFlushOrder(stream, async (previous) => {
      const file = await written;
      await previous;
      await this.commitRows(stream, [file], false);
      return file;
    });
  }

  /**
   * Commits files written for one request in one transaction, after the stream's batches flushed before
   * this call; they are re-dated to now, so a stream's files still sort in commit order.
   */
  commitTogether(stream: StreamDto, files: WrittenFile[]): Promise<void> {
    return this.inFlushOrder(stream, async (previous) => {
      await previous;
      await this.commitRows(stream, files, true);
    });
  }

  /** Files written for a request that failed: deleted now, rather than by the janitor later. */
  async giveUp(files: { id: string; key: string }[]): Promise<void> {
    const { db, store, log } = this.deps;
    for (const file of files) {
      try {
        await store.delete(file.key);
        await abandonDataFile(db, file.id);
      } catch (error) {
        log.warn({ key: file.key, err: error }, 'could not remove a file of a failed request; the orphan janitor will');
      }
    }
  }

  private inFlushOrder<T>(stream: StreamDto, step: (previous: Promise<unknown> | undefined) => Promise<T>): Promise<T> {
    const previous = this.lastFlushed.get(stream.id);
    const done = step(previous);
    const settled = done.catch(() => {});
    this.lastFlushed.set(stream.id, settled);
    void settled.then(() => {
      if (this.lastFlushed.get(stream.id) === settled) this.lastFlushed.delete(stream.id);
    });
    return done;
  }

  private async commitRows(stream: StreamDto, files: WrittenFile[], together: boolean): Promise<void> {
    const { db, metrics, log } = this.deps;
    const keys = files.map((file) => file.key);
    const committed = await withRetries(
      () =>
        together
          ? commitDataFiles(
              db,
              files.map((file) => ({ key: file.key, spans: file.spans })),
              new Date(),
            )
          : commitDataFile(db, files[0]!.key, files[0]!.spans),
      {
        ...this.deps.retry,
        onRetry: (attempt, error) => log.warn({ keys, attempt, err: error }, 'manifest commit failed; retrying'),
      },
    ).catch((error: unknown) => {
      throw new SluiceError('sink.unavailable', undefined, { cause: error });
    });
    if (!committed) {
      log.error({ keys }, 'a file was given up before it could be committed');
      // None of the files is committed (one transaction): the others are removed as well.
      if (together) await this.giveUp(files);
      throw new SluiceError('sink.unavailable', undefined, { cause: new Error(`the manifest row of ${keys.join(', ')} was given up`) });
    }
    for (const file of files) {
      metrics.filesWritten.inc({ stream: stream.name });
      log.debug({ key: file.key, rows: file.rows, bytes: file.bytes }, 'file committed');
    }
    this.deps.onFileCommitted?.(stream);
  }

  /** Encodes the batch, reserves its manifest row (`writing`) and puts the object: not yet visible. */
  async write(stream: StreamDto, batch: Batch, reason: FlushReason): Promise<WrittenFile> {
    const { db, store, pool, budget, metrics, log } = this.deps;
    const id = newId('file');
    const flushedAt = new Date();
    metrics.batchesFlushed.inc({ stream: stream.name, reason });
    const key = objectKeyFor(stream.name, sortableToken(), flushedAt);
    let held = batch.bytes;
    try {
      const { parquet, stats } = await pool.encode(stream.schema, batch.chunks, {
        stream: stream.name,
        schemaVersion: stream.schemaVersion,
        rowGroupRows: this.deps.rowGroupRows,
        zstd: this.deps.zstd,
        fileStats: this.deps.fileStats,
      });
      // The column buffers went to the worker and are gone; the Parquet bytes are what is held now.
      const bytes = parquet.byteLength;
      budget.resize(held, bytes);
      held = bytes;

      // The row first, `writing`: an object put with no committed row (the manifest failed, the process
      // died) is one the janitor can find, and no reader sees meanwhile.
      await withRetries(
        () =>
          reserveDataFile(db, {
            id,
            createdAt: flushedAt,
            streamId: stream.id,
            schemaVersion: stream.schemaVersion,
            key,
            rows: batch.rows,
            bytes,
            stats,
            clickhouse: stream.sinks.clickhouse ? 'pending' : 'skipped',
          }),
        {
          ...this.deps.retry,
          onRetry: (attempt, error) => log.warn({ key, attempt, err: error }, 'manifest insert failed; retrying'),
        },
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
      return { id, key, rows: batch.rows, bytes, spans: batch.spans };
    } catch (error) {
      log.error({ key, rows: batch.rows, err: error }, 'batch could not be stored');
      throw error instanceof SluiceError ? error : new SluiceError('sink.unavailable', undefined, { cause: error });
    } finally {
      budget.release(held);
    }
  }
}
