/**
 * Owns the data path: the worker pool, the byte budget, the committer and the batchers. On close it
 * flushes every pending batch, waits for in-flight requests, then stops the workers.
 */
import fp from 'fastify-plugin';
import type { Config } from '../config';
import { Compactor } from '../lake/compactor';
import { writeCheckpoint } from '../lake/delta-checkpoint';
import { DeltaLogWriter } from '../lake/delta-log-writer';
import { QuarantineWriter } from '../lake/quarantine';
import { Admission } from '../pipeline/admission';
import { Batchers } from '../pipeline/batchers';
import { ByteBudget } from '../pipeline/byte-budget';
import { Committer } from '../pipeline/committer';
import { IngestPipeline } from '../pipeline/ingest-pipeline';
import { OrphanJanitor } from '../pipeline/orphan-janitor';
import { loadNativeZstd } from '../pipeline/parquet-encode';
import { WorkerPool } from '../pipeline/worker-pool';

declare module 'fastify' {
  interface FastifyInstance {
    pipeline: IngestPipeline;
    janitor: OrphanJanitor;
    /** Writes each stream's Delta log from the manifest; null when DELTA_LOG=off. */
    deltaLog: DeltaLogWriter | null;
    /** Compacts small files, drops partitions past retention, vacuums (in the background unless COMPACTION=off). */
    compactor: Compactor;
    /** Stores rejected rows in each stream's quarantine table. */
    quarantine: QuarantineWriter;
    admission: Admission;
    budget: ByteBudget;
    draining: boolean;
  }
}

export const pipelinePlugin = fp<{ config: Config }>(
  async (app, { config }) => {
    const pool = new WorkerPool(config.pipelineWorkers, config.encodeWorkers);
    pool.onWarning = (message) => app.log.warn(message);
    // Requests are taken once the workers can parse them: the first body would otherwise wait for them.
    await pool.ready();
    const native = config.parquetZstd === 'native' ? await loadNativeZstd() : null;
    if (native && 'error' in native) {
      app.log.warn({ err: native.error }, 'the native zstd binding did not load: parquet-wasm compresses the Parquet pages (slower)');
    }
    const deltaLog = config.deltaLog
      ? new DeltaLogWriter({
          db: app.db,
          store: app.store,
          log: app.log,
          ...config.deltaLog,
          onCommit: (stream, _table, _version, adds) => {
            app.metrics.deltaVersions.inc({ stream });
            app.metrics.deltaAdds.inc({ stream }, adds);
          },
          checkpoint: (table, version, schemaVersion, holder) =>
            writeCheckpoint(
              { db: app.db, store: app.store, toParquet: (ipc) => pool.ipcToParquet(ipc) },
              table,
              version,
              schemaVersion,
              holder,
            ),
        })
      : null;
    // Batchers hand flushed batches to the committer; memory pressure on the budget flushes the fullest.
    const batchers = new Batchers((stream, batch, reason) => committer.commit(stream, batch, reason));
    const budget = new ByteBudget({
      max: config.queue.maxBytes,
      highWater: config.queue.highWater,
      onPressure: () => batchers.flushLargest(),
      onChange: (used) => app.metrics.queueBytes.set(used),
    });
    const committer = new Committer({
      db: app.db,
      store: app.store,
      pool,
      budget,
      metrics: app.metrics,
      log: app.log,
      retry: config.sinkRetry,
      rowGroupRows: config.rowGroupRows,
      zstd: config.parquetZstd,
      fileStats: config.deltaLog !== null,
      onFileCommitted: (stream) => {
        deltaLog?.wake(stream.id);
        if (stream.sinks.clickhouse) app.clickhouse?.forwarder.wake();
      },
    });
    const quarantine = new QuarantineWriter({
      db: app.db,
      store: app.store,
      log: app.log,
      metrics: app.metrics,
      retry: config.sinkRetry,
      toParquet: (ipc) => pool.ipcToParquet(ipc),
      bufferBytes: config.quarantine.bufferBytes,
      onCommitted: (streamId) => deltaLog?.wake(streamId, 'quarantine'),
    });
    const pipeline = new IngestPipeline(
      pool,
      budget,
      batchers,
      committer,
      {
        ...config.limits,
        chunkRows: 16 * 1024,
        maxMessageBytes: config.maxArrowMessageBytes,
        retryAfterSeconds: config.queue.retryAfterSeconds,
        maxQuarantinedRows: config.quarantine.maxRowsPerRequest,
      },
      config.quarantine.maxRowsPerRequest > 0 ? quarantine : null,
    );
    const admission = new Admission({
      budget,
      maxRequests: config.connections.maxRequests,
      maxRequestsPerHolder: config.connections.maxRequestsPerKey,
      retryAfterSeconds: config.queue.retryAfterSeconds,
      draining: () => app.draining,
      onRefused: (reason) => app.metrics.rejectedRequests.inc({ reason }),
    });
    // Sweeps for orphans a few times per grace period (at most every 5 minutes).
    const janitor = new OrphanJanitor({
      db: app.db,
      store: app.store,
      metrics: app.metrics,
      log: app.log,
      graceMs: config.orphanGraceMs,
      intervalMs: Math.min(5 * 60_000, Math.max(1_000, Math.floor(config.orphanGraceMs / 4))),
    });
    const compactor = new Compactor({
      db: app.db,
      store: app.store,
      pool,
      log: app.log,
      metrics: app.metrics,
      retry: config.sinkRetry,
      ...config.compaction,
      // Long enough for a file of COMPACTION_TARGET_BYTES; renewed before each file.
      leaseMs: 5 * 60_000,
      rowGroupRows: config.rowGroupRows,
      logged: deltaLog !== null,
      onRemoved: (streamId) => deltaLog?.wake(streamId),
    });
    app.addHook('onReady', async () => {
      janitor.start();
      deltaLog?.start();
      if (config.compaction.background) compactor.start();
    });
    app.decorate('janitor', janitor);
    app.decorate('deltaLog', deltaLog);
    app.decorate('compactor', compactor);
    app.decorate('quarantine', quarantine);
    app.decorate('pipeline', pipeline);
    app.decorate('admission', admission);
    app.decorate('budget', budget);
    app.decorate('draining', false);

    // Before the server stops accepting: refuse new requests, flush what is held so in-flight ones finish.
    app.addHook('preClose', async () => {
      app.draining = true;
      batchers.drain();
    });
    app.addHook('onClose', async () => {
      await janitor.stop();
      await compactor.stop();
      await quarantine.settle();
      // The files committed last go into the log before the leases are given up.
      await deltaLog?.settle().catch((error: unknown) => app.log.warn({ err: error }, 'the Delta log could not catch up before stopping'));
      await deltaLog?.stop();
      await pool.close();
    });
  },
  { name: 'pipeline', dependencies: ['db', 'store', 'metrics', 'clickhouse'] },
);
