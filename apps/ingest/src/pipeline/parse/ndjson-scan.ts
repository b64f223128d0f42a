/**
 * The fast path for NDJSON lines: a byte-level scanner for flat JSON objects (string, number, true, false
 * and null values) that writes values straight into the column builders, with no JS string or object per
 * row. Anything it does not handle the simple way (nested values, \u escapes, a number in a string column,
 * a duplicate key, a bad or missing value, invalid JSON) makes it give up on the line, having undone what it
 * wrote, and the parser reads that line with JSON.parse instead: the slow path defines the semantics and
 * every rejection message, this path only has to agree with it on the lines it accepts.
 */
import type { ColumnType } from '@sluice/shared';
import type { ColumnBuilder } from './columns';
import {
  QUOTE,
  BACKSLASH,
  COMMA,
  COLON,
  OPEN_BRACE,
  CLOSE_BRACE,
  MINUS,
  ZERO,
  NINE,
  DOT,
  LF,
  INT32_MIN,
  INT32_MAX,
  repeated,
  skipWords,
  viewOf,
} from './bytes';
import type { RecordSink } from './record-sink';
import { epochToMicros, parseDecimal, POW10 } from './values';

/** Bytes an escape stands for (\" \\ \/ \b \f \n \r \t); 0 for escapes left to the slow path (\u). */
const UNESCAPE = new Uint8Array(128);
for (const [letter, byte] of [
  ['"', 0x22],
  ['\\', 0x5c],
  ['/', 0x2f],
  ['b', 0x08],
  ['f', 0x0c],
  ['n', 0x0a],
  ['r', 0x0d],
  ['t', 0x09],
] as const) {
  UNESCAPE[letter.charCodeAt(0)] = byte;
}

/** Bytes that end the plain run of a JSON string: the quote, the backslash and control characters. */
const STOP = new Uint8Array(256);
STOP.fill(1, 0, 0x20);
STOP[QUOTE] = 1;
STOP[BACKSLASH] = 1;

/** JSON whitespace on a line: space, tab, CR. Every other byte fails the first test. */
function isSpace(c: number): boolean {
  return c <= 0x20 && (c === 0x20 || c === 0x09 || c === 0x0d);
}

export class FlatObjectScanner {
  private readonly names: Uint8Array[];
  /** Each column's key as it usually appears after the opening quote: the name, the closing quote, a colon. */
  private readonly keys: Uint8Array[];
  /** The same keys' first bytes as little-endian 32-bit words: compared four bytes at a time. */
  private readonly keyWords: Int32Array[];
  /** A view of the buffer being scanned, for reading those words; made once per buffer. */
  private view: DataView = new DataView(new ArrayBuffer(0));
  private viewed: Uint8Array | null = null;
  private readonly types: ColumnType[];
  private readonly nullable: boolean[];
  private readonly builders: ColumnBuilder[];
  /** seen[c] === stamp: column c has a value in the current line. */
  private readonly seen: Int32Array;
  private stamp = 0;
  /** Keys usually come in the same order on every line: try the column after the last one matched first. */
  private next = 0;
  /** Set by stringEnd: the string it scanned holds escapes. */
  private escaped = false;

  constructor(
    private readonly sink: RecordSink,
    private readonly ignoreUnknown: boolean,
  ) {
    const encoder = new TextEncoder();
    this.names = sink.columns.map((column) => encoder.encode(column.name));
    this.keys = sink.columns.map((column) => encoder.encode(`${column.name}":`));
    this.keyWords = this.keys.map((key) => {
      const view = viewOf(key);
      return Int32Array.from({ length: key.length >> 2 }, (_, w) => view.getInt32(w * 4, true));
    });
    this.types = sink.columns.map((column) => column.type);
    this.nullable = sink.columns.map((column) => column.nullable);
    this.builders = sink.builders;
    this.seen = new Int32Array(sink.columns.length);
  }

  /**
   * Reads the line starting at `from` (bounded by `end`, the end of the buffer's complete lines) and
   * accepts it as the row of body line `line`: returns the index of its line feed (or `end` for a last line without one), or -1
   * with nothing written when the line needs the slow path (which also handles blank and over-long lines).
   */
  scanLine(buf: Uint8Array, from: number, end: number, maxLineBytes: number, line: number): number {
    if (buf !== this.viewed) {
      this.viewed = buf;
      this.view = viewOf(buf);
    }
    let i = from;
    while (i < end && isSpace(buf[i]!)) i++;
    const after = this.object(buf, i, end);
    if (after < 0) return -1;
    let lf = after;
    while (lf < end && isSpace(buf[lf]!)) lf++;
    if ((lf < end && buf[lf] !== LF) || lf - from + (lf < end ? 1 : 0) > maxLineBytes) {
      this.undo();
      return -1;
    }
    this.sink.accept(line);
    return lf;
  }

  /**
   * Writes the flat object starting at i (every column: a value or null); returns the index after its
   * closing brace, or -1 with nothing written.
   */
  private object(buf: Uint8Array, i: number, end: number): number {
    const stamp = ++this.stamp;
    if (buf[i] !== OPEN_BRACE) return -1;
    i++;
    while (i < end && isSpace(buf[i]!)) i++;
    if (buf[i] !== CLOSE_BRACE) {
      for (;;) {
        // "key": column names are identifiers (no quotes or escapes), so the predicted column's name is
        // compared in place; any other key is scanned and looked up.
        if (buf[i] !== QUOTE) return this.undo();
        const keyStart = i + 1;
        let column = this.predicted(buf, keyStart);
        if (column >= 0) {
          i = keyStart + this.keys[column]!.length;
        } else {
          const keyEnd = this.stringEnd(buf, keyStart, end);
          if (keyEnd < 0 || this.escaped) return this.undo();
          column = this.columnOf(buf, keyStart, keyEnd);
          i = keyEnd + 1;
          while (isSpace(buf[i]!)) i++;
          if (buf[i] !== COLON) return this.undo();
          i++;
        }
        while (isSpace(buf[i]!)) i++;
        // The value.
        if (column >= 0) {
          if (this.seen[column] === stamp) return this.undo(); // a duplicate key: JSON.parse keeps the last
          this.seen[column] = stamp;
          i = this.value(buf, i, end, column);
        } else {
          if (!this.ignoreUnknown) return this.undo();
          i = this.skipValue(buf, i, end);
        }
        if (i < 0) return this.undo();
        while (isSpace(buf[i]!)) i++;
        if (buf[i] === COMMA) {
          i++;
          while (isSpace(buf[i]!)) i++;
          continue;
        }
        if (buf[i] === CLOSE_BRACE) break;
        return this.undo();
      }
    }
    // Columns the line does not name are null.
    for (let c = 0; c < this.seen.length; c++) {
      if (this.seen[c] === stamp) continue;
      if (!this.nullable[c]) return this.undo();
      this.builders[c]!.appendNull();
    }
    return i + 1;
  }

  /** Drops what this line wrote; always -1, for `return this.undo()`. */
  private undo(): -1 {
    this.sink.discardRow();
    return -1;
  }

  /**
   * The predicted column when the key at `start` is its name followed by `":` (no space before the
   * colon, as most writers put it), or -1: the key is then scanned and looked up.
   */
  private predicted(buf: Uint8Array, start: number): number {
    const c = this.next;
    const key = this.keys[c]!;
    const length = key.length;
    if (start + length > buf.length) return -1;
    const words = this.keyWords[c]!;
    const view = this.view;
    let k = 0;
    for (let w = 0; w < words.length; w++, k += 4) if (view.getInt32(start + k, true) !== words[w]) return -1;
    for (; k < length; k++) if (key[k] !== buf[start + k]) return -1;
    this.next = c + 1 === this.names.length ? 0 : c + 1;
    return c;
  }

  private columnOf(buf: Uint8Array, start: number, end: number): number {
    const count = this.names.length;
    for (let tried = 0, c = this.next; tried < count; tried++, c = c + 1 === count ? 0 : c + 1) {
      const name = this.names[c]!;
      if (name.length !== end - start) continue;
      let k = 0;
      while (k < name.length && name[k] === buf[start + k]) k++;
      if (k === name.length) {
        this.next = c + 1 === count ? 0 : c + 1;
        return c;
      }
    }
    return -1;
  }

  /** Reads the value at i into column c; returns the index after it, or -1 for the slow path. */
  private value(buf: Uint8Array, i: number, end: number, c: number): number {
    const first = buf[i]!;
    const type = this.types[c]!;
    const builder = this.builders[c]!;
    if (first === QUOTE) {
      const from = i + 1;
      const to = this.stringEnd(buf, from, end);
      if (to < 0) return -1;
      const escapes = this.escaped;
      if (type === 'string') {
        if (!escapes) builder.appendBytes(buf, from, to);
        else if (!this.unescapeInto(builder, buf, from, to)) return -1;
        return to + 1;
      }
      if (escapes) return -1;
      if (from === to) {
        // "" is null in a non-string column.
        if (!this.nullable[c]) return -1;
        builder.appendNull();
        return to + 1;
      }
      // Text in a typed column is read by the same rules as CSV text.
      if (to - from > 64 || !this.sink.readers[c]!(builder, buf, from, to)) return -1;
      return to + 1;
    }
    if (first === MINUS || (first >= ZERO && first <= NINE)) return this.number(buf, i, end, type, builder);
    if (isNullAt(buf, i)) {
      if (!this.nullable[c]) return -1;
      builder.appendNull();
      return i + 4;
    }
    const literal = literalAt(buf, i);
    if (literal === 0) return -1;
    if (type === 'boolean') builder.appendBoolean(literal === 4);
    else if (type === 'string')
      builder.appendBytes(buf, i, i + literal); // stored as its JSON text
    else return -1;
    return i + literal;
  }

  private number(buf: Uint8Array, i: number, end: number, type: ColumnType, builder: ColumnBuilder): number {
    // The common number, digits with an optional fraction and no exponent, is read in one pass, to the
    // same value parseDecimal computes for it; any other goes through numberEnd and parseDecimal.
    let j = i;
    const negative = buf[j] === MINUS;
    if (negative) j++;
    const digitsStart = j;
    let mantissa = 0;
    for (; j < end; j++) {
      const digit = buf[j]! - ZERO;
      if (digit < 0 || digit > 9) break;
      mantissa = mantissa * 10 + digit;
    }
    const intDigits = j - digitsStart;
    let scale = 0;
    if (buf[j] === DOT) {
      for (j++; j < end; j++) {
        const digit = buf[j]! - ZERO;
        if (digit < 0 || digit > 9) break;
        mantissa = mantissa * 10 + digit;
        scale++;
      }
    }
    const next = buf[j];
    if (
      intDigits > 0 &&
      intDigits + scale <= 15 &&
      (scale > 0 || buf[j - 1] !== DOT) &&
      (intDigits === 1 || buf[digitsStart] !== ZERO) &&
      next !== 0x65 &&
      next !== 0x45
    ) {
      const magnitude = scale === 0 ? mantissa : mantissa / POW10[scale]!;
      const value = negative ? -magnitude : magnitude;
      switch (type) {
        case 'int32':
          if (scale > 0 || value < INT32_MIN || value > INT32_MAX) break;
          builder.appendInt32(value);
          return j;
        case 'int64':
          if (scale > 0) break;
          builder.appendInt64(value);
          return j;
        case 'float64':
          builder.appendFloat64(value);
          return j;
        case 'timestamp': {
          const micros = epochToMicros(value);
          if (Number.isNaN(micros)) return -1;
          builder.appendInt64(micros);
          return j;
        }
        default:
          return -1;
      }
    }
    const to = numberEnd(buf, i, end);
    if (to < 0) return -1;
    switch (type) {
      case 'int32':
      case 'int64': {
        // Read as JSON.parse reads it (1.0 and 1e3 are integers); not an integer, or beyond 2^53: slow path.
        const value = parseDecimal(buf, i, to);
        if (!Number.isInteger(value)) return -1;
        if (type === 'int32') {
          if (value < INT32_MIN || value > INT32_MAX) return -1;
          builder.appendInt32(value);
        } else {
          if (!Number.isSafeInteger(value)) return -1;
          builder.appendInt64(value);
        }
        return to;
      }
      case 'float64': {
        const value = parseDecimal(buf, i, to);
        if (!Number.isFinite(value)) return -1;
        builder.appendFloat64(value);
        return to;
      }
      case 'timestamp': {
        const micros = epochToMicros(parseDecimal(buf, i, to));
        if (Number.isNaN(micros)) return -1;
        builder.appendInt64(micros);
        return to;
      }
      default:
        return -1;
    }
  }

  /** Skips the flat value of an ignored key; -1 for nested values (the slow path ignores those). */
  private skipValue(buf: Uint8Array, i: number, end: number): number {
    const first = buf[i]!;
    if (first === QUOTE) {
      const to = this.stringEnd(buf, i + 1, end);
      return to < 0 ? -1 : to + 1;
    }
    if (first === MINUS || (first >= ZERO && first <= NINE)) return numberEnd(buf, i, end);
    if (isNullAt(buf, i)) return i + 4;
    const literal = literalAt(buf, i);
    return literal === 0 ? -1 : i + literal;
  }

  /**
   * The closing quote of a JSON string whose text starts at `from`, or -1 when there is none before `end`
   * or a control character comes first; `escaped` says whether the text holds backslash escapes.
   */
  private stringEnd(buf: Uint8Array, from: number, end: number): number {
    let to = from;
    this.escaped = false;
    const view = this.view;
    for (;;) {
      // Four bytes at a time to the first quote, backslash or control character; the last few one by one.
      to = skipWords(view, to, end, QUOTES, BACKSLASHES, CONTROL);
      while (to < end && STOP[buf[to]!] === 0) to++;
      if (to >= end) return -1;
      const ch = buf[to]!;
      if (ch === QUOTE) return to;
      if (ch !== BACKSLASH) return -1; // a control character: not JSON
      this.escaped = true;
      to += 2;
    }
  }

  /** Writes a JSON string with simple escapes as UTF-8; false for \u escapes (and anything invalid). */
  private unescapeInto(builder: ColumnBuilder, buf: Uint8Array, from: number, to: number): boolean {
    const data = builder.reserveData(to - from);
    let at = builder.dataLength;
    for (let k = from; k < to; k++) {
      let ch = buf[k]!;
      if (ch === BACKSLASH) {
        ch = UNESCAPE[buf[++k]!] ?? 0;
        if (ch === 0) return false;
      }
      data[at++] = ch;
    }
    builder.commitData(at - builder.dataLength);
    return true;
  }
}

const QUOTES = repeated(QUOTE);
const BACKSLASHES = repeated(BACKSLASH);
const CONTROL = repeated(0x20);

function isNullAt(buf: Uint8Array, i: number): boolean {
  return buf[i] === 0x6e && buf[i + 1] === 0x75 && buf[i + 2] === 0x6c && buf[i + 3] === 0x6c;
}

/** 4 for `true`, 5 for `false`, 0 for neither. */
function literalAt(buf: Uint8Array, i: number): number {
  if (buf[i] === 0x74 && buf[i + 1] === 0x72 && buf[i + 2] === 0x75 && buf[i + 3] === 0x65) return 4;
  if (buf[i] === 0x66 && buf[i + 1] === 0x61 && buf[i + 2] === 0x6c && buf[i + 3] === 0x73 && buf[i + 4] === 0x65) return 5;
  return 0;
}

/** The end of a JSON number starting at i (strict grammar), or -1. */
function numberEnd(buf: Uint8Array, i: number, end: number): number {
  if (buf[i] === MINUS) i++;
  if (buf[i] === ZERO) i++;
  else {
    const digits = i;
    while (i < end && buf[i]! >= ZERO && buf[i]! <= NINE) i++;
    if (i === digits) return -1;
  }
  if (buf[i] === DOT) {
    const digits = ++i;
    while (i < end && buf[i]! >= ZERO && buf[i]! <= NINE) i++;
    if (i === digits) return -1;
  }
  if (buf[i] === 0x65 || buf[i] === 0x45) {
    i++;
    if (buf[i] === MINUS || buf[i] === 0x2b) i++;
    const digits = i;
    while (i < end && buf[i]! >= ZERO && buf[i]! <= NINE) i++;
    if (i === digits) return -1;
  }
  return i;
}
