/**
 * NDJSON (JSON Lines): one JSON object per line, blank lines ignored, keys mapped to columns by name.
 * A missing key or a JSON null is null; an empty string is null in a non-string column. Numbers, booleans
 * and timestamps may also arrive as strings, read by the same rules as CSV text. In a string column,
 * numbers and booleans are stored as their JSON text, objects and arrays as JSON.
 */
import { ROW_ERRORS } from '@sluice/shared';
import { BodyError, RecordSink, type ParseOptions } from './record-sink';
import { booleanWord, epochToMicros } from './values';

const LF = 0x0a;
const TWO_63 = 2 ** 63;

export class NdjsonParser {
  readonly sink: RecordSink;
  private pending: Uint8Array | null = null;
  private line = 1;
  private skippingLine = 0;
  private sawRecord = false;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private readonly scratch = Buffer.alloc(64);
  private readonly known: Set<string>;

  constructor(private readonly options: ParseOptions) {
    this.sink = new RecordSink(options);
    this.known = new Set(options.columns.map((column) => column.name));
  }

  push(chunk: Uint8Array): void {
    let buf = chunk;
    if (this.skippingLine) {
      const lf = buf.indexOf(LF);
      if (lf < 0) return;
      this.endSkip();
      buf = buf.subarray(lf + 1);
    }
    if (this.pending) {
      const joined = new Uint8Array(this.pending.length + buf.length);
      joined.set(this.pending);
      joined.set(buf, this.pending.length);
      buf = joined;
      this.pending = null;
    }
    const last = buf.lastIndexOf(LF);
    if (last < 0) {
      this.hold(buf);
      return;
    }
    this.lines(buf, 0, last + 1);
    if (last + 1 < buf.length) this.hold(buf.subarray(last + 1));
  }

  end(): void {
    if (this.skippingLine) this.endSkip();
    if (this.pending) {
      const rest = this.pending;
      this.pending = null;
      this.lines(rest, 0, rest.length);
    }
    if (!this.sawRecord && this.sink.rowsRejected === 0) {
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
    // A copy: the caller may reuse its buffer (Buffer#slice would only be a view).
    this.pending = Uint8Array.prototype.slice.call(rest);
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

  private lines(buf: Uint8Array, start: number, end: number): void {
    let text: string | null = null;
    try {
      text = this.decoder.decode(buf.subarray(start, end));
    } catch {
      // Some line is not UTF-8: decode line by line to find it.
    }
    if (text !== null) {
      let from = 0;
      while (from < text.length) {
        let to = text.indexOf('\n', from);
        if (to < 0) to = text.length;
        this.handleLine(text, from, to, to < text.length || end < buf.length || buf[end - 1] === LF);
        from = to + 1;
      }
      return;
    }
    let from = start;
    while (from < end) {
      let to = buf.indexOf(LF, from);
      if (to < 0 || to > end) to = end;
      let lineText: string | null = null;
      try {
        lineText = this.decoder.decode(buf.subarray(from, to));
      } catch {
        this.sawRecord = true;
        this.sink.reject(this.line, null, ROW_ERRORS.invalidUtf8, 'the line is not valid UTF-8');
        this.line++;
      }
      if (lineText !== null) this.handleLine(lineText, 0, lineText.length, to < end || buf[to] === LF);
      from = to + 1;
    }
  }

  /** `terminated`: the line ended with LF, which counts toward MAX_LINE_BYTES as in CSV. */
  private handleLine(text: string, from: number, to: number, terminated: boolean): void {
    const line = this.line++;
    // Blank lines (and a trailing CR) are not records.
    let end = to;
    if (end > from && text.charCodeAt(end - 1) === 13) end--;
    let start = from;
    while (start < end && isSpace(text.charCodeAt(start))) start++;
    if (start === end) return;
    this.sawRecord = true;
    const max = this.options.maxLineBytes;
    const chars = to - from + (terminated ? 1 : 0);
    // UTF-8 takes 1 to 3 bytes per UTF-16 unit: count bytes only when the answer is not obvious.
    if (chars > max || (chars * 3 > max && Buffer.byteLength(text.slice(from, to)) + (terminated ? 1 : 0) > max)) {
      this.sink.reject(
        line,
        null,
        ROW_ERRORS.lineTooLong,
        `the line is longer than ${this.options.maxLineBytes} bytes (the limit is MAX_LINE_BYTES)`,
      );
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(start === 0 && end === text.length ? text : text.slice(start, end));
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
      const value = object[column.name];
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
    sink.accept();
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

