/**
 * A stream's definition as the admin API and the console accept it: name, schema, batching, policies, sinks.
 */
import { z } from 'zod';
import { streamSchemaSchema, IDENTIFIER_PATTERN } from './schema';

/** Stream names appear in object keys, URLs and ClickHouse table names, so they are kept plain. */
export const STREAM_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,62}$/;

export const REJECT_MODES = ['skip', 'all-or-nothing'] as const;
export type RejectMode = (typeof REJECT_MODES)[number];

export const UNKNOWN_COLUMN_POLICIES = ['ignore', 'reject'] as const;
export type UnknownColumnPolicy = (typeof UNKNOWN_COLUMN_POLICIES)[number];

export const DELIMITERS = [',', ';', '\t', '|'] as const;

/**
 * Defaults sized for the 300 MB memory target: a flush of 200k rows of a typical 8-column table is
 * ~20 MB of column buffers and a ~8 MB Parquet file. The age bounds a small producer's wait: measured
 * with `npm run bench:lake` (BENCHMARKS.md), one producer of 1,000-row requests got ~1,000 rows/s at 1 s
 * and ~9,400 at 100 ms, and 100 producers at once lost nothing (~150,000 rows/s at 1 s, ~218,000 at
 * 100 ms); the small files that makes are compaction's to merge.
 */
export const DEFAULT_BATCH = { maxRows: 100_000, maxBytes: 16 * 1024 * 1024, maxAgeMs: 100 } as const;

export const batchSettingsSchema = z.object({
  maxRows: z.number().int().min(1).max(10_000_000).default(DEFAULT_BATCH.maxRows),
  maxBytes: z
    .number()
    .int()
    .min(1024)
    .max(1024 * 1024 * 1024)
    .default(DEFAULT_BATCH.maxBytes),
  maxAgeMs: z.number().int().min(10).max(3_600_000).default(DEFAULT_BATCH.maxAgeMs),
});
export type BatchSettings = z.output<typeof batchSettingsSchema>;

export const clickhouseSinkSchema = z.object({
  table: z.string().regex(IDENTIFIER_PATTERN, 'table must be a plain identifier').max(63),
  orderBy: z.array(z.string().regex(IDENTIFIER_PATTERN)).optional(),
});

export const sinksSchema = z.object({ clickhouse: clickhouseSinkSchema.optional() }).default({});
export type Sinks = z.output<typeof sinksSchema>;

/**
 * Which time a row's partition (`dt=…/hour=…/` or `dt=…/`) follows: when it was ingested, or a timestamp or
 * date column of its own (event time). Set when the stream is created.
 */
export const partitioningSchema = z
  .object({
    source: z.string().min(1).max(63).default('ingest'),
    granularity: z.enum(['day', 'hour']).default('hour'),
  })
  .default({ source: 'ingest', granularity: 'hour' });
export type Partitioning = z.output<typeof partitioningSchema>;

export const streamDefinitionSchema = z
  .object({
    name: z.string().regex(STREAM_NAME_PATTERN, 'stream name must start with a-z and contain only a-z, 0-9, _ and - (max 63)'),
    description: z.string().max(1000).default(''),
    schema: streamSchemaSchema,
    batch: batchSettingsSchema.default(DEFAULT_BATCH),
    rejectMode: z.enum(REJECT_MODES).default('skip'),
    unknownColumns: z.enum(UNKNOWN_COLUMN_POLICIES).default('ignore'),
    delimiter: z.enum(DELIMITERS).default(','),
    allowNonFinite: z.boolean().default(false),
    sinks: sinksSchema,
    /** Days of data kept: older partitions (by their `dt`) are removed from the table, then vacuumed. Null: kept. */
    retentionDays: z.number().int().min(1).max(36_500).nullable().default(null),
    partitioning: partitioningSchema,
  })
  .superRefine((stream, ctx) => {
    const { source, granularity } = stream.partitioning;
    if (source !== 'ingest') {
      const column = stream.schema.columns.find((c) => c.name === source);
      if (!column || (column.type !== 'timestamp' && column.type !== 'date')) {
        ctx.addIssue({
          code: 'custom',
          path: ['partitioning', 'source'],
          message: `partitioning.source must be "ingest" or a timestamp or date column; "${source}" is not`,
        });
      } else if (column.type === 'date' && granularity === 'hour') {
        ctx.addIssue({ code: 'custom', path: ['partitioning', 'granularity'], message: `"${source}" is a date: partition it by day` });
      }
    }
    // ClickHouse needs ORDER BY columns that exist and are not Nullable.
    for (const name of stream.sinks.clickhouse?.orderBy ?? []) {
      const column = stream.schema.columns.find((c) => c.name === name);
      if (!column) ctx.addIssue({ code: 'custom', path: ['sinks', 'clickhouse', 'orderBy'], message: `"${name}" is not a column` });
      else if (column.nullable) {
        ctx.addIssue({
          code: 'custom',
          path: ['sinks', 'clickhouse', 'orderBy'],
          message: `"${name}" is nullable and cannot order a ClickHouse table`,
        });
      }
    }
  });

export type StreamDefinition = z.output<typeof streamDefinitionSchema>;
export type StreamDefinitionInput = z.input<typeof streamDefinitionSchema>;
