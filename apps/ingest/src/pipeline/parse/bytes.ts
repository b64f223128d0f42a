/** The bytes the parsers look for, and the int32 range; shared so each is written once. */
export const TAB = 0x09;
export const LF = 0x0a;
export const CR = 0x0d;
export const SPACE = 0x20;
export const QUOTE = 0x22;
export const PLUS = 0x2b;
export const COMMA = 0x2c;
export const MINUS = 0x2d;
export const DOT = 0x2e;
export const ZERO = 0x30;
export const NINE = 0x39;
export const COLON = 0x3a;
export const BACKSLASH = 0x5c;
export const OPEN_BRACE = 0x7b;
export const CLOSE_BRACE = 0x7d;

export const INT32_MIN = -2147483648;
export const INT32_MAX = 2147483647;

/*
 * Four bytes at a time: the scanners read a little-endian 32-bit word and test all its bytes at once with
 * the classic "has a zero byte" bit trick. It marks a byte's top bit when the byte matches; a mark can be
 * wrong only above a true match, never below one, so the lowest mark is always the first matching byte.
 */

/** `byte` in each of a word's four bytes, to compare a word against. */
export function repeated(byte: number): number {
  return byte * 0x01010101;
}

/** Marks (0x80 in a byte) the bytes of `word` equal to the byte that `pattern` (see repeated) repeats. */
function equalMarks(word: number, pattern: number): number {
  const x = word ^ pattern;
  return (x - 0x01010101) & ~x & 0x80808080;
}

/** Marks the bytes of `word` below the byte that `pattern` repeats (at most 0x80). */
function belowMarks(word: number, pattern: number): number {
  return (word - pattern) & ~word & 0x80808080;
}

/** The index (0-3) of the first byte a non-zero mark word marks. */
function firstMarked(marks: number): number {
  return (31 - Math.clz32(marks & -marks)) >> 3;
}

/**
 * From `from`, four bytes at a time, to the first byte that equals the byte `a` or `b` repeats or is below
 * the one `below` repeats; or to where fewer than four bytes are left before `end` (the caller's byte loop
 * goes on from there, and stops at once on a marked byte).
 */
export function skipWords(view: DataView, from: number, end: number, a: number, b: number, below: number): number {
  let i = from;
  while (i + 4 <= end) {
    const word = view.getInt32(i, true);
    const marks = equalMarks(word, a) | equalMarks(word, b) | belowMarks(word, below);
    if (marks !== 0) return i + firstMarked(marks);
    i += 4;
  }
  return i;
}

/** A DataView over exactly the bytes of `bytes`, for reading words. */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
