/**
 * Text -> typed values, straight from bytes. Each reader returns true when it wrote a value, or false
 * when the text is not a valid value of its type (the caller reports the row). Rules:
 *   integers   optional sign and digits, range-checked (int32, int64)
 *   float64    decimal or exponent notation; NaN / Infinity only when the stream allows non-finite values
 *   boolean    true/false/1/0/t/f/yes/no/y/n, any case
 *   timestamp  ISO-8601 date or date-time (T or space), optional fraction, Z or ±HH[:MM] offset (normalised to
 *              UTC; no offset means UTC); or epoch seconds (optionally fractional) or milliseconds: a number whose
 *              magnitude is at least 1e11 is taken as milliseconds
 *   date       YYYY-MM-DD
 * Leading and trailing spaces and tabs are ignored for every type but string.
 */
import type { ColumnBuilder } from './columns';
import { SPACE, TAB, MINUS, PLUS, DOT, ZERO, NINE, INT32_MIN, INT32_MAX } from './bytes';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const MICROS_PER_DAY = 86_400_000_000;
const EPOCH_MILLIS_THRESHOLD = 1e11;

export type ValueReader = (out: ColumnBuilder, buf: Uint8Array, start: number, end: number) => boolean;

function trimStart(buf: Uint8Array, start: number, end: number): number {
  while (start < end && (buf[start] === SPACE || buf[start] === TAB)) start++;
  return start;
}
function trimEnd(buf: Uint8Array, start: number, end: number): number {
  while (end > start && (buf[end - 1] === SPACE || buf[end - 1] === TAB)) end--;
  return end;
}

function latin1(buf: Uint8Array, start: number, end: number): string {
  let text = '';
  for (let i = start; i < end; i++) text += String.fromCharCode(buf[i]!);
  return text;
}

/** Parses an optionally signed decimal integer; NaN when not one. Exact up to 2^53. */
function parseInteger(buf: Uint8Array, start: number, end: number): number {
  if (start >= end) return Number.NaN;
  let i = start;
  let negative = false;
  if (buf[i] === MINUS || buf[i] === PLUS) {
    negative = buf[i] === MINUS;
    i++;
    if (i === end) return Number.NaN;
  }
  let value = 0;
  for (; i < end; i++) {
    const digit = buf[i]! - ZERO;
    if (digit < 0 || digit > 9) return Number.NaN;
    value = value * 10 + digit;
  }
  return negative ? -value : value;
}

export const readInt32: ValueReader = (out, buf, start, end) => {
  start = trimStart(buf, start, end);
  end = trimEnd(buf, start, end);
  if (end - start > 12) return false;
  const value = parseInteger(buf, start, end);
  if (!(value >= INT32_MIN && value <= INT32_MAX)) return false;
  out.appendInt32(value);
  return true;
};

export const readInt64: ValueReader = (out, buf, start, end) => {
  start = trimStart(buf, start, end);
  end = trimEnd(buf, start, end);
  if (end - start > 21) return false;
  const value = parseInteger(buf, start, end);
  if (Number.isNaN(value)) return false;
  if (Number.isSafeInteger(value)) {
    out.appendInt64(value);
    return true;
  }
  const big = BigInt(latin1(buf, start, end));
  if (big < INT64_MIN || big > INT64_MAX) return false;
  out.appendBigInt64(big);
  return true;
};

export const POW10 = [
  1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/** A strict decimal / exponent number; NaN when the text is anything else (no hex, no empty, no spaces). */
export function parseDecimal(buf: Uint8Array, start: number, end: number): number {
  let i = start;
  let negative = false;
  if (buf[i] === MINUS || buf[i] === PLUS) {
    negative = buf[i] === MINUS;
    i++;
  }
  let mantissa = 0;
  let digits = 0;
  let scale = 0;
  let intDigits = 0;
  for (; i < end; i++) {
    const digit = buf[i]! - ZERO;
    if (digit < 0 || digit > 9) break;
    mantissa = mantissa * 10 + digit;
    digits++;
    intDigits++;
  }
  let fracDigits = 0;
  if (i < end && buf[i] === DOT) {
    i++;
    for (; i < end; i++) {
      const digit = buf[i]! - ZERO;
      if (digit < 0 || digit > 9) break;
      mantissa = mantissa * 10 + digit;
      digits++;
      fracDigits++;
      scale++;
    }
  }
  if (intDigits + fracDigits === 0) return Number.NaN;
  let hasExponent = false;
  if (i < end && (buf[i] === 0x65 || buf[i] === 0x45)) {
    hasExponent = true;
    i++;
    if (i < end && (buf[i] === MINUS || buf[i] === PLUS)) i++;
    const expStart = i;
    while (i < end && buf[i]! >= ZERO && buf[i]! <= NINE) i++;
    if (i === expStart) return Number.NaN;
  }
  if (i !== end) return Number.NaN;
  // Exact fast path: an integer mantissa below 2^53 divided by an exact power of ten rounds correctly.
  if (!hasExponent && digits <= 15 && scale <= 22) {
    const value = scale === 0 ? mantissa : mantissa / POW10[scale]!;
    return negative ? -value : value;
  }
  return Number(latin1(buf, start, end));
}

function isNonFiniteLiteral(text: string): number | null {
  switch (text.toLowerCase()) {
    case 'nan':
      return Number.NaN;
    case 'inf':
    case '+inf':
    case 'infinity':
    case '+infinity':
      return Number.POSITIVE_INFINITY;
    case '-inf':
    case '-infinity':
      return Number.NEGATIVE_INFINITY;
    default:
      return null;
  }
}

export function makeFloat64Reader(allowNonFinite: boolean): ValueReader {
  return (out, buf, start, end) => {
    start = trimStart(buf, start, end);
    end = trimEnd(buf, start, end);
    const value = parseDecimal(buf, start, end);
    if (!Number.isNaN(value)) {
      if (!Number.isFinite(value) && !allowNonFinite) return false; // 1e999 overflows to Infinity
      out.appendFloat64(value);
      return true;
    }
    if (!allowNonFinite || end - start > 9) return false;
    const special = isNonFiniteLiteral(latin1(buf, start, end));
    if (special === null) return false;
    out.appendFloat64(special);
    return true;
  };
}

export const readBoolean: ValueReader = (out, buf, start, end) => {
  start = trimStart(buf, start, end);
  end = trimEnd(buf, start, end);
  const value = booleanFromBytes(buf, start, end);
  if (value === null) return false;
  out.appendBoolean(value);
  return true;
};

export function booleanFromBytes(buf: Uint8Array, start: number, end: number): boolean | null {
  // The common spellings first, as they are.
  const first = buf[start]!;
  const length = end - start;
  if (length === 4 && first === 0x74 && buf[start + 1] === 0x72 && buf[start + 2] === 0x75 && buf[start + 3] === 0x65) return true;
  if (
    length === 5 &&
    first === 0x66 &&
    buf[start + 1] === 0x61 &&
    buf[start + 2] === 0x6c &&
    buf[start + 3] === 0x73 &&
    buf[start + 4] === 0x65
  ) {
    return false;
  }
  // Letters are compared lower-cased (bit 5 set); digits as they are.
  const a = first | 0x20;
  switch (length) {
    case 1:
      return first === 0x31 || a === 0x74 || a === 0x79 ? true : first === 0x30 || a === 0x66 || a === 0x6e ? false : null; // 1 t y / 0 f n
    case 2:
      return a === 0x6e && (buf[start + 1]! | 0x20) === 0x6f ? false : null; // no
    case 3:
      return a === 0x79 && (buf[start + 1]! | 0x20) === 0x65 && (buf[start + 2]! | 0x20) === 0x73 ? true : null; // yes
    case 4:
      return matchesLower(buf, start, 'true') ? true : null;
    case 5:
      return matchesLower(buf, start, 'false') ? false : null;
    default:
      return null;
  }
}

function matchesLower(buf: Uint8Array, start: number, word: string): boolean {
  for (let k = 0; k < word.length; k++) if ((buf[start + k]! | 0x20) !== word.charCodeAt(k)) return false;
  return true;
}

export function booleanWord(word: string): boolean | null {
  switch (word) {
    case 'true':
    case 't':
    case 'yes':
    case 'y':
    case '1':
      return true;
    case 'false':
    case 'f':
    case 'no':
    case 'n':
    case '0':
      return false;
    default:
      return null;
  }
}

/** Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's days_from_civil). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Two decimal digits at `at`, or -1. */
function twoDigits(buf: Uint8Array, at: number): number {
  const tens = buf[at]! - ZERO;
  const ones = buf[at + 1]! - ZERO;
  return tens >= 0 && tens <= 9 && ones >= 0 && ones <= 9 ? tens * 10 + ones : -1;
}

/**
 * For the months of 1900 to 2199, the day number of the first and the month's length, looked up instead
 * of computed: most dates fall there, and the arithmetic (divisions) is most of the cost of a date.
 */
const TABLE_FIRST_YEAR = 1900;
const TABLE_YEARS = 300;
const MONTH_START = new Int32Array(TABLE_YEARS * 12);
const MONTH_LENGTH = new Uint8Array(TABLE_YEARS * 12);
for (let index = 0; index < MONTH_START.length; index++) {
  const year = TABLE_FIRST_YEAR + Math.floor(index / 12);
  const month = (index % 12) + 1;
  MONTH_START[index] = daysFromCivil(year, month, 1);
  MONTH_LENGTH[index] = daysInMonth(year, month);
}

/** YYYY-MM-DD at [start, start + 10); days since epoch, or NaN. */
function parseDate(buf: Uint8Array, start: number): number {
  const century = twoDigits(buf, start);
  const yearOfCentury = twoDigits(buf, start + 2);
  const year = century < 0 || yearOfCentury < 0 ? -1 : century * 100 + yearOfCentury;
  const month = twoDigits(buf, start + 5);
  const day = twoDigits(buf, start + 8);
  if (year < 0 || month < 1 || month > 12 || day < 1 || buf[start + 4] !== MINUS || buf[start + 7] !== MINUS) {
    return Number.NaN;
  }
  const index = (year - TABLE_FIRST_YEAR) * 12 + month - 1;
  if (index >= 0 && index < MONTH_START.length) {
    return day > MONTH_LENGTH[index]! ? Number.NaN : MONTH_START[index]! + day - 1;
  }
  if (day > daysInMonth(year, month)) return Number.NaN;
  return daysFromCivil(year, month, day);
}

export const readDate: ValueReader = (out, buf, start, end) => {
  start = trimStart(buf, start, end);
  end = trimEnd(buf, start, end);
  if (end - start !== 10) return false;
  const days = parseDate(buf, start);
  if (Number.isNaN(days)) return false;
  out.appendInt32(days);
  return true;
};

/** Microseconds since the epoch (UTC) for ISO-8601 text or an epoch number; NaN when neither. */
export function parseTimestamp(buf: Uint8Array, start: number, end: number): number {
  const length = end - start;
  if (length >= 10 && buf[start + 4] === MINUS && buf[start + 7] === MINUS) return parseIsoTimestamp(buf, start, end);
  return epochToMicros(parseDecimal(buf, start, end));
}

/** Epoch seconds, or milliseconds when the magnitude is at least 1e11, as microseconds; NaN if neither. */
export function epochToMicros(value: number): number {
  if (!Number.isFinite(value)) return Number.NaN;
  const micros = Math.abs(value) >= EPOCH_MILLIS_THRESHOLD ? Math.round(value * 1000) : Math.round(value * 1_000_000);
  return Number.isSafeInteger(micros) ? micros : Number.NaN;
}

function parseIsoTimestamp(buf: Uint8Array, start: number, end: number): number {
  const common = parseCommonTimestamp(buf, start, end);
  if (!Number.isNaN(common)) return common;
  const days = parseDate(buf, start);
  if (Number.isNaN(days)) return Number.NaN;
  let micros = days * MICROS_PER_DAY;
  let i = start + 10;
  if (i === end) return micros;
  const separator = buf[i];
  if (separator !== 0x54 && separator !== 0x74 && separator !== SPACE) return Number.NaN; // T, t or space
  i++;
  if (end - i < 5 || buf[i + 2] !== 0x3a) return Number.NaN;
  const hour = twoDigits(buf, i);
  const minute = twoDigits(buf, i + 3);
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59) return Number.NaN;
  i += 5;
  let second = 0;
  let fraction = 0;
  if (i < end && buf[i] === 0x3a) {
    second = twoDigits(buf, i + 1);
    if (second < 0 || second > 60 || end - i < 3) return Number.NaN;
    i += 3;
    if (i < end && (buf[i] === DOT || buf[i] === 0x2c)) {
      // Microseconds: digits past the sixth are dropped (truncated, not rounded).
      i++;
      const fractionStart = i;
      while (i < end && buf[i]! >= ZERO && buf[i]! <= NINE) {
        if (i - fractionStart < 6) fraction = fraction * 10 + (buf[i]! - ZERO);
        i++;
      }
      const digits = i - fractionStart;
      if (digits === 0) return Number.NaN;
      if (digits < 6) fraction *= POW10[6 - digits]!;
    }
  }
  micros += ((hour * 60 + minute) * 60 + second) * 1_000_000 + fraction;
  if (i === end) return micros;
  const zone = buf[i];
  if ((zone === 0x5a || zone === 0x7a) && i + 1 === end) return micros; // Z or z
  if (zone !== PLUS && zone !== MINUS) return Number.NaN;
  const rest = end - i - 1;
  let offsetHours: number;
  let offsetMinutes = 0;
  if (rest === 2) {
    offsetHours = twoDigits(buf, i + 1);
  } else if (rest === 4) {
    offsetHours = twoDigits(buf, i + 1);
    offsetMinutes = twoDigits(buf, i + 3);
  } else if (rest === 5 && buf[i + 3] === 0x3a) {
    offsetHours = twoDigits(buf, i + 1);
    offsetMinutes = twoDigits(buf, i + 4);
  } else {
    return Number.NaN;
  }
  if (offsetHours < 0 || offsetHours > 23 || offsetMinutes < 0 || offsetMinutes > 59) return Number.NaN;
  const offset = (offsetHours * 60 + offsetMinutes) * 60_000_000;
  return zone === PLUS ? micros - offset : micros + offset;
}

/**
 * The shape most timestamps come in, `YYYY-MM-DDTHH:MM:SS` with 0, 3 or 6 fraction digits and `Z`, read
 * at fixed places in one go (~40 % less time than the general reading, which timestamps were the
 * largest part of when parsing the benchmark dataset); NaN for anything else, which the general reading
 * then decides (the same value where both read it: values.test.ts compares them). It reads its digits
 * itself rather than through parseDate and twoDigits: written that way, npm run bench:parse took 10-20 %
 * longer for CSV (four interleaved runs).
 */
function parseCommonTimestamp(buf: Uint8Array, start: number, end: number): number {
  const length = end - start;
  if (length !== 20 && length !== 24 && length !== 27) return Number.NaN;
  if (buf[start + 10] !== 0x54 || buf[start + 13] !== 0x3a || buf[start + 16] !== 0x3a || buf[end - 1] !== 0x5a) return Number.NaN;
  if (length > 20 && buf[start + 19] !== DOT) return Number.NaN;
  const y0 = buf[start]! - ZERO;
  const y1 = buf[start + 1]! - ZERO;
  const y2 = buf[start + 2]! - ZERO;
  const y3 = buf[start + 3]! - ZERO;
  const m0 = buf[start + 5]! - ZERO;
  const m1 = buf[start + 6]! - ZERO;
  const d0 = buf[start + 8]! - ZERO;
  const d1 = buf[start + 9]! - ZERO;
  const h0 = buf[start + 11]! - ZERO;
  const h1 = buf[start + 12]! - ZERO;
  const n0 = buf[start + 14]! - ZERO;
  const n1 = buf[start + 15]! - ZERO;
  const s0 = buf[start + 17]! - ZERO;
  const s1 = buf[start + 18]! - ZERO;
  // Each a digit: 0-9 as unsigned (a byte below '0' wraps to a large number).
  if (y0 >>> 0 > 9 || y1 >>> 0 > 9 || y2 >>> 0 > 9 || y3 >>> 0 > 9 || m0 >>> 0 > 9 || m1 >>> 0 > 9) return Number.NaN;
  if (d0 >>> 0 > 9 || d1 >>> 0 > 9 || h0 >>> 0 > 9 || h1 >>> 0 > 9 || n0 >>> 0 > 9 || n1 >>> 0 > 9) return Number.NaN;
  if (s0 >>> 0 > 9 || s1 >>> 0 > 9) return Number.NaN;
  let fraction = 0;
  for (let i = start + 20; i < end - 1; i++) {
    const digit = buf[i]! - ZERO;
    if (digit >>> 0 > 9) return Number.NaN;
    fraction = fraction * 10 + digit;
  }
  if (length === 24) fraction *= 1000;
  const month = m0 * 10 + m1;
  const day = d0 * 10 + d1;
  const hour = h0 * 10 + h1;
  const minute = n0 * 10 + n1;
  const second = s0 * 10 + s1;
  const index = (y0 * 1000 + y1 * 100 + y2 * 10 + y3 - TABLE_FIRST_YEAR) * 12 + month - 1;
  if (month < 1 || month > 12 || index < 0 || index >= MONTH_START.length) return Number.NaN;
  if (day < 1 || day > MONTH_LENGTH[index]! || hour > 23 || minute > 59 || second > 60) return Number.NaN;
  return (MONTH_START[index]! + day - 1) * MICROS_PER_DAY + ((hour * 60 + minute) * 60 + second) * 1_000_000 + fraction;
}

export const readTimestamp: ValueReader = (out, buf, start, end) => {
  start = trimStart(buf, start, end);
  end = trimEnd(buf, start, end);
  const micros = parseTimestamp(buf, start, end);
  if (Number.isNaN(micros)) return false;
  out.appendInt64(micros);
  return true;
};

/** Strings are kept byte for byte (the caller has checked the bytes are UTF-8). */
export const readString: ValueReader = (out, buf, start, end) => {
  out.appendBytes(buf, start, end);
  return true;
};

export function readerFor(type: string, allowNonFinite: boolean): ValueReader {
  switch (type) {
    case 'string':
      return readString;
    case 'int32':
      return readInt32;
    case 'int64':
      return readInt64;
    case 'float64':
      return makeFloat64Reader(allowNonFinite);
    case 'boolean':
      return readBoolean;
    case 'timestamp':
      return readTimestamp;
    case 'date':
      return readDate;
    default:
      throw new Error(`no reader for column type ${type}`);
  }
}

/** A human description of what a column of this type accepts, for rejection messages. */
export function expectationFor(type: string, allowNonFinite: boolean): string {
  switch (type) {
    case 'int32':
      return 'an integer between -2147483648 and 2147483647';
    case 'int64':
      return 'an integer between -9223372036854775808 and 9223372036854775807';
    case 'float64':
      return allowNonFinite ? 'a number' : 'a finite number (NaN and infinities are not allowed)';
    case 'boolean':
      return 'a boolean (true/false, 1/0, t/f, yes/no)';
    case 'timestamp':
      return 'an ISO-8601 timestamp or epoch seconds / milliseconds';
    case 'date':
      return 'a date (YYYY-MM-DD)';
    default:
      return 'a string';
  }
}

export function describeValue(buf: Uint8Array, start: number, end: number): string {
  const shown = Buffer.from(buf.buffer, buf.byteOffset + start, Math.min(end - start, 40)).toString('utf8');
  return end - start > 40 ? `"${shown}…"` : `"${shown}"`;
}
