/** Messages between the main thread and the pipeline workers. Buffers are transferred, never copied. */
import type { StreamSchema } from '@sluice/shared';
import type { CompactOptions } from '../lake/compact-files';
import type { EncodeOptions } from './parquet-encode';
import type { ParsedChunk } from './parse/columns';
import type { ParseOptions, QuarantinedRow, RowError } from './parse/record-sink';

/** `arrow`: an Arrow IPC stream (parse/arrow-parser.ts). */
export type BodyFormat = 'csv' | 'ndjson' | 'arrow';

export type ToWorker =
  | { kind: 'open'; session: number; format: BodyFormat; options: ParseOptions }
  | { kind: 'data'; session: number; bytes: Uint8Array }
  | { kind: 'end'; session: number }
  | { kind: 'abort'; session: number }
  /** Load the encoder now, so that the first batch does not wait for it. */
  | { kind: 'warm' }
  | { kind: 'encode'; job: number; schema: StreamSchema; chunks: ParsedChunk[]; options: EncodeOptions }
  /** An Arrow IPC stream written as Parquet as it is (the Delta log's checkpoints). */
  | { kind: 'ipc-to-parquet'; job: number; ipc: Uint8Array }
  /** Small Parquet files (local paths) rewritten as one (lake/compact-files.ts). */
  | { kind: 'compact'; job: number; schema: StreamSchema; inputs: string[]; output: string; options: CompactOptions };

/** A Parquet file encoded from a batch, its rows, its Delta statistics when asked for, its event-time partition when split. */
export interface EncodedFile {
  parquet: Uint8Array;
  rows: number;
  stats?: string;
  /** `dt=…/hour=…` or `dt=…`; null when the batch goes by ingest time. */
  partition: string | null;
}

export interface ParseProgress {
  session: number;
  /** Body bytes fully processed since the last message. */
  consumed: number;
  chunks: ParsedChunk[];
  errors: RowError[];
  /** Rejected rows with their text, for the quarantine table (ParseOptions.maxQuarantinedRows). */
  quarantined: QuarantinedRow[];
  accepted: number;
  rejected: number;
  /** Accepted rows not stored again (ParseOptions.skipLines). */
  skipped: number;
  /** Lines read so far. */
  lines: number;
  /** The body block just parsed, handed back to be filled again (no allocation per block). */
  spent?: ArrayBuffer;
}

export type FromWorker =
  | ({ kind: 'progress' } & ParseProgress)
  | ({ kind: 'done' } & ParseProgress)
  /** `internal`: the parser itself failed (a bug), not the body: answered 500, not 400. */
  | { kind: 'failed'; session: number; message: string; line: number; column: string | null; internal?: boolean }
  /** `stats`: the file's Delta statistics (JSON), when asked for. */
  /** `files`: one, or one per partition when the batch was split by event time (`fallbackRows` placed by ingest time). */
  | { kind: 'encoded'; job: number; files: EncodedFile[]; fallbackRows: number }
  | { kind: 'encode-failed'; job: number; message: string }
  | { kind: 'compacted'; job: number; rows: number; bytes: number }
  | { kind: 'compact-failed'; job: number; message: string }
  /** Something the service's log should say (the worker has no logger). */
  | { kind: 'warning'; message: string }
  /** The worker has loaded its modules and takes messages. */
  | { kind: 'loaded' };

/** The buffers of parsed chunks, for postMessage's transfer list. */
export function chunkTransferList(chunks: ParsedChunk[]): ArrayBuffer[] {
  return chunks.map((chunk) => chunk.buffer);
}
