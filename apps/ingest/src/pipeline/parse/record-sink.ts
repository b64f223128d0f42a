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

/** A rejected row as the quarantine table stores it: its report and its text. */
export interface QuarantinedRow extends RowError {
  /** The line as sent (its line break left out), cut at QUARANTINE_RAW_BYTES; null for a line too long to have been held. */
  raw: string | null;
}

/** How much of a rejected line the quarantine keeps. */
export const QUARANTINE_RAW_BYTES = 64 * 1024;

/** Rows a column builder has room for at first. */
const INITIAL_ROWS = 1024;

export interface ParseOptions {
  columns: Column[];
  delimiter: string;
  unknownColumns: 'ignore' | 'reject';
  allowNonFinite: boolean;
  maxLineBytes: number;
  maxFields: number;
  /** The largest Arrow IPC message (a record batch with its metadata) taken, in bytes (FLIGHT_MAX_MESSAGE_BYTES). */
  maxMessageBytes?: number;
  /** Rows per chunk handed over; the batcher needs chunks, not rows. */
  chunkRows: number;
  /** Column bytes per chunk handed over. */
  chunkBytes: number;
  /** Rejected rows reported in full; the rest are only counted. */
  maxReportedErrors: number;
  /** Rejected rows kept with their text for the quarantine table (0: none); the rest are only counted. */
  maxQuarantinedRows?: number;
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
  readonly quarantined: QuarantinedRow[] = [];
  private quarantinedCount = 0;
  /** The record being read on the general path (the only one that rejects): its bytes, for the quarantine. */
  private recordBuf: Uint8Array | null = null;
  private recordStart = 0;
  private recordEnd = 0;
  private recordLine = 0;
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });

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

  /** The general path is reading the record at buf[start, end) starting at `line`: a rejection keeps its text. */
  record(buf: Uint8Array, start: number, end: number, line: number): void {
    this.recordBuf = buf;
    this.recordStart = start;
    this.recordEnd = end;
    this.recordLine = line;
  }

  /** Undo a half-written row and record why it was rejected. */
  reject(line: number, column: string | null, code: RowErrorCode, message: string): void {
    this.discardRow();
    this.rowsRejected++;
    if (this.reported < this.options.maxReportedErrors) {
      this.reported++;
      this.errors.push({ line, column, code, message });
    }
    if (this.quarantinedCount < (this.options.maxQuarantinedRows ?? 0)) {
      this.quarantinedCount++;
      this.quarantined.push({ line, column, code, message, raw: this.rawOf(line) });
    }
  }

  /** The text of the rejected record at `line`, if the general path holds it. */
  private rawOf(line: number): string | null {
    const buf = this.recordBuf;
    if (buf === null || this.recordLine !== line) return null;
    let end = this.recordEnd;
    while (end > this.recordStart && (buf[end - 1] === 0x0a || buf[end - 1] === 0x0d)) end--;
    // Cut at a character boundary: continuation bytes (10xxxxxx) are not where a character starts.
    if (end - this.recordStart > QUARANTINE_RAW_BYTES) {
      end = this.recordStart + QUARANTINE_RAW_BYTES;
      while (end > this.recordStart && (buf[end]! & 0xc0) === 0x80) end--;
    }
    return this.decoder.decode(buf.subarray(this.recordStart, end));
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

  // For a columnar reader (arrow-parser.ts), which hands whole chunks over instead of writing rows.

  /** Whether a rejected row's text would be kept (its rendering is worth making). */
  keepsRaw(): boolean {
    return this.quarantinedCount < (this.options.maxQuarantinedRows ?? 0);
  }

  /** The last line of the skipped span `line` lies in, or 0 when it lies in none. */
  skippedThrough(line: number): number {
    return line >= this.nextSkip && this.skipped(line) ? this.skip[this.skipIndex]![1] : 0;
  }

  /** The first line of the next skipped span at or after the line last asked about (Infinity if none). */
  get nextSkippedLine(): number {
    return this.nextSkip;
  }

  /** Rows read, valid, and stored by an earlier attempt: counted, not stored again. */
  acceptSkipped(rows: number): void {
    this.rowsAccepted += rows;
    this.rowsSkipped += rows;
  }

  /** A chunk of accepted rows whose last row is at `lastLine`. */
  addChunk(chunk: ParsedChunk, lastLine: number): void {
    this.flushChunk();
    chunk.fromLine = this.chunkFrom;
    chunk.toLine = lastLine;
    this.chunkFrom = lastLine + 1;
    this.rowsAccepted += chunk.rows;
    this.chunks.push(chunk);
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

  takeQuarantined(): QuarantinedRow[] {
    this.recordBuf = null; // the buffer goes back to the main thread
    return this.quarantined.splice(0);
  }
}
