/** Test helpers: run a parser over a body in chunks of a chosen size and read the rows back through Arrow. */
import type { Column } from '@sluice/shared';
import { Table } from 'apache-arrow';
import { toRecordBatches } from '../pipeline/arrow-batch';
import type { ParsedChunk } from '../pipeline/parse/columns';
import { CsvParser } from '../pipeline/parse/csv-parser';
import { NdjsonParser } from '../pipeline/parse/ndjson-parser';
import type { ParseOptions, RowError } from '../pipeline/parse/record-sink';

export function parseOptions(columns: Column[], overrides: Partial<ParseOptions> = {}): ParseOptions {
  return {
    columns,
    delimiter: ',',
    unknownColumns: 'ignore',
    allowNonFinite: false,
    maxLineBytes: 1 << 20,
    maxFields: 1000,
    chunkRows: 4,
    chunkBytes: 1 << 20,
    maxReportedErrors: 100,
    ...overrides,
  };
}

export interface ParseResult {
  rows: Record<string, unknown>[];
  errors: RowError[];
  accepted: number;
  rejected: number;
  chunks: ParsedChunk[];
}

/** Parses `body` fed in pieces of `pieceSize` bytes (1 exercises every chunk boundary). */
export function parse(
  format: 'csv' | 'ndjson',
  body: string | Uint8Array,
  columns: Column[],
  overrides: Partial<ParseOptions> = {},
  pieceSize = 1 << 16,
): ParseResult {
  const options = parseOptions(columns, overrides);
  return parseWith(format === 'csv' ? new CsvParser(options) : new NdjsonParser(options), body, columns, pieceSize);
}

/** The same with a parser of the caller's making. */
export function parseWith(
  parser: CsvParser | NdjsonParser,
  body: string | Uint8Array,
  columns: Column[],
  pieceSize = 1 << 16,
): ParseResult {
  const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  const chunks: ParsedChunk[] = [];
  const errors: RowError[] = [];
  for (let at = 0; at < bytes.length; at += pieceSize) {
    parser.push(bytes.slice(at, at + pieceSize));
    chunks.push(...parser.sink.takeChunks());
    errors.push(...parser.sink.takeErrors());
  }
  parser.end();
  chunks.push(...parser.sink.takeChunks());
  errors.push(...parser.sink.takeErrors());
  return {
    rows: rowsOf(columns, chunks),
    errors,
    accepted: parser.sink.rowsAccepted,
    rejected: parser.sink.rowsRejected,
    chunks,
  };
}

export function rowsOf(columns: Column[], chunks: ParsedChunk[]): Record<string, unknown>[] {
  return valuesOf(columns, chunks).map((values) => Object.fromEntries(columns.map((column, c) => [column.name, values[c]])));
}

/** Each row as its values in column order (read by position: any column name, even __proto__, is safe). */
export function valuesOf(columns: Column[], chunks: ParsedChunk[]): unknown[][] {
  const { schema, batches } = toRecordBatches({ columns }, chunks);
  const table = new Table(schema, batches);
  const vectors = columns.map((_, c) => table.getChildAt(c)!);
  return Array.from({ length: table.numRows }, (_, r) => vectors.map((vector) => vector.get(r)));
}
