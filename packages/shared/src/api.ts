/** The JSON shapes of the HTTP APIs, shared by the ingest service, the console and the tests. */
import { z } from 'zod';
import type { RowErrorCode } from './errors';
import type { StreamSchema } from './schema';
import {
  STREAM_NAME_PATTERN,
  type BatchSettings,
  type Partitioning,
  type RejectMode,
  type Sinks,
  type UnknownColumnPolicy,
} from './stream';

export interface StreamDto {
  id: string;
  name: string;
  description: string;
  schemaVersion: number;
  schema: StreamSchema;
  batch: BatchSettings;
  rejectMode: RejectMode;
  unknownColumns: UnknownColumnPolicy;
  delimiter: string;
  allowNonFinite: boolean;
  sinks: Sinks;
  retentionDays: number | null;
  partitioning: Partitioning;
  createdAt: string;
  updatedAt: string;
}

export interface SchemaVersionDto {
  version: number;
  schema: StreamSchema;
  createdAt: string;
}

/**
 * What a key may do on its streams: `ingest` posts rows, `read` lists and previews files. A key made for
 * producers gets `ingest` only, so a leaked producer key does not also hand out the stream's data.
 */
export const API_KEY_SCOPES = ['ingest', 'read'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];
export const DEFAULT_API_KEY_SCOPES: ApiKeyScope[] = ['ingest'];

export const apiKeyCreateSchema = z.object({
  name: z.string().trim().min(1, 'a key needs a name').max(100),
  streams: z.union([
    z.literal('*'),
    z.array(z.string().regex(STREAM_NAME_PATTERN, 'not a stream name')).min(1, 'choose at least one stream, or "*"'),
  ]),
  scopes: z
    .array(z.enum(API_KEY_SCOPES, { error: 'a scope is "ingest" or "read"' }))
    .min(1, 'choose at least one scope')
    // Stored in a fixed order without repeats, so two keys with the same rights list the same scopes.
    .transform((scopes) => API_KEY_SCOPES.filter((scope) => scopes.includes(scope)))
    .default(DEFAULT_API_KEY_SCOPES),
});
export type ApiKeyCreateInput = z.input<typeof apiKeyCreateSchema>;

export interface ApiKeyDto {
  id: string;
  name: string;
  start: string;
  streams: string[] | '*';
  scopes: string[];
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
  status: 'active' | 'revoked';
}

export interface CreatedApiKeyDto extends ApiKeyDto {
  /** The plaintext key: returned once, at creation, and never stored. */
  key: string;
}

export interface DataFileDto {
  id: string;
  stream: string;
  schemaVersion: number;
  key: string;
  rows: number;
  bytes: number;
  createdAt: string;
  clickhouseStatus: 'skipped' | 'pending' | 'done' | 'failed';
}

export interface RowErrorDto {
  line: number;
  column: string | null;
  code: RowErrorCode;
  message: string;
}

export interface IngestResultDto {
  stream: string;
  /** Rows stored: with an Idempotency-Key, those stored by earlier attempts of the key included. */
  rowsAccepted: number;
  /** Of rowsAccepted, the rows earlier attempts with the same Idempotency-Key stored (0 without a key). */
  rowsAlreadyStored: number;
  rowsRejected: number;
  /** The first 100 rejected rows. */
  errors: RowErrorDto[];
  /** Object keys of the files holding this request's rows. */
  files: string[];
  requestId: string;
}

export interface FilePreviewDto {
  key: string;
  bytes: number;
  rows: number;
  createdBy: string | null;
  metadata: Record<string, string>;
  columns: { name: string; physicalType: string; logicalType: string | null; nullable: boolean }[];
  rowGroups: { index: number; rows: number; bytes: number; compressedBytes: number }[];
  /** The first rows, as JSON-friendly values (int64 as strings, timestamps as ISO strings). */
  rowsPreview: Record<string, string | number | boolean | null>[];
}

export const MAX_REPORTED_ERRORS = 100;

/** A rejected row as the quarantine table holds it (GET /v1/streams/:stream/quarantine). */
export interface QuarantineRowDto {
  requestId: string;
  keyId: string | null;
  line: number;
  column: string | null;
  code: string;
  message: string;
  /** The line as sent, cut at 64 KiB; null for a line too long to have been held. */
  raw: string | null;
  rejectedAt: string;
}

export interface QuarantinePageDto {
  rows: QuarantineRowDto[];
  /** Rows in the quarantine table, whatever the filter. */
  totalRows: number;
  /** Pass back as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}
