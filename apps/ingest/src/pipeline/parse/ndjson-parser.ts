/**
 * NDJSON (JSON Lines): one JSON object per line, blank lines ignored, keys mapped to columns by name.
 * A missing key or a JSON null is null; an empty string is null in a non-string column. Numbers, booleans
 * and timestamps may also arrive as strings, read by the same rules as CSV text. In a string column,
 * numbers and booleans are stored as their JSON text, objects and arrays as JSON.
 *
 * Most lines take a byte-level fast path (ndjson-scan.ts) that writes flat objects straight into the
 * columns; a line it does not handle goes through JSON.parse, which defines the rules above.
 */
import { isUtf8 } from 'node:buffer';
import { ROW_ERRORS } from '@sluice/shared';
import { LF } from './bytes';
import { Carry } from './carry';
import { FlatObjectScanner } from './ndjson-scan';
import { BodyError, RecordSink, type ParseOptions } from './record-sink';
import { booleanWord, epochToMicros } from './values';

const TWO_63 = 2 ** 63;

export class NdjsonParser {
  readonly sink: RecordSink;
  /** An unfinished line carried over to the next piece. */
  private readonly carry = new Carry();
  private line = 1;
  private skippingLine = 0;
  private sawRecord = false;
  private started = false;
  // ignoreBOM keeps a BOM in the text (only the body's first bytes may be one; see lines()).
  private readonly decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  private readonly scratch = Buffer.alloc(64);
  private readonly known: Set<string>;
  private readonly scanner: FlatObjectScanner | null;

  /** `fastPath: false` sends every line through JSON.parse (the tests compare the two paths). */
  constructor(
    private readonly options: ParseOptions,
    fastPath = true,
  ) {
    this.sink = new RecordSink(options);
    // A later part of a body does not start the body: it has no BOM to skip.
    this.started = options.part === 'later';
    this.known = new Set(options.columns.map((column) => column.name));
    this.scanner = fastPath ? new FlatObjectScanner(this.sink, options.unknownColumns === 'ignore') : null;
  }

  push(chunk: Uint8Array): void {
    let buf = chunk;
    if (this.skippingLine) {
      const lf = buf.indexOf(LF);
      if (lf < 0) return;
      this.endSkip();
      buf = buf.subarray(lf + 1);
    }
    buf = this.carry.join(buf);
    const last = buf.lastIndexOf(LF);
    if (last < 0) {
      this.hold(buf);
      return;
    }
    this.lines(buf, last + 1, true);
    if (last + 1 < buf.length) this.hold(buf.subarray(last + 1));
  }

  /** Lines read so far (the body's, or the part's). */
  get linesRead(): number {
    return this.line - 1;
  }

  end(): void {
    if (this.skippingLine) this.endSkip();
    const rest = this.carry.take();
    if (rest.length > 0) this.lines(rest, rest.length, false);
    if (!this.sawRecord && this.sink.rowsRejected === 0 && this.options.part === undefined) {
      throw new BodyError('ingest.malformed_body', 'the body is empty: send one JSON object per line', 1);
    }
    this.sink.flushChunk();
  }

  /** Keeps an unfinished line, unless it is already over the limit: then it is skipped to its end. */
  private hold(rest: Uint8Array): void {
    if (rest.length > this.options.maxLineBytes) {
      this.skippingLine = this.line;
      return;
    }
    this.carry.keep(rest);
  }

  private endSkip(): void {
    this.sink.reject(
      this.skippingLine,
      null,
      ROW_ERRORS.lineTooLong,
      `the line is longer than ${this.options.maxLineBytes} bytes (the limit is MAX_LINE_BYTES)`,
    );
    this.sawRecord = true;
    this.skippingLine = 0;
    this.line++;
  }

  /** The lines of buf[0..end); `terminated`: the last one ended with LF. */
  private lines(buf: Uint8Array, end: number, terminated: boolean): void {
    let from = 0;
    if (!this.started && end > 0) {
      this.started = true;
      if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) from = 3; // a UTF-8 BOM starts the body
    }
    // Strings must be valid UTF-8; checking the whole buffer once is far cheaper than per line.
    const allUtf8 = isUtf8(buf.subarray(from, end));
    const scanner = allUtf8 ? this.scanner : null;
    const maxLineBytes = this.options.maxLineBytes;
    while (from < end) {
      // The fast path finds the line's end as it reads it; every other line is cut out first.
      if (scanner) {
        const lf = scanner.scanLine(buf, from, end, maxLineBytes, this.line);
        if (lf >= 0) {
          this.line++;
          this.sawRecord = true;
          from = lf + 1;
          continue;
        }
      }
      let to = buf.indexOf(LF, from);
      if (to < 0 || to >= end) to = end;
      this.handleLine(buf, from, to, to < end || terminated, allUtf8);
      from = to + 1;
    }
  }

  /** `terminated`: the line ended with LF, which counts toward MAX_LINE_BYTES as in CSV. */
  private handleLine(buf: Uint8Array, from: number, to: number, terminated: boolean, allUtf8: boolean): void {
    const line = this.line++;
    // Blank lines (and a trailing CR) are not records.
    let start = from;
    let end = to;
    while (start < end && isSpace(buf[start]!)) start++;
    while (end > start && isSpace(buf[end - 1]!)) end--;
    if (start === end) return;
    this.sawRecord = true;
    if (to - from + (terminated ? 1 : 0) > this.options.maxLineBytes) {
      this.sink.reject(
        line,
        null,
        ROW_ERRORS.lineTooLong,
        `the line is longer than ${this.options.maxLineBytes} bytes (the limit is MAX_LINE_BYTES)`,
      );
      return;
    }
    if (!allUtf8 && this.scanner && isUtf8(buf.subarray(start, end)) && this.scanner.scanLine(buf, start, end, Infinity, line) === end) {
      return;
    }
    this.parseLine(buf, start, end, line);
  }

  /** The general path: JSON.parse, then the value rules below. */
  private parseLine(buf: Uint8Array, start: number, end: number, line: number): void {
    this.sink.record(buf, start, end, line);
    let text: string;
    try {
      text = this.decoder.decode(buf.subarray(start, end));
    } catch {
      this.sink.reject(line, null, ROW_ERRORS.invalidUtf8, 'the line is not valid UTF-8');
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      this.sink.reject(line, null, ROW_ERRORS.invalidJson, `not valid JSON: ${(error as Error).message}`);
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.sink.reject(line, null, ROW_ERRORS.invalidJson, 'each line must be a JSON object');
      return;
    }
    this.writeObject(value as Record<string, unknown>, line);
  }

  private writeObject(object: Record<string, unknown>, line: number): void {
    const sink = this.sink;
    const columns = sink.columns;
    if (this.options.unknownColumns === 'reject') {
      let fields = 0;
      for (const key in object) {
        fields++;
        if (!this.known.has(key)) {
          sink.reject(line, key, ROW_ERRORS.unknownColumn, `"${key}" is not a column of this stream`);
          return;
        }
      }
      if (fields > this.options.maxFields) {
        sink.reject(line, null, ROW_ERRORS.fieldCount, `more than ${this.options.maxFields} fields (MAX_FIELDS)`);
        return;
      }
    }
    for (let c = 0; c < columns.length; c++) {
      const column = columns[c]!;
      const builder = sink.builders[c]!;
      // Own properties only: a column named __proto__ or toString must not read what objects inherit.
      const value = Object.hasOwn(object, column.name) ? object[column.name] : undefined;
      if (value === undefined || value === null || (value === '' && column.type !== 'string')) {
        if (!column.nullable) {
          sink.rejectNull(line, c);
          return;
        }
        builder.appendNull();
        continue;
      }
      if (!this.writeValue(c, value)) {
        sink.rejectValue(line, c, shortJson(value));
        return;
      }
    }
    sink.accept(line);
  }

  /** Writes one JSON value into column c; false when it is not a value of the column's type. */
  private writeValue(c: number, value: unknown): boolean {
    const builder = this.sink.builders[c]!;
    switch (this.sink.columns[c]!.type) {
      case 'string':
        builder.appendString(typeof value === 'string' ? value : JSON.stringify(value));
        return true;
      case 'int32':
        if (typeof value !== 'number') return this.fromText(value, c);
        if (!Number.isInteger(value) || value < -2147483648 || value > 2147483647) return false;
        builder.appendInt32(value);
        return true;
      case 'int64':
        if (typeof value !== 'number') return this.fromText(value, c);
        if (!Number.isInteger(value) || Math.abs(value) >= TWO_63) return false;
        if (Number.isSafeInteger(value)) builder.appendInt64(value);
        else builder.appendBigInt64(BigInt(value));
        return true;
      case 'float64':
        if (typeof value !== 'number') return this.fromText(value, c);
        if (!Number.isFinite(value) && !this.options.allowNonFinite) return false; // 1e999 parses as Infinity
        builder.appendFloat64(value);
        return true;
      case 'boolean': {
        const word =
          typeof value === 'boolean'
            ? value
            : typeof value === 'string' || typeof value === 'number'
              ? booleanWord(String(value).toLowerCase())
              : null;
        if (word === null) return false;
        builder.appendBoolean(word);
        return true;
      }
      case 'timestamp': {
        if (typeof value !== 'number') return this.fromText(value, c);
        const micros = epochToMicros(value);
        if (Number.isNaN(micros)) return false;
        builder.appendInt64(micros);
        return true;
      }
      default:
        return this.fromText(value, c);
    }
  }

  /** A string value in a typed column: read it with the same byte readers as CSV text. */
  private fromText(value: unknown, c: number): boolean {
    if (typeof value !== 'string' || value.length > this.scratch.length) return false;
    for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) > 127) return false;
    const length = this.scratch.write(value, 0, 'latin1');
    return this.sink.readers[c]!(this.sink.builders[c]!, this.scratch, 0, length);
  }
}

function isSpace(code: number): boolean {
  return code === 32 || code === 9 || code === 13;
}

function shortJson(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 42 ? `${text.slice(0, 40)}…` : text;
}
