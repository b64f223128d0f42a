/**
 * A byte-level CSV parser (RFC 4180) that writes straight into column buffers. It takes the body in
 * chunks of any size and keeps only the unfinished record between them.
 *
 * Rules: the first record is the header and maps fields to columns by name; quoted fields may hold the
 * delimiter, doubled quotes and newlines; records end with LF or CRLF; a UTF-8 BOM is skipped; lines that
 * are entirely empty are ignored. Empty unquoted fields are null; a quoted empty field ("") is an empty
 * string in a string column and null in any other. Line numbers are 1-based lines of the body (the header
 * is line 1), counting newlines inside quoted fields, and name the line where the record starts. A quote
 * inside an unquoted field is kept as a character; text after a closing quote rejects the record. A
 * record longer than MAX_LINE_BYTES (line break included) is rejected without being held in memory.
 */
import { isUtf8 } from 'node:buffer';
import { ROW_ERRORS } from '@sluice/shared';
import { QUOTE, LF, CR, MINUS, ZERO, INT32_MIN, INT32_MAX, repeated, skipWords, viewOf } from './bytes';
import { Carry } from './carry';
import { BodyError, RecordSink, type ParseOptions } from './record-sink';
import { booleanFromBytes, describeValue, parseDecimal, parseTimestamp } from './values';

/** Bytes below 0x0e (LF, CR, tab and other control bytes) send a word's scan back to the byte loop. */
const FIELD_CONTROL = repeated(0x0e);

/** How the fast path reads a field (see fastRecord); the last is any other type, through its reader. */
const SKIP = 0;
const STRING = 1;
const INT32 = 2;
const INT64 = 3;
const FLOAT64 = 4;
const BOOLEAN = 5;
const TIMESTAMP = 6;
const OTHER = 7;

export class CsvParser {
  readonly sink: RecordSink;
  private readonly delimiter: number;
  /** An unfinished record carried over to the next piece. */
  private readonly carry = new Carry();
  private line = 1;

  /** Lines read so far. */
  get linesRead(): number {
    return this.line - 1;
  }
  private header: string[] | null = null;
  /** For each header field, the schema column it fills, or -1. */
  private fieldToColumn: Int32Array = new Int32Array(0);
  /** For each schema column, whether the header has it. */
  private columnPresent: boolean[] = [];
  private started = false;
  /** Skipping the rest of a record that exceeded the line limit. */
  private skipping: { line: number; inQuotes: boolean } | null = null;
  // Field boundaries of the current record, reused.
  private starts: Int32Array;
  private ends: Int32Array;
  private quoted: Uint8Array;
  private escaped: Uint8Array;
  /** 1 for the bytes that end an unquoted field: the delimiter, LF and CR. */
  private readonly fieldEnd = new Uint8Array(256);
  /** The delimiter in each byte of a word (see bytes.ts). */
  private readonly delimiters: number;
  /** A view of the buffer being parsed, for reading words. */
  private view: DataView = new DataView(new ArrayBuffer(0));
  /** Reused for quoted fields with doubled quotes. */
  private unescaped = new Uint8Array(256);
  /** For each header field, how the fast path reads it, and the schema columns the header lacks. */
  private fieldKinds: Uint8Array = new Uint8Array(0);
  private absentColumns: number[] = [];

  /** `fastPath: false` sends every record through the general path (the tests compare the two). */
  constructor(
    private readonly options: ParseOptions,
    private readonly fastPath = true,
  ) {
    this.sink = new RecordSink(options);
    this.delimiter = options.delimiter.charCodeAt(0);
    const slots = options.maxFields + 1;
    this.starts = new Int32Array(slots);
    this.ends = new Int32Array(slots);
    this.quoted = new Uint8Array(slots);
    this.escaped = new Uint8Array(slots);
    this.fieldEnd[this.delimiter] = 1;
    this.fieldEnd[LF] = 1;
    this.fieldEnd[CR] = 1;
    this.delimiters = repeated(this.delimiter);
  }

  push(chunk: Uint8Array): void {
    const buf = this.carry.join(chunk);
    let pos = 0;
    if (!this.started) {
      // Too few bytes to tell whether a BOM starts the body: wait for more.
      if (buf.length < 3 && !(buf.length > 0 && buf[0] !== 0xef)) {
        this.carry.keep(buf);
        return;
      }
      this.started = true;
      pos = bomLength(buf);
    }
    const consumed = this.parse(buf, pos, false);
    if (consumed < buf.length) this.carry.keep(buf.subarray(consumed));
  }

  end(): void {
    const buf = this.carry.take();
    // A BOM only counts at the very start of the body, not at the start of a held record.
    const pos = this.started ? 0 : bomLength(buf);
    this.started = true;
    if (pos < buf.length) this.parse(buf, pos, true);
    if (this.skipping) this.finishSkip();
    if (!this.header) throw new BodyError('ingest.malformed_body', 'the body is empty: a CSV body needs a header row', 1);
    this.sink.flushChunk();
  }

  /** Parses complete records from buf[pos..]; returns where the unfinished part starts. */
  private parse(buf: Uint8Array, pos: number, final: boolean): number {
    const n = buf.length;
    const delimiter = this.delimiter;
    const maxLine = this.options.maxLineBytes;
    const maxFields = this.options.maxFields;
    const fieldEnd = this.fieldEnd;
    // Strings must be valid UTF-8; checking the whole buffer once is far cheaper than per field.
    const allUtf8 = isUtf8(buf.subarray(pos));
    const fast = this.fastPath && allUtf8;
    this.view = viewOf(buf);

    while (pos < n) {
      if (this.skipping) {
        const next = this.skip(buf, pos);
        if (next < 0) return n; // still inside the over-long record
        pos = next;
        continue;
      }
      if (fast && this.header) {
        const next = this.fastRecord(buf, pos, n);
        if (next >= 0) {
          pos = next;
          continue;
        }
      }
      const recordStart = pos;
      const recordLine = this.line;
      let fields = 0;
      let newlines = 0;
      let i = pos;
      let tooManyFields = false;
      let badQuote = -1;

      for (;;) {
        // One field starting at i.
        if (fields === maxFields) {
          tooManyFields = true;
          fields--; // keep overwriting the last slot; the record is rejected anyway
        }
        if (i < n && buf[i] === QUOTE) {
          // Quoted fields are short: a loop here beats a call to indexOf per quote and line feed.
          let j = i + 1;
          let escapedQuotes = 0;
          let fieldNewlines = 0;
          for (;;) {
            let c = 0;
            while (j < n && (c = buf[j]!) !== QUOTE) {
              if (c === LF) fieldNewlines++;
              j++;
            }
            if (j >= n - 1) {
              // Unknown yet: a doubled quote or the end may follow in the next chunk.
              if (j === n - 1 && final) break;
              j = -1;
              break;
            }
            if (buf[j + 1] === QUOTE) {
              escapedQuotes = 1;
              j += 2;
              continue;
            }
            break;
          }
          if (j < 0) {
            if (final) {
              // The body ends inside quotes: that record is rejected, its neighbours are kept.
              this.countNewlines(buf, recordStart, n);
              if (!this.header) throw new BodyError('ingest.malformed_body', 'the header row has an unterminated quote', 1);
              this.sink.record(buf, recordStart, n, recordLine);
              this.sink.reject(
                recordLine,
                this.header[fields] ?? null,
                ROW_ERRORS.unterminatedQuote,
                'a quoted field is never closed (the body ends inside quotes)',
              );
              return n;
            }
            return this.holdOrSkip(buf, recordStart, recordLine);
          }
          newlines += fieldNewlines;
          this.starts[fields] = i + 1;
          this.ends[fields] = j;
          this.quoted[fields] = 1;
          this.escaped[fields] = escapedQuotes;
          fields++;
          i = j + 1;
          if (i < n && buf[i] !== delimiter && buf[i] !== LF && buf[i] !== CR) {
            // Text after the closing quote: malformed; find the end of the record and reject it.
            if (badQuote < 0) badQuote = fields;
            while (i < n && buf[i] !== delimiter && buf[i] !== LF) i++;
          }
        } else {
          const start = i;
          while (i < n && fieldEnd[buf[i]!] === 0) i++;
          this.starts[fields] = start;
          this.ends[fields] = i;
          this.quoted[fields] = 0;
          this.escaped[fields] = 0;
          fields++;
        }
        if (i >= n) {
          if (!final) return this.holdOrSkip(buf, recordStart, recordLine);
          break; // the last record of the body, without a line break
        }
        const c = buf[i]!;
        if (c === delimiter) {
          i++;
          if (i >= n && !final) return this.holdOrSkip(buf, recordStart, recordLine);
          continue;
        }
        // LF, CRLF, or a lone CR (old Mac line ending) ends the record.
        if (c === CR) {
          if (i + 1 >= n && !final) return this.holdOrSkip(buf, recordStart, recordLine);
          if (buf[i + 1] === LF) i++;
        }
        newlines++;
        i++;
        break;
      }

      this.line = recordLine + newlines;
      pos = i;
      const recordEnd = i;
      this.sink.record(buf, recordStart, recordEnd, recordLine);
      if (recordEnd - recordStart > maxLine) {
        this.reportLong(recordLine);
        continue;
      }
      // An entirely empty line.
      if (fields === 1 && this.quoted[0] === 0 && this.ends[0] === this.starts[0]) continue;

      if (!this.header) {
        if (tooManyFields) {
          throw new BodyError('ingest.malformed_body', `the header has more than ${maxFields} fields (MAX_FIELDS)`, recordLine);
        }
        this.readHeader(buf, fields, recordLine, allUtf8);
        continue;
      }
      if (tooManyFields) {
        this.sink.reject(recordLine, null, ROW_ERRORS.fieldCount, `more than ${maxFields} fields (the limit is MAX_FIELDS)`);
        continue;
      }
      if (badQuote >= 0) {
        this.sink.reject(
          recordLine,
          this.header[badQuote - 1] ?? null,
          ROW_ERRORS.malformedQuote,
          'text after the closing quote of a quoted field',
        );
        continue;
      }
      if (fields !== this.header.length) {
        this.sink.reject(
          recordLine,
          null,
          ROW_ERRORS.fieldCount,
          `expected ${this.header.length} fields as in the header, found ${fields}`,
        );
        continue;
      }
      if (!allUtf8 && !isUtf8(buf.subarray(recordStart, recordEnd))) {
        this.sink.reject(recordLine, null, ROW_ERRORS.invalidUtf8, 'the line is not valid UTF-8');
        continue;
      }
      this.writeRecord(buf, recordLine);
    }
    return n;
  }

  /**
   * The common record, read in one pass: each field converted as it is scanned, no field table, no
   * second look at the bytes. It takes only what it reads exactly as the general path would (unquoted
   * values without spaces, quoted strings without line breaks, plain integers and decimals, the right
   * number of fields, an LF or CRLF ending); on anything else it undoes the row and returns -1, and the
   * general path (parse + writeRecord) reads the record and defines every rule and every rejection.
   * Returns where the next record starts.
   */
  private fastRecord(buf: Uint8Array, pos: number, n: number): number {
    const first = buf[pos];
    if (first === LF || first === CR) return -1; // a blank line
    const sink = this.sink;
    const builders = sink.builders;
    const kinds = this.fieldKinds;
    const fieldToColumn = this.fieldToColumn;
    const fieldEnd = this.fieldEnd;
    const last = kinds.length - 1;
    let i = pos;
    for (let f = 0; f <= last; f++) {
      const kind = kinds[f]!;
      const c = fieldToColumn[f]!;
      if (i < n && buf[i] === QUOTE) {
        // A quoted field: strings only, and only without line breaks.
        let j = i + 1;
        let b = 0;
        let doubled = false;
        for (;;) {
          while (j < n && (b = buf[j]!) !== QUOTE && b !== LF) j++;
          if (j >= n - 1 || b === LF) return this.giveUp();
          if (buf[j + 1] !== QUOTE) break;
          doubled = true;
          j += 2;
        }
        if (kind === STRING) {
          if (doubled) builders[c]!.appendUndoubled(buf, i + 1, j);
          else builders[c]!.appendBytes(buf, i + 1, j);
        } else if (kind !== SKIP) {
          return this.giveUp();
        }
        i = j + 1;
      } else if (kind === INT32 || kind === INT64) {
        const negative = buf[i] === MINUS;
        if (negative) i++;
        const digitsStart = i;
        let value = 0;
        for (; i < n; i++) {
          const digit = buf[i]! - ZERO;
          if (digit < 0 || digit > 9) break;
          value = value * 10 + digit;
        }
        // Empty (null), a lone sign, or more digits than a double holds exactly: the general path.
        if (i === digitsStart || i - digitsStart > 15) return this.giveUp();
        if (negative) value = -value;
        if (kind === INT64) builders[c]!.appendInt64(value);
        else if (value >= INT32_MIN && value <= INT32_MAX) builders[c]!.appendInt32(value);
        else return this.giveUp();
      } else {
        const start = i;
        // Four bytes at a time to the delimiter or a control byte (LF, CR and a few more, which the byte
        // loop then judges); the last few one by one.
        i = skipWords(this.view, i, n, this.delimiters, this.delimiters, FIELD_CONTROL);
        while (i < n && fieldEnd[buf[i]!] === 0) i++;
        if (kind === SKIP) {
          // An ignored column.
        } else if (i === start) {
          if (!sink.columns[c]!.nullable) return this.giveUp();
          builders[c]!.appendNull();
        } else if (kind === STRING) {
          builders[c]!.appendBytes(buf, start, i);
        } else if (kind === FLOAT64) {
          const value = parseDecimal(buf, start, i);
          if (!Number.isFinite(value)) return this.giveUp();
          builders[c]!.appendFloat64(value);
        } else if (kind === BOOLEAN) {
          const value = booleanFromBytes(buf, start, i);
          if (value === null) return this.giveUp();
          builders[c]!.appendBoolean(value);
        } else if (kind === TIMESTAMP) {
          const micros = parseTimestamp(buf, start, i);
          if (Number.isNaN(micros)) return this.giveUp();
          builders[c]!.appendInt64(micros);
        } else if (!sink.readers[c]!(builders[c]!, buf, start, i)) {
          return this.giveUp();
        }
      }
      if (i >= n) return this.giveUp();
      const b = buf[i]!;
      if (f < last) {
        if (b !== this.delimiter) return this.giveUp();
        i++;
      } else if (b === LF) {
        i++;
      } else if (b === CR && i + 1 < n && buf[i + 1] === LF) {
        i += 2;
      } else {
        return this.giveUp();
      }
    }
    if (i - pos > this.options.maxLineBytes) return this.giveUp();
    for (const c of this.absentColumns) builders[c]!.appendNull();
    sink.accept(this.line);
    this.line++;
    return i;
  }

  private giveUp(): number {
    this.sink.discardRow();
    return -1;
  }

  private writeRecord(buf: Uint8Array, line: number): void {
    const sink = this.sink;
    const builders = sink.builders;
    const readers = sink.readers;
    const columns = sink.columns;
    const fieldToColumn = this.fieldToColumn;
    const fieldCount = fieldToColumn.length;
    // Columns in header order first, then the schema columns the header lacks (null).
    for (let f = 0; f < fieldCount; f++) {
      const c = fieldToColumn[f]!;
      if (c < 0) continue;
      const start = this.starts[f]!;
      const end = this.ends[f]!;
      const builder = builders[c]!;
      const column = columns[c]!;
      if (start === end && (this.quoted[f] === 0 || column.type !== 'string')) {
        if (!column.nullable) {
          sink.rejectNull(line, c);
          return;
        }
        builder.appendNull();
        continue;
      }
      if (this.escaped[f] === 1) {
        if (!this.writeUnescaped(buf, start, end, c, line)) return;
        continue;
      }
      if (!readers[c]!(builder, buf, start, end)) {
        sink.rejectValue(line, c, describeValue(buf, start, end));
        return;
      }
    }
    for (let c = 0; c < columns.length; c++) {
      if (this.columnPresent[c]) continue;
      if (!columns[c]!.nullable) {
        sink.rejectNull(line, c);
        return;
      }
      builders[c]!.appendNull();
    }
    sink.accept(line);
  }

  /** A quoted field with doubled quotes: undouble into a scratch copy, then read that. */
  private writeUnescaped(buf: Uint8Array, start: number, end: number, c: number, line: number): boolean {
    if (this.unescaped.length < end - start) this.unescaped = new Uint8Array(Math.max(end - start, this.unescaped.length * 2));
    const scratch = this.unescaped;
    let length = 0;
    for (let i = start; i < end; i++) {
      scratch[length++] = buf[i]!;
      if (buf[i] === QUOTE) i++;
    }
    const sink = this.sink;
    if (sink.readers[c]!(sink.builders[c]!, scratch, 0, length)) return true;
    sink.rejectValue(line, c, describeValue(scratch, 0, length));
    return false;
  }

  private readHeader(buf: Uint8Array, fields: number, line: number, allUtf8: boolean): void {
    const names: string[] = [];
    for (let f = 0; f < fields; f++) {
      const raw = buf.subarray(this.starts[f]!, this.ends[f]!);
      if (!allUtf8 && !isUtf8(raw)) throw new BodyError('ingest.malformed_body', 'the header row is not valid UTF-8', line);
      let name = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8');
      if (this.escaped[f]) name = name.replaceAll('""', '"');
      names.push(name.trim());
    }
    this.header = names;
    this.fieldToColumn = mapHeader(names, this.sink.columns, this.options.unknownColumns, line);
    this.columnPresent = this.sink.columns.map((_, c) => this.fieldToColumn.includes(c));
    this.fieldKinds = Uint8Array.from(this.fieldToColumn, (c) => (c < 0 ? SKIP : kindOf(this.sink.columns[c]!.type)));
    this.absentColumns = this.sink.columns.flatMap((_, c) => (this.columnPresent[c] ? [] : [c]));
    const missing = this.sink.columns.filter((column, c) => !column.nullable && !this.columnPresent[c]);
    if (missing.length > 0) {
      throw new BodyError(
        'ingest.malformed_body',
        `the header lacks required column${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m.name}"`).join(', ')}`,
        line,
        missing[0]!.name,
      );
    }
  }

  private reportLong(line: number): void {
    this.sink.reject(
      line,
      null,
      ROW_ERRORS.lineTooLong,
      `the line is longer than ${this.options.maxLineBytes} bytes (the limit is MAX_LINE_BYTES)`,
    );
  }

  /**
   * The record starting at `start` is not complete in this buffer: keep it for the next push, or, when it
   * is already over MAX_LINE_BYTES, report it once and discard bytes until it ends. Returns where the kept
   * part starts (the buffer's length when nothing is kept).
   */
  private holdOrSkip(buf: Uint8Array, start: number, line: number): number {
    if (buf.length - start <= this.options.maxLineBytes) return start;
    if (!this.header) {
      throw new BodyError('ingest.malformed_body', `the header row is longer than ${this.options.maxLineBytes} bytes`, 1);
    }
    // Re-scan from the record start to know the quote state at the end of the buffer.
    this.skipping = { line, inQuotes: false };
    const next = this.skip(buf, start);
    return next < 0 ? buf.length : next;
  }

  /** Advances through an over-long record; returns where the next record starts, or -1 at buffer end. */
  private skip(buf: Uint8Array, pos: number): number {
    const state = this.skipping!;
    for (let i = pos; i < buf.length; i++) {
      const c = buf[i]!;
      if (c === QUOTE) state.inQuotes = !state.inQuotes;
      else if (c === LF) {
        this.line++;
        if (!state.inQuotes) {
          this.finishSkip();
          return i + 1;
        }
      }
    }
    return -1;
  }

  private finishSkip(): void {
    const state = this.skipping!;
    this.skipping = null;
    this.reportLong(state.line);
  }

  private countNewlines(buf: Uint8Array, from: number, to: number): void {
    for (let k = buf.indexOf(LF, from); k >= 0 && k < to; k = buf.indexOf(LF, k + 1)) this.line++;
  }
}

function kindOf(type: string): number {
  switch (type) {
    case 'string':
      return STRING;
    case 'int32':
      return INT32;
    case 'int64':
      return INT64;
    case 'float64':
      return FLOAT64;
    case 'boolean':
      return BOOLEAN;
    case 'timestamp':
      return TIMESTAMP;
    default:
      return OTHER;
  }
}

function bomLength(buf: Uint8Array): number {
  return buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
}

/** Maps header names to schema columns; duplicate names and (by policy) unknown names are body errors. */
export function mapHeader(names: string[], columns: { name: string }[], unknownColumns: 'ignore' | 'reject', line: number): Int32Array {
  const byName = new Map(columns.map((column, index) => [column.name, index]));
  const seen = new Set<string>();
  const mapping = new Int32Array(names.length);
  names.forEach((name, field) => {
    if (seen.has(name)) {
      throw new BodyError('ingest.malformed_body', `the header names column "${name}" twice`, line, name);
    }
    seen.add(name);
    const index = byName.get(name);
    if (index === undefined && unknownColumns === 'reject') {
      throw new BodyError('ingest.malformed_body', `the header has column "${name}", which is not in the stream's schema`, line, name);
    }
    mapping[field] = index ?? -1;
  });
  return mapping;
}
