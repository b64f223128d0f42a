/** The service's Prometheus metrics, on a registry owned by the app (tests build several apps). */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    replicaInfo: new Gauge({
      name: 'sluice_replica_info',
      help: 'Always 1: the replica this process is (REPLICA_ID), to tell replicas apart behind one load balancer.',
      labelNames: ['replica'] as const,
      registers,
    }),
    rows: new Counter({
      name: 'sluice_rows_total',
      help: 'Rows received, by stream and outcome (accepted, rejected).',
      labelNames: ['stream', 'outcome'] as const,
      registers,
    }),
    bytesReceived: new Counter({
      name: 'sluice_bytes_received_total',
      help: 'Request body bytes received after decompression, by stream and format.',
      labelNames: ['stream', 'format'] as const,
      registers,
    }),
    requestDuration: new Histogram({
      name: 'sluice_request_duration_seconds',
      help: 'HTTP request duration, by route and status.',
      labelNames: ['route', 'status'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 30, 60, 120],
      registers,
    }),
    queueBytes: new Gauge({
      name: 'sluice_queue_bytes',
      help: 'Bytes held by the ingest queue: body bytes being parsed and rows waiting to be stored.',
      registers,
    }),
    queueLength: new Gauge({
      name: 'sluice_queue_length',
      help: 'Ingest requests admitted and not yet answered.',
      registers,
    }),
    batchesFlushed: new Counter({
      name: 'sluice_batches_flushed_total',
      help: 'Batches flushed, by stream and reason (rows, bytes, age, request_end, pressure, shutdown).',
      labelNames: ['stream', 'reason'] as const,
      registers,
    }),
    filesWritten: new Counter({
      name: 'sluice_files_written_total',
      help: 'Parquet files committed to the object store, by stream.',
      labelNames: ['stream'] as const,
      registers,
    }),
    uploadDuration: new Histogram({
      name: 'sluice_upload_duration_seconds',
      help: 'Time to commit one Parquet file to the object store, retries included.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    failedUploads: new Counter({
      name: 'sluice_failed_uploads_total',
      help: 'Parquet files that could not be stored after every retry.',
      registers,
    }),
    uploadRetries: new Counter({
      name: 'sluice_upload_retries_total',
      help: 'Object store upload attempts that were retries.',
      registers,
    }),
    clickhouseRows: new Counter({
      name: 'sluice_clickhouse_rows_total',
      help: 'Rows inserted into ClickHouse, by stream.',
      labelNames: ['stream'] as const,
      registers,
    }),
    clickhouseInsertDuration: new Histogram({
      name: 'sluice_clickhouse_insert_duration_seconds',
      help: 'Time to insert one file into ClickHouse.',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    clickhouseFailures: new Counter({
      name: 'sluice_clickhouse_failures_total',
      help: 'Failed attempts to insert a file into ClickHouse (the file is retried).',
      registers,
    }),
    clickhousePendingFiles: new Gauge({
      name: 'sluice_clickhouse_pending_files',
      help: 'Files stored as Parquet and not yet inserted into ClickHouse.',
      registers,
    }),
    orphansRemoved: new Counter({
      name: 'sluice_orphans_removed_total',
      help: 'Objects deleted by the janitor because their manifest row was never committed.',
      registers,
    }),
    clickhouseFailedFiles: new Gauge({
      name: 'sluice_clickhouse_failed_files',
      help: 'Committed files that ClickHouse refused CLICKHOUSE_MAX_ATTEMPTS times: they wait for an operator to retry them.',
      registers,
    }),
    deltaVersions: new Counter({
      name: 'sluice_delta_versions_total',
      help: "Versions written to (or found and recorded in) the streams' Delta logs.",
      labelNames: ['stream'] as const,
      registers,
    }),
    deltaAdds: new Counter({
      name: 'sluice_delta_files_added_total',
      help: "Files added to the streams' Delta tables.",
      labelNames: ['stream'] as const,
      registers,
    }),
    quarantinedRows: new Counter({
      name: 'sluice_quarantined_rows_total',
      help: "Rejected rows stored in the streams' quarantine tables.",
      labelNames: ['stream'] as const,
      registers,
    }),
    quarantineDropped: new Counter({
      name: 'sluice_quarantine_dropped_rows_total',
      help: 'Rejected rows not stored in the quarantine (past QUARANTINE_BUFFER_BYTES waiting); their answers still report them.',
      labelNames: ['stream'] as const,
      registers,
    }),
    partitionFallbackRows: new Counter({
      name: 'sluice_partition_fallback_rows_total',
      help: 'Rows of streams partitioned by event time placed by ingest time: their partition column was null or out of range.',
      labelNames: ['stream'] as const,
      registers,
    }),
    lakeCompactions: new Counter({
      name: 'sluice_compactions_total',
      help: 'Compactions committed: small files of a partition rewritten as one.',
      labelNames: ['stream'] as const,
      registers,
    }),
    lakeCompactedFiles: new Counter({
      name: 'sluice_compacted_files_total',
      help: 'Small files replaced by compaction.',
      labelNames: ['stream'] as const,
      registers,
    }),
    lakeVacuumedFiles: new Counter({
      name: 'sluice_vacuumed_files_total',
      help: 'Removed files (compacted, or past retention) deleted from the store after LAKE_VACUUM_HOURS.',
      registers,
    }),
    rejectedRequests: new Counter({
      name: 'sluice_requests_rejected_total',
      help: 'Ingest requests refused before reading the body, by reason (busy, too_many_requests, shutting_down).',
      labelNames: ['reason'] as const,
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
