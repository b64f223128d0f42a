/**
 * Rejected rows are stored, not only reported: each stream has a quarantine Delta table at
 * `_quarantine/<stream>/` (lake-tables.ts) holding, per rejected row, the request and key that sent it,
 * its line, column, code and message, the line as sent (cut at 64 KiB) and when it was rejected.
 *
 * The parser workers hand the rejected rows over with the request's other results (at most
 * QUARANTINE_MAX_ROWS per request); they wait here, per stream, until a second has passed or 4 MiB have
 * gathered, and are written as one Parquet file in the manifest (as a quarantine file), which the Delta log
 * writer then adds to the quarantine table. A producer's answer does not wait for it. Past
 * QUARANTINE_BUFFER_BYTES waiting in the process, further rows are only counted (the answer still reports
 * them).
 */
import { commitDataFile, reserveDataFile, type Db } from '@sluice/db';
import { newId, sortableToken } from '@sluice/shared';
import { Int64, Table, TimestampMicrosecond, tableToIPC, Utf8, vectorFromArray } from 'apache-arrow';
import type { FastifyBaseLogger } from 'fastify';
import type { Metrics } from '../metrics';
import type { QuarantinedRow } from '../pipeline/parse/record-sink';
import { objectKeyFor, type ObjectStore } from '../sinks/object-store';
import { withRetries, type RetryOptions } from '../sinks/retry';
import { tablePrefix } from './lake-tables';

/** A file is written once this much is waiting for a stream, or its oldest row has waited FLUSH_AGE_MS. */
const FLUSH_BYTES = 4 * 1024 * 1024;
const FLUSH_AGE_MS = 1000;

export interface QuarantineOptions {
  db: Db;
  store: ObjectStore;
  log: FastifyBaseLogger;
  metrics: Metrics;
  retry: Omit<RetryOptions, 'onRetry'>;
  /** Writes an Arrow IPC stream as Parquet (WorkerPool.ipcToParquet). */
  toParquet: (ipc: Uint8Array) => Promise<Uint8Array>;
  /** The most bytes of rows waiting in the process; rows past it are counted, not stored. */
  bufferBytes: number;
  /** Called after a quarantine file is committed (the Delta log writer listens). */
  onCommitted?: (streamId: string) => void;
}

/** Who sent the rejected rows. */
export interface QuarantineSource {
  requestId: string;
  keyId: string | null;
}

interface Pending {
  stream: string;
  rows: (QuarantinedRow & QuarantineSource & { at: number })[];
  bytes: number;
  timer: NodeJS.Timeout | null;
}

export class QuarantineWriter {
  private readonly pending = new Map<string, Pending>();
  private readonly writing = new Set<Promise<void>>();
  private waitingBytes = 0;

  constructor(private readonly deps: QuarantineOptions) {}

  add(stream: { id: string; name: string }, rows: readonly QuarantinedRow[], source: QuarantineSource): void {
    if (rows.length === 0) return;
    let pending = this.pending.get(stream.id);
    if (!pending) {
      pending = { stream: stream.name, rows: [], bytes: 0, timer: null };
      this.pending.set(stream.id, pending);
    }
    const at = Date.now();
    let kept = 0;
    for (const row of rows) {
      const bytes = 128 + row.message.length + (row.raw?.length ?? 0) * 2;
      if (this.waitingBytes + bytes > this.deps.bufferBytes) {
        this.deps.metrics.quarantineDropped.inc({ stream: stream.name }, rows.length - kept);
        break;
      }
      pending.rows.push({ ...row, ...source, at });
      pending.bytes += bytes;
      this.waitingBytes += bytes;
      kept++;
    }
    this.deps.metrics.quarantinedRows.inc({ stream: stream.name }, kept);
    if (pending.bytes >= FLUSH_BYTES) this.flush(stream.id);
    else if (pending.timer === null && pending.rows.length > 0) {
      pending.timer = setTimeout(() => this.flush(stream.id), FLUSH_AGE_MS);
      pending.timer.unref();
    }
  }

  /** Writes every stream's waiting rows now, and waits for the files being written. */
  async settle(): Promise<void> {
    for (const streamId of [...this.pending.keys()]) this.flush(streamId);
    await Promise.allSettled([...this.writing]);
  }

  private flush(streamId: string): void {
    const pending = this.pending.get(streamId);
    if (!pending) return;
    this.pending.delete(streamId);
    if (pending.timer) clearTimeout(pending.timer);
    // Every row of it was dropped (the buffer was full): no file to write.
    if (pending.rows.length === 0) return;
    const done = this.write(streamId, pending)
      .catch((error: unknown) =>
        this.deps.log.error(
          { err: error, stream: pending.stream, rows: pending.rows.length },
          'could not store rejected rows in the quarantine',
        ),
      )
      .finally(() => {
        this.waitingBytes -= pending.bytes;
        this.writing.delete(done);
      });
    this.writing.add(done);
  }

  private async write(streamId: string, pending: Pending): Promise<void> {
    const { db, store, retry } = this.deps;
    const { rows } = pending;
    const strings = (pick: (row: (typeof rows)[number]) => string | null) => vectorFromArray(rows.map(pick), new Utf8());
    const table = new Table({
      request_id: strings((row) => row.requestId),
      key_id: strings((row) => row.keyId),
      line: vectorFromArray(
        rows.map((row) => BigInt(row.line)),
        new Int64(),
      ),
      column_name: strings((row) => row.column),
      code: strings((row) => row.code),
      message: strings((row) => row.message),
      raw: strings((row) => row.raw),
      rejected_at: vectorFromArray(
        rows.map((row) => row.at),
        new TimestampMicrosecond('UTC'),
      ),
    });
    const parquet = await this.deps.toParquet(tableToIPC(table, 'stream'));
    const at = new Date(rows[0]!.at);
    const key = objectKeyFor(tablePrefix(pending.stream, 'quarantine'), sortableToken(), at);
    const record = {
      id: newId('file'),
      streamId,
      schemaVersion: 1,
      key,
      rows: rows.length,
      bytes: parquet.byteLength,
      clickhouse: 'skipped' as const,
      table: 'quarantine' as const,
      createdAt: at,
    };
    await withRetries(() => reserveDataFile(db, record), retry);
    await withRetries(() => store.put(key, parquet), retry);
    await withRetries(() => commitDataFile(db, key), retry);
    this.deps.onCommitted?.(streamId);
  }
}
