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
import { objectKeyFor, partitionOf, type ObjectStore } from '../sinks/object-store';
import { withRetries, type RetryOptions } from '../sinks/retry';
import type { CommittedFile } from './batch-owner';
import type { Batch, FlushReason } from './batcher';
import type { ByteBudget } from './byte-budget';
import type { ZstdRoute } from './parquet-encode';
import type { PartitionSpec } from './partition-rows';
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

  /** Writes the batch and commits its file (or its files, one per event-time partition) after the stream's batches flushed before it. */
  commit(stream: StreamDto, batch: Batch, reason: FlushReason): Promise<CommittedFile[]> {
    // The files' manifest rows are named and dated now, at the flush: a stream's files sort in flush order.
    const written = this.write(stream, batch, reason);
    return this.inFlushOrder(stream, async (previous) => {
      const files = await written;
      await previous;
      await this.commitRows(stream, files, false);
      return files;
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
    // A batch split by event time commits its files in one transaction, as a request's files committed together do.
    const committed = await withRetries(
      () =>
        together || files.length > 1
          ? commitDataFiles(
              db,
              files.map((file) => ({ key: file.key, spans: file.spans })),
              together ? new Date() : undefined,
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

  /**
   * Encodes the batch, reserves its manifest row (`writing`) and puts the object: not yet visible. A stream
   * partitioned by one of its columns may have a batch become a file per partition; the line spans of keyed
   * requests go with the first (the files commit together).
   */
  async write(stream: StreamDto, batch: Batch, reason: FlushReason): Promise<WrittenFile[]> {
    const { db, store, pool, budget, metrics, log } = this.deps;
    const flushedAt = new Date();
    metrics.batchesFlushed.inc({ stream: stream.name, reason });
    const { granularity } = stream.partitioning;
    // Named at the flush, before the encode (batches encode in parallel): a stream's files sort in flush
    // order. A batch split by partition adds a suffix per file after the first, which sorts right after it.
    const firstId = newId('file');
    const token = sortableToken();
    let held = batch.bytes;
    let key: string | null = null;
    try {
      const { files, fallbackRows } = await pool.encode(stream.schema, batch.chunks, {
        stream: stream.name,
        schemaVersion: stream.schemaVersion,
        rowGroupRows: this.deps.rowGroupRows,
        zstd: this.deps.zstd,
        fileStats: this.deps.fileStats,
        partition: partitionSpec(stream),
        ingestAt: flushedAt.getTime(),
      });
      if (fallbackRows > 0) metrics.partitionFallbackRows.inc({ stream: stream.name }, fallbackRows);
      // The column buffers went to the worker and are gone; the Parquet bytes are what is held now.
      const bytes = files.reduce((sum, file) => sum + file.parquet.byteLength, 0);
      budget.resize(held, bytes);
      held = bytes;

      const written: WrittenFile[] = [];
      for (const [index, file] of files.entries()) {
        const id = index === 0 ? firstId : `${firstId}-${index}`;
        // Chosen once: every retry of the put writes the same object.
        key = objectKeyFor(
          stream.name,
          index === 0 ? token : `${token}-${index}`,
          flushedAt,
          file.partition ?? partitionOf(flushedAt, granularity),
        );
        const fileKey = key;
        // The row first, `writing`: an object put with no committed row (the manifest failed, the process
        // died) is one the janitor can find, and no reader sees meanwhile.
        await withRetries(
          () =>
            reserveDataFile(db, {
              id,
              createdAt: flushedAt,
              streamId: stream.id,
              schemaVersion: stream.schemaVersion,
              key: fileKey,
              rows: file.rows,
              bytes: file.parquet.byteLength,
              stats: file.stats,
              clickhouse: stream.sinks.clickhouse ? 'pending' : 'skipped',
            }),
          {
            ...this.deps.retry,
            onRetry: (attempt, error) => log.warn({ key: fileKey, attempt, err: error }, 'manifest insert failed; retrying'),
          },
        );

        const started = process.hrtime.bigint();
        try {
          await withRetries(() => store.put(fileKey, file.parquet), {
            ...this.deps.retry,
            onRetry: (attempt, error) => {
              metrics.uploadRetries.inc();
              log.warn({ key: fileKey, attempt, err: error }, 'object store upload failed; retrying');
            },
          });
        } catch (error) {
          // Not freed here: a failed upload's socket may still be writing from it.
          metrics.failedUploads.inc();
          throw new SluiceError('sink.unavailable', undefined, { cause: error });
        }
        freeNow(file.parquet.buffer as ArrayBuffer);
        metrics.uploadDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
        written.push({ id, key: fileKey, rows: file.rows, bytes: file.parquet.byteLength, spans: index === 0 ? batch.spans : [] });
      }
      return written;
    } catch (error) {
      log.error({ key, rows: batch.rows, err: error }, 'batch could not be stored');
      throw error instanceof SluiceError ? error : new SluiceError('sink.unavailable', undefined, { cause: error });
    } finally {
      budget.release(held);
    }
  }
}

/** How the worker splits a batch of a stream partitioned by one of its columns; undefined by ingest time. */
function partitionSpec(stream: StreamDto): PartitionSpec | undefined {
  const { source, granularity } = stream.partitioning;
  if (source === 'ingest') return undefined;
  const column = stream.schema.columns.findIndex((each) => each.name === source);
  const type = stream.schema.columns[column]?.type;
  if (type !== 'timestamp' && type !== 'date') return undefined;
  return { column, type, granularity };
}
