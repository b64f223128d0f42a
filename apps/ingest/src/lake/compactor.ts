/**
 * Keeps each stream's table in files of a useful size, and its store tidy. Every pass, for each stream
 * whose compaction lease this replica takes (one replica per stream):
 *
 * 1. **Compaction.** A partition with COMPACTION_MIN_FILES small files (under half of
 *    COMPACTION_TARGET_BYTES) older than COMPACTION_DELAY_MINUTES has them rewritten, oldest first, into
 *    files of about COMPACTION_TARGET_BYTES (lake/compact-files.ts, on an encoder worker, through a local
 *    temporary folder: the process never holds a whole file). The new file is reserved `writing`, put,
 *    then committed with the removal of the files it replaces in one manifest transaction, which the
 *    Delta log writes as one commit: a reader sees the old files or the new one, never both or neither.
 * 2. **Retention.** A stream with `retentionDays` has its partitions past it removed.
 * 3. **Vacuum.** Removed files are deleted from the store LAKE_VACUUM_HOURS after their removal (queries
 *    that began before it still find them), once the log has removed them.
 *
 * `compactNow` runs step 1 for one stream on demand (the admin API), with no minimum count or age.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  abandonDataFile,
  claimStreamLease,
  commitCompaction,
  compactionCandidates,
  filesToVacuum,
  forgetVacuumedFile,
  releaseStreamLease,
  removeExpiredPartitions,
  reserveDataFile,
  schemaColumns,
  type CompactionCandidate,
  type CompactionSource,
  type Db,
} from '@sluice/db';
import { newId, sortableToken } from '@sluice/shared';
import type { FastifyBaseLogger } from 'fastify';
import type { Metrics } from '../metrics';
import type { WorkerPool } from '../pipeline/worker-pool';
import type { ObjectStore } from '../sinks/object-store';
import { withRetries, type RetryOptions } from '../sinks/retry';
import { mergeFileStats } from './file-stats';

const LEASE_KIND = 'compaction';

/**
 * Row groups of compacted files: the row group being built is what the writer holds, so it is kept smaller
 * than an ingest batch's (PARQUET_ROW_GROUP_ROWS) to bound memory (measured in BENCHMARKS.md).
 */
const COMPACTION_ROW_GROUP_ROWS = 128 * 1024;

export interface CompactorOptions {
  db: Db;
  store: ObjectStore;
  pool: Pick<WorkerPool, 'compact'>;
  log: FastifyBaseLogger;
  metrics: Metrics;
  retry: Omit<RetryOptions, 'onRetry'>;
  targetBytes: number;
  minFiles: number;
  delayMs: number;
  vacuumMs: number;
  intervalMs: number;
  leaseMs: number;
  rowGroupRows: number;
  /** Whether the Delta log is written: then only files it added are compacted, and vacuumed once it removed them. */
  logged: boolean;
  /** Where the inputs and the output of a compaction wait (a folder of the machine's temporary one by default). */
  tempDir?: string;
  /** Called after a compaction or a retention commits (the Delta log writer listens). */
  onRemoved?: (streamId: string) => void;
}

export interface CompactionResult {
  partition: string;
  filesIn: number;
  rows: number;
  bytesIn: number;
  bytesOut: number;
  key: string;
}

interface StreamRow {
  id: string;
  name: string;
  retentionDays: number | null;
  sinks: unknown;
}

export class Compactor {
  /** Whose lease it is: unique per process. */
  readonly id = `${os.hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;
  /** Set by stop: compactions end after the file they are writing. */
  private closing = false;
  /** Streams whose lease this replica took: given up when it stops. */
  private readonly held = new Set<string>();
  /** One compaction of a stream at a time in this process (passes and compactNow may overlap). */
  private readonly busy = new Map<string, Promise<unknown>>();

  constructor(private readonly deps: CompactorOptions) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    await Promise.allSettled(this.busy.values());
    for (const streamId of this.held) await releaseStreamLease(this.deps.db, streamId, LEASE_KIND, this.id).catch(() => {});
    this.held.clear();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.pass().finally(() => {
        this.running = null;
        this.schedule();
      });
    }, this.deps.intervalMs);
    this.timer.unref();
  }

  /** One pass over every stream: compaction and retention where this replica takes the lease, then vacuum. */
  async pass(): Promise<void> {
    const { db, log } = this.deps;
    try {
      const streams = await db.stream.findMany({ select: { id: true, name: true, retentionDays: true, sinks: true } });
      for (const stream of streams) {
        if (this.closing) break;
        await this.exclusive(stream.id, () => this.tend(stream)).catch((error: unknown) =>
          log.warn({ err: error, stream: stream.name }, 'could not compact the stream; retrying at the next pass'),
        );
      }
      await this.vacuum();
    } catch (error) {
      log.warn({ err: error }, 'the compactor could not reach the manifest');
    }
  }

  /** Compacts every partition of the stream with two small files or more, now. */
  async compactNow(name: string): Promise<CompactionResult[]> {
    const stream = await this.deps.db.stream.findUnique({
      where: { name },
      select: { id: true, name: true, retentionDays: true, sinks: true },
    });
    if (!stream) return [];
    return this.exclusive(stream.id, () => this.compact(stream, { minFiles: 2, olderThan: new Date() }));
  }

  /** Deletes removed files past LAKE_VACUUM_HOURS from the store; returns how many. */
  async vacuum(): Promise<number> {
    const { db, store, log, metrics } = this.deps;
    const files = await filesToVacuum(db, { removedBefore: new Date(Date.now() - this.deps.vacuumMs), logged: this.deps.logged });
    let deleted = 0;
    for (const file of files) {
      try {
        await store.delete(file.objectKey);
        await forgetVacuumedFile(db, file.id);
        deleted++;
      } catch (error) {
        log.warn({ key: file.objectKey, err: error }, 'could not vacuum a removed file; retrying at the next pass');
      }
    }
    if (deleted > 0) {
      metrics.lakeVacuumedFiles.inc(deleted);
      log.info({ files: deleted }, 'vacuumed removed files');
    }
    return deleted;
  }

  private async exclusive<T>(streamId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.busy.get(streamId) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(work);
    this.busy.set(streamId, next);
    try {
      return await next;
    } finally {
      if (this.busy.get(streamId) === next) this.busy.delete(streamId);
    }
  }

  /** A stream's turn in a pass: compaction and retention under its lease. */
  private async tend(stream: StreamRow): Promise<void> {
    await this.compact(stream, { minFiles: this.deps.minFiles, olderThan: new Date(Date.now() - this.deps.delayMs) });
    if (stream.retentionDays !== null && (await this.claim(stream.id))) {
      const removed = await removeExpiredPartitions(this.deps.db, stream.id, stream.retentionDays);
      if (removed > 0) {
        this.deps.log.info(
          { stream: stream.name, files: removed, retentionDays: stream.retentionDays },
          'removed partitions past retention',
        );
        this.deps.onRemoved?.(stream.id);
      }
    }
  }

  private async claim(streamId: string): Promise<boolean> {
    const held = await claimStreamLease(this.deps.db, streamId, LEASE_KIND, this.id, this.deps.leaseMs);
    if (held) this.held.add(streamId);
    return held;
  }

  private async compact(stream: StreamRow, { minFiles, olderThan }: { minFiles: number; olderThan: Date }): Promise<CompactionResult[]> {
    const { db, targetBytes } = this.deps;
    if (!(await this.claim(stream.id))) return [];
    const results: CompactionResult[] = [];
    try {
      const candidates = await compactionCandidates(db, stream.id, {
        smallBytes: targetBytes / 2,
        minFiles,
        olderThan,
        logged: this.deps.logged,
      });
      for (const candidate of candidates) {
        for (const run of runsOf(candidate.files, targetBytes)) {
          // Renewed before each file written: a long compaction keeps its lease.
          if (this.closing) return results;
          if (!(await this.claim(stream.id))) return results;
          const result = await this.rewrite(stream, candidate, run);
          if (result) results.push(result);
        }
      }
    } finally {
      if (results.length > 0) this.deps.onRemoved?.(stream.id);
    }
    return results;
  }

  /** Writes one file holding the run's rows and commits it in their place; null when a source went meanwhile. */
  private async rewrite(stream: StreamRow, candidate: CompactionCandidate, run: CompactionSource[]): Promise<CompactionResult | null> {
    const { db, store, pool, log, metrics } = this.deps;
    const startedAt = new Date();
    const id = newId('file');
    const key = `${stream.name}/${candidate.partition}/${sortableToken()}.parquet`;
    const rows = run.reduce((sum, file) => sum + file.rows, 0);
    const bytesIn = run.reduce((sum, file) => sum + file.bytes, 0);
    const columns = await schemaColumns(db, stream.id, candidate.schemaVersion);
    const dir = await fs.mkdtemp(path.join(this.deps.tempDir ?? os.tmpdir(), 'sluice-compact-'));
    try {
      const inputs: string[] = [];
      for (const [index, file] of run.entries()) {
        const input = path.join(dir, `${index}.parquet`);
        await fs.writeFile(input, await withRetries(() => store.get(file.objectKey), this.deps.retry));
        inputs.push(input);
      }
      const output = path.join(dir, 'compacted.parquet');
      const written = await pool.compact({ columns }, inputs, output, {
        stream: stream.name,
        schemaVersion: candidate.schemaVersion,
        rowGroupRows: Math.min(this.deps.rowGroupRows, COMPACTION_ROW_GROUP_ROWS),
        rows,
      });
      const forwarded = typeof stream.sinks === 'object' && stream.sinks !== null && 'clickhouse' in stream.sinks;
      await reserveDataFile(db, {
        id,
        streamId: stream.id,
        schemaVersion: candidate.schemaVersion,
        key,
        rows,
        bytes: written.bytes,
        stats: mergeFileStats(columns, run),
        // Its rows are in ClickHouse already, from the files it replaces.
        clickhouse: forwarded ? 'done' : 'skipped',
      });
      await withRetries(() => store.putFile(key, output), this.deps.retry);
      const committed = await commitCompaction(db, {
        streamId: stream.id,
        partition: candidate.partition,
        sourceIds: run.map((file) => file.id),
        fileId: id,
        objectKey: key,
        rows,
        bytesIn,
        bytesOut: written.bytes,
        startedAt,
      });
      if (!committed) {
        log.info({ stream: stream.name, key }, 'a compaction lost a source file meanwhile; its file is removed');
        await store.delete(key);
        await abandonDataFile(db, id);
        return null;
      }
      metrics.lakeCompactions.inc({ stream: stream.name });
      metrics.lakeCompactedFiles.inc({ stream: stream.name }, run.length);
      log.info(
        {
          stream: stream.name,
          partition: candidate.partition,
          files: run.length,
          rows,
          bytesIn,
          bytesOut: written.bytes,
          ms: Date.now() - startedAt.getTime(),
        },
        'compacted a partition',
      );
      return { partition: candidate.partition, filesIn: run.length, rows, bytesIn, bytesOut: written.bytes, key };
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }
}

/** The files in runs of about `targetBytes`, in order; a run of one file is left as it is. */
export function runsOf<T extends { bytes: number }>(files: readonly T[], targetBytes: number): T[][] {
  const runs: T[][] = [];
  let run: T[] = [];
  let bytes = 0;
  for (const file of files) {
    if (run.length > 0 && bytes + file.bytes > targetBytes) {
      runs.push(run);
      run = [];
      bytes = 0;
    }
    run.push(file);
    bytes += file.bytes;
  }
  runs.push(run);
  return runs.filter((each) => each.length > 1);
}
