/**
 * The ingest service's configuration: parsed from the environment once, here, into a typed object.
 * Nothing else reads process.env. Every limit is documented in the README with its default.
 */
import os from 'node:os';
import { z } from 'zod';
import type { ZstdRoute } from './pipeline/parquet-encode';
import type { S3StoreOptions } from './sinks/s3-store';

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((value) => value === 'true' || value === '1' || value === 'yes');
const int = (min: number) => z.coerce.number().int().min(min);
const MiB = 1024 * 1024;

const envSchema = z.object({
  REPLICA_ID: z
    .string()
    .regex(/^[\w.-]{1,100}$/, 'REPLICA_ID is 1 to 100 letters, digits, _, . or -')
    .optional(),
  INGEST_HOST: z.string().default('127.0.0.1'),
  INGEST_PORT: int(0).max(65535).default(8080),
  DATABASE_URL: z.string().url('DATABASE_URL must be a postgresql:// URL'),
  DATABASE_POOL_MAX: int(1).max(100).default(10),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  INGEST_SHUTDOWN_TIMEOUT_MS: int(0).default(30_000),
  INGEST_TRUST_PROXY: bool.default(false),
  SLUICE_ADMIN_TOKEN: z.string().min(16, 'SLUICE_ADMIN_TOKEN must be at least 16 characters').optional(),

  LAKE_DIR: z.string().default('./data/lake'),
  S3_BUCKET: z.string().optional(),
  S3_ENDPOINT: z.string().url().optional(),
  S3_REGION: z.string().default('us-east-1'),
  S3_ACCESS_KEY_ID: z.string().optional(),
  S3_SECRET_ACCESS_KEY: z.string().optional(),
  S3_FORCE_PATH_STYLE: bool.default(false),
  S3_MULTIPART_THRESHOLD_BYTES: int(5 * MiB).default(16 * MiB),
  S3_REQUEST_TIMEOUT_MS: int(100).default(30_000),
  SINK_RETRY_ATTEMPTS: int(1).max(50).default(8),
  SINK_RETRY_BASE_MS: int(1).default(250),
  SINK_RETRY_MAX_MS: int(1).default(8_000),

  CLICKHOUSE_URL: z.string().url().optional(),
  CLICKHOUSE_USER: z.string().default('default'),
  CLICKHOUSE_PASSWORD: z.string().default(''),
  CLICKHOUSE_DATABASE: z.string().default('default'),
  CLICKHOUSE_POLL_MS: int(50).default(2_000),
  CLICKHOUSE_REQUEST_TIMEOUT_MS: int(100).default(60_000),
  CLICKHOUSE_MAX_ATTEMPTS: int(1).default(10),
  CLICKHOUSE_RETRY_BASE_MS: int(1).default(1_000),
  CLICKHOUSE_RETRY_MAX_MS: int(1).default(300_000),

  MAX_BODY_BYTES: int(1).default(16 * 1024 * MiB),
  MAX_LINE_BYTES: int(16).default(MiB),
  MAX_FIELDS: int(1).max(100_000).default(2_000),
  QUEUE_MAX_BYTES: int(MiB).default(64 * MiB),
  QUEUE_HIGH_WATER: z.coerce.number().gt(0).max(1).default(0.8),
  INGEST_RETRY_AFTER_SECONDS: int(1).default(1),
  INGEST_IDLE_TIMEOUT_MS: int(100).default(60_000),
  INGEST_MAX_CONNECTIONS: int(1).default(1_024),
  INGEST_MAX_REQUESTS: int(1).default(256),
  INGEST_MAX_REQUESTS_PER_KEY: int(1).default(64),
  MAX_INFLATION_RATIO: z.coerce.number().min(1).default(100),
  METRICS_PORT: int(0).max(65535).optional(),
  METRICS_TOKEN: z.string().min(16, 'METRICS_TOKEN must be at least 16 characters').optional(),
  PIPELINE_WORKERS: int(1).max(64).default(os.availableParallelism()),
  ENCODE_WORKERS: int(1).max(64).optional(),
  PARQUET_ROW_GROUP_ROWS: int(1024).default(1024 * 1024),
  PARQUET_ZSTD: z.enum(['native', 'wasm']).default('native'),
  KEY_CACHE_TTL_MS: int(0).max(5_000).default(2_000),
  KEY_FAILURE_LIMIT: int(1).default(20),
  KEY_FAILURE_WINDOW_MS: int(100).default(10_000),
  PREVIEW_MAX_CONCURRENT: int(1).default(4),
  PREVIEW_MAX_BYTES_WITHOUT_INDEX: int(0).default(64 * MiB),
  STREAM_CACHE_TTL_MS: int(0).default(2_000),
  ORPHAN_GRACE_MINUTES: z.coerce.number().min(0).default(30),
  IDEMPOTENCY_LEASE_MS: int(100).default(15_000),
  IDEMPOTENCY_TTL_HOURS: z.coerce.number().positive().default(24),
  DELTA_LOG: z.enum(['on', 'off']).default('on'),
  DELTA_CHECKPOINT_INTERVAL: int(0).default(100),
  DELTA_LOG_LEASE_MS: int(100).default(30_000),
  DELTA_LOG_POLL_MS: int(50).default(5_000),
  DELTA_COMMIT_DELAY_MS: int(0).default(1_000),
  QUARANTINE_MAX_ROWS: int(0).default(10_000),
  QUARANTINE_BUFFER_BYTES: int(0).default(32 * MiB),
  COMPACTION: z.enum(['on', 'off']).default('on'),
  COMPACTION_TARGET_BYTES: int(1024).default(128 * MiB),
  COMPACTION_MIN_FILES: int(2).default(16),
  COMPACTION_DELAY_MINUTES: z.coerce.number().min(0).default(10),
  COMPACTION_INTERVAL_MS: int(100).default(60_000),
  LAKE_VACUUM_HOURS: z.coerce.number().min(0).default(24),
  FLIGHT: z.enum(['on', 'off']).default('on'),
  FLIGHT_HOST: z.string().optional(),
  FLIGHT_PORT: int(0).max(65535).default(8815),
  FLIGHT_MAX_MESSAGE_BYTES: int(64 * 1024)
    .max(1024 * MiB)
    .default(64 * MiB),
});

export type Env = z.input<typeof envSchema>;

export interface Config {
  /** This replica's name, in /healthz and the sluice_replica_info metric (REPLICA_ID; default: host name and pid). */
  replicaId: string;
  host: string;
  port: number;
  databaseUrl: string;
  databasePoolMax: number;
  logLevel: z.output<typeof envSchema>['LOG_LEVEL'];
  shutdownTimeoutMs: number;
  trustProxy: boolean;
  adminToken: string | null;
  store: { kind: 'local'; dir: string } | ({ kind: 's3' } & S3StoreOptions);
  sinkRetry: { attempts: number; baseMs: number; maxMs: number };
  clickhouse: {
    url: string;
    username: string;
    password: string;
    database: string;
    pollMs: number;
    requestTimeoutMs: number;
    maxAttempts: number;
    retryBaseMs: number;
    retryMaxMs: number;
  } | null;
  limits: { maxBodyBytes: number; maxLineBytes: number; maxFields: number; maxInflationRatio: number };
  queue: { maxBytes: number; highWater: number; retryAfterSeconds: number };
  /** Slow and many clients: body idle timeout, open sockets, concurrent ingest requests. */
  connections: { idleTimeoutMs: number; maxConnections: number; maxRequests: number; maxRequestsPerKey: number };
  /** /metrics on its own port when `port` is set (else the ingest port), behind a bearer token when set. */
  metrics: { port: number | null; token: string | null };
  pipelineWorkers: number;
  /** How many of the pipeline workers also encode Parquet (at most all of them). */
  encodeWorkers: number;
  rowGroupRows: number;
  parquetZstd: ZstdRoute;
  keyCacheTtlMs: number;
  /** Unknown-key lookups an address may fail per window before it gets 429. */
  keyFailures: { limit: number; windowMs: number };
  /** File previews: how many at once per process, and the largest file read without an offset index. */
  preview: { maxConcurrent: number; maxBytesWithoutIndex: number };
  streamCacheTtlMs: number;
  /** How long a manifest row may stay `writing` before its object counts as an orphan. */
  orphanGraceMs: number;
  /** Idempotency-Key: the lease an attempt holds (renewed while it runs), and how long a key is kept. */
  idempotency: { leaseMs: number; ttlHours: number };
  /**
   * Each stream's Delta Lake log, written from the manifest (null: off): the lease on a stream's log, how
   * often streams are checked for files not yet in their log, and a checkpoint every `checkpointInterval`
   * versions (0: none).
   */
  deltaLog: { leaseMs: number; pollMs: number; commitDelayMs: number; checkpointInterval: number } | null;
  /** Rejected rows stored per request (0: none), and the most bytes of them waiting in the process. */
  quarantine: { maxRowsPerRequest: number; bufferBytes: number };
  /** Compaction, retention and vacuum (lake/compactor.ts): in the background unless COMPACTION=off; on demand always. */
  compaction: { background: boolean; targetBytes: number; minFiles: number; delayMs: number; intervalMs: number; vacuumMs: number };
  /**
   * The Arrow Flight endpoint (null: off; flight/flight-server.ts), and the largest Arrow IPC message taken
   * over Flight or HTTP (a record batch with its metadata).
   */
  flight: { host: string; port: number } | null;
  maxArrowMessageBytes: number;
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty variables count as unset (docker-compose passes `FOO:` as "").
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`).join('\n');
    throw new Error(`Invalid ingest configuration:\n${problems}`);
  }
  const e = parsed.data;
  return {
    replicaId: e.REPLICA_ID ?? `${os.hostname()}-${process.pid}`,
    host: e.INGEST_HOST,
    port: e.INGEST_PORT,
    databaseUrl: e.DATABASE_URL,
    databasePoolMax: e.DATABASE_POOL_MAX,
    logLevel: e.LOG_LEVEL,
    shutdownTimeoutMs: e.INGEST_SHUTDOWN_TIMEOUT_MS,
    trustProxy: e.INGEST_TRUST_PROXY,
    adminToken: e.SLUICE_ADMIN_TOKEN ?? null,
    store: e.S3_BUCKET
      ? {
          kind: 's3',
          bucket: e.S3_BUCKET,
          endpoint: e.S3_ENDPOINT,
          region: e.S3_REGION,
          accessKeyId: e.S3_ACCESS_KEY_ID,
          secretAccessKey: e.S3_SECRET_ACCESS_KEY,
          forcePathStyle: e.S3_FORCE_PATH_STYLE,
          multipartThreshold: e.S3_MULTIPART_THRESHOLD_BYTES,
          requestTimeoutMs: e.S3_REQUEST_TIMEOUT_MS,
        }
      : { kind: 'local', dir: e.LAKE_DIR },
    clickhouse: e.CLICKHOUSE_URL
      ? {
          url: e.CLICKHOUSE_URL,
          username: e.CLICKHOUSE_USER,
          password: e.CLICKHOUSE_PASSWORD,
          database: e.CLICKHOUSE_DATABASE,
          pollMs: e.CLICKHOUSE_POLL_MS,
          requestTimeoutMs: e.CLICKHOUSE_REQUEST_TIMEOUT_MS,
          maxAttempts: e.CLICKHOUSE_MAX_ATTEMPTS,
          retryBaseMs: e.CLICKHOUSE_RETRY_BASE_MS,
          retryMaxMs: e.CLICKHOUSE_RETRY_MAX_MS,
        }
      : null,
    sinkRetry: { attempts: e.SINK_RETRY_ATTEMPTS, baseMs: e.SINK_RETRY_BASE_MS, maxMs: e.SINK_RETRY_MAX_MS },
    limits: {
      maxBodyBytes: e.MAX_BODY_BYTES,
      maxLineBytes: e.MAX_LINE_BYTES,
      maxFields: e.MAX_FIELDS,
      maxInflationRatio: e.MAX_INFLATION_RATIO,
    },
    connections: {
      idleTimeoutMs: e.INGEST_IDLE_TIMEOUT_MS,
      maxConnections: e.INGEST_MAX_CONNECTIONS,
      maxRequests: e.INGEST_MAX_REQUESTS,
      maxRequestsPerKey: e.INGEST_MAX_REQUESTS_PER_KEY,
    },
    metrics: { port: e.METRICS_PORT ?? null, token: e.METRICS_TOKEN ?? null },
    queue: {
      maxBytes: e.QUEUE_MAX_BYTES,
      highWater: Math.floor(e.QUEUE_MAX_BYTES * e.QUEUE_HIGH_WATER),
      retryAfterSeconds: e.INGEST_RETRY_AFTER_SECONDS,
    },
    pipelineWorkers: e.PIPELINE_WORKERS,
    // Half the workers encode unless told otherwise: measured on 2 cores (npm run bench:ingest), a second
    // encoder cost ~60 MB of peak RSS (its own parquet-wasm memory, more batches in flight), past the 300 MB
    // target, for a gain within the machine's noise, since parsing needs the same cores.
    encodeWorkers: Math.min(e.ENCODE_WORKERS ?? Math.max(1, Math.floor(e.PIPELINE_WORKERS / 2)), e.PIPELINE_WORKERS),
    rowGroupRows: e.PARQUET_ROW_GROUP_ROWS,
    parquetZstd: e.PARQUET_ZSTD,
    keyCacheTtlMs: e.KEY_CACHE_TTL_MS,
    keyFailures: { limit: e.KEY_FAILURE_LIMIT, windowMs: e.KEY_FAILURE_WINDOW_MS },
    preview: { maxConcurrent: e.PREVIEW_MAX_CONCURRENT, maxBytesWithoutIndex: e.PREVIEW_MAX_BYTES_WITHOUT_INDEX },
    streamCacheTtlMs: e.STREAM_CACHE_TTL_MS,
    orphanGraceMs: e.ORPHAN_GRACE_MINUTES * 60_000,
    idempotency: { leaseMs: e.IDEMPOTENCY_LEASE_MS, ttlHours: e.IDEMPOTENCY_TTL_HOURS },
    deltaLog:
      e.DELTA_LOG === 'on'
        ? {
            leaseMs: e.DELTA_LOG_LEASE_MS,
            pollMs: e.DELTA_LOG_POLL_MS,
            commitDelayMs: e.DELTA_COMMIT_DELAY_MS,
            checkpointInterval: e.DELTA_CHECKPOINT_INTERVAL,
          }
        : null,
    quarantine: { maxRowsPerRequest: e.QUARANTINE_MAX_ROWS, bufferBytes: e.QUARANTINE_BUFFER_BYTES },
    compaction: {
      background: e.COMPACTION === 'on',
      targetBytes: e.COMPACTION_TARGET_BYTES,
      minFiles: e.COMPACTION_MIN_FILES,
      delayMs: e.COMPACTION_DELAY_MINUTES * 60_000,
      intervalMs: e.COMPACTION_INTERVAL_MS,
      vacuumMs: e.LAKE_VACUUM_HOURS * 3_600_000,
    },
    flight: e.FLIGHT === 'on' ? { host: e.FLIGHT_HOST ?? e.INGEST_HOST, port: e.FLIGHT_PORT } : null,
    maxArrowMessageBytes: e.FLIGHT_MAX_MESSAGE_BYTES,
  };
}
