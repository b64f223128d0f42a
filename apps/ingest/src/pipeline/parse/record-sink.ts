/**
 * What both parsers share: the schema's column builders, row accounting, rejected-row reports and
 * chunk hand-over. A parser maps each record's fields to columns and calls the methods here.
 */
import { ROW_ERRORS, type Column, type RowErrorCode } from '@sluice/shared';
import { ColumnBuilder, finishChunk, type ParsedChunk } from './columns';
import { expectationFor, readerFor, type ValueReader } from './values';

export interface RowError {
  line: number;
  column: string | null;
  code: RowErrorCode;
  message: string;
}

/** Rows a column builder has room for at first. */
const INITIAL_ROWS = 1024;

export interface ParseOptions {
  columns: Column[];
  delimiter: string;
  unknownColumns: 'ignore' | 'reject';
  allowNonFinite: boolean;
  maxLineBytes: number;
  maxFields: number;
  /** Rows per chunk handed over; the batcher needs chunks, not rows. */
  chunkRows: number;
  /** Column bytes per chunk handed over. */
  chunkBytes: number;
  /** Rejected rows reported in full; the rest are only counted. */
  maxReportedErrors: number;
  /**
   * Body lines whose rows are already stored (an earlier attempt of the same Idempotency-Key), sorted and
   * disjoint: their rows are read and checked as usual, counted, and not stored again.
   */
  skipLines?: [from: number, to: number][];
  /**
   * The body arrives in parts cut at line feeds, each parsed on its own (segmented-session.ts; NDJSON
   * only): only the first part may start with a BOM, and an empty part is not an empty body. Line
   * numbers are then counted from the part's start.
   */
  part?: 'first' | 'later';
}

/** Raised for problems that make the whole body unusable (a bad header, broken encoding). */
export class BodyError extends Error {
  constructor(
    readonly code: 'ingest.malformed_body',
    message: string,
    readonly line: number,
    readonly column: string | null = null,
  ) {
    super(message);
  }
}

export class RecordSink {
  readonly builders: ColumnBuilder[];
  readonly readers: ValueReader[];
  readonly columns: Column[];
  rows = 0;
  rowsAccepted = 0;
  rowsRejected = 0;
  /** Accepted rows of lines in skipLines (counted in rowsAccepted too). */
  rowsSkipped = 0;
  readonly errors: RowError[] = [];
  /** The first line the next chunk covers, and the line of the last row written to the builders. */
  private chunkFrom = 1;
  private lastLine = 0;
  /** skipLines, and where the next of them starts (Infinity after the last): one comparison per row. */
  private readonly skip: [number, number][];
  private skipIndex = 0;
  private nextSkip: number;
  private reported = 0;
  private readonly chunks: ParsedChunk[] = [];

  constructor(readonly options: ParseOptions) {
    this.columns = options.columns;
    // Builders start small and grow to the chunk size by doubling: a hundred concurrent small requests
    // each holding room for 8,192 rows per column cost ~20 MB more peak RSS.
    this.builders = options.columns.map((column) => new ColumnBuilder(column.type, Math.min(options.chunkRows, INITIAL_ROWS)));
    this.readers = options.columns.map((column) => readerFor(column.type, options.allowNonFinite));
    this.skip = options.skipLines ?? [];
    this.nextSkip = this.skip[0]?.[0] ?? Number.POSITIVE_INFINITY;
  }

  /** Undo a half-written row (a fast path that gives up on it). */
  discardRow(): void {
    for (const builder of this.builders) builder.truncate(this.rows);
  }

  /** Undo a half-written row and record why it was rejected. */
  reject(line: number, column: string | null, code: RowErrorCode, message: string): void {
    this.discardRow();
    this.rowsRejected++;
    if (this.reported < this.options.maxReportedErrors) {
      this.reported++;
      this.errors.push({ line, column, code, message });
    }
  }

  rejectValue(line: number, index: number, shown: string): void {
    const column = this.columns[index]!;
    this.reject(line, column.name, ROW_ERRORS.invalidValue, `${shown} is not ${expectationFor(column.type, this.options.allowNonFinite)}`);
  }

  rejectNull(line: number, index: number): void {
    const column = this.columns[index]!;
    this.reject(line, column.name, ROW_ERRORS.missingColumn, `column "${column.name}" is required but has no value`);
  }

  /** Every column of the row starting at `line` has been written. */
  accept(line: number): void {
    if (line >= this.nextSkip && this.skipped(line)) {
      this.discardRow();
      this.rowsAccepted++;
      this.rowsSkipped++;
      return;
    }
    this.lastLine = line;
    this.rows++;
    this.rowsAccepted++;
    if (this.rows >= this.options.chunkRows || ((this.rows & 1023) === 0 && this.byteSize() >= this.options.chunkBytes)) {
      this.flushChunk();
    }
  }

  private skipped(line: number): boolean {
    while (this.skipIndex < this.skip.length && this.skip[this.skipIndex]![1] < line) this.skipIndex++;
    const span = this.skip[this.skipIndex];
    this.nextSkip = span ? span[0] : Number.POSITIVE_INFINITY;
    return span !== undefined && span[0] <= line;
  }

  private byteSize(): number {
    let total = 0;
    for (const builder of this.builders) total += builder.byteSize();
    return total;
  }

  flushChunk(): void {
    if (this.rows === 0) return;
    const chunk = finishChunk(this.builders, this.rows);
    // The lines from the end of the last chunk to this one's last row: every row read in them is in this
    // chunk, rejected, or skipped (stored before).
    chunk.fromLine = this.chunkFrom;
    chunk.toLine = this.lastLine;
    this.chunkFrom = this.lastLine + 1;
    this.chunks.push(chunk);
    this.rows = 0;
  }

  /** Chunks completed since the last call. */
  takeChunks(): ParsedChunk[] {
    return this.chunks.splice(0);
  }

  takeErrors(): RowError[] {
    return this.errors.splice(0);
  }
}
