import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Column } from '@sluice/shared';
import {
  Binary,
  Bool,
  DateDay,
  DateMillisecond,
  Decimal,
  Dictionary,
  Field,
  Float16,
  Float32,
  Float64,
  Int8,
  Int16,
  Int32,
  Int64,
  LargeUtf8,
  List,
  makeData,
  Null,
  makeVector,
  RecordBatch,
  RecordBatchStreamWriter,
  Schema,
  Struct,
  Table,
  tableToIPC,
  TimestampMicrosecond,
  TimestampMillisecond,
  TimestampNanosecond,
  TimestampSecond,
  Uint8,
  Uint16,
  Uint32,
  Uint64,
  Utf8,
  vectorFromArray,
  type Data,
  type DataType,
} from 'apache-arrow';
import type { ParsedChunk } from './columns';
import { parseOptions } from '../../test/parse-helpers';
import { dataOf, ipcStream } from '../../test/arrow-data';
import { IpcFramer } from './arrow-ipc';
import { ArrowParser } from './arrow-parser';
import { copyBits, countBits, float16 } from './arrow-columns';
import { BodyError, type ParseOptions } from './record-sink';

interface ArrowResult {
  chunks: ParsedChunk[];
  errors: { line: number; column: string | null; code: string; message: string }[];
  accepted: number;
  rejected: number;
  skipped: number;
  lines: number;
}

function parseArrow(body: Uint8Array, columns: Column[], overrides: Partial<ParseOptions> = {}, pieceSize = 1 << 16): ArrowResult {
  const parser = new ArrowParser(parseOptions(columns, { chunkRows: 1000, ...overrides }));
  const chunks: ParsedChunk[] = [];
  const errors: ArrowResult['errors'] = [];
  const take = () => {
    chunks.push(...parser.sink.takeChunks());
    errors.push(...parser.sink.takeErrors());
  };
  for (let at = 0; at < body.length; at += pieceSize) {
    parser.push(body.slice(at, at + pieceSize));
    take();
  }
  parser.end();
  take();
  const { rowsAccepted: accepted, rowsRejected: rejected, rowsSkipped: skipped } = parser.sink;
  return { chunks, errors, accepted, rejected, skipped, lines: parser.linesRead };
}

/** A column's stored values as raw numbers (int64 and timestamps as BigInt), nulls as null. */
function rawColumn(chunks: ParsedChunk[], index: number): unknown[] {
  const out: unknown[] = [];
  for (const chunk of chunks) {
    const column = chunk.columns[index]!;
    const { values, validity } = column;
    for (let row = 0; row < column.length; row++) {
      if (validity && (validity[row >> 3]! & (1 << (row & 7))) === 0) {
        out.push(null);
        continue;
      }
      switch (column.type) {
        case 'int32':
        case 'date':
          out.push(new Int32Array(values.buffer, values.byteOffset, column.length)[row]);
          break;
        case 'int64':
        case 'timestamp':
          out.push(new BigInt64Array(values.buffer, values.byteOffset, column.length)[row]);
          break;
        case 'float64':
          out.push(new Float64Array(values.buffer, values.byteOffset, column.length)[row]);
          break;
        case 'boolean':
          out.push((values[row >> 3]! & (1 << (row & 7))) !== 0);
          break;
        case 'string': {
          const offsets = new Int32Array(column.offsets!.buffer, column.offsets!.byteOffset, column.length + 1);
          out.push(Buffer.from(values.subarray(offsets[row]!, offsets[row + 1]!)).toString('utf8'));
        }
      }
    }
  }
  return out;
}

const col = (name: string, type: Column['type'], nullable = true): Column => ({ name, type, nullable });

describe('ArrowParser', () => {
  it('copies the stream types as they are, in pieces of any size, across chunk boundaries', () => {
    const columns = [
      col('id', 'int64', false),
      col('n', 'int32'),
      col('x', 'float64'),
      col('ok', 'boolean'),
      col('s', 'string'),
      col('d', 'date'),
      col('t', 'timestamp'),
    ];
    const rows = 2500;
    const batch = {
      id: dataOf(
        new Int64(),
        Array.from({ length: rows }, (_, i) => BigInt(i) * 3_000_000_000n),
        BigInt64Array,
      ),
      n: dataOf(
        new Int32(),
        Array.from({ length: rows }, (_, i) => (i % 7 === 0 ? null : i - 1000)),
        Int32Array,
      ),
      x: dataOf(
        new Float64(),
        Array.from({ length: rows }, (_, i) => i / 3),
        Float64Array,
      ),
      ok: vectorFromArray(
        Array.from({ length: rows }, (_, i) => (i % 5 === 0 ? null : i % 3 === 0)),
        new Bool(),
      ).data[0]!,
      s: vectorFromArray(
        Array.from({ length: rows }, (_, i) => (i % 11 === 0 ? null : `ü-${i}`)),
        new Utf8(),
      ).data[0]!,
      d: dataOf(
        new DateDay(),
        Array.from({ length: rows }, (_, i) => i - 719_162),
        Int32Array,
      ),
      t: dataOf(
        new TimestampMicrosecond('UTC'),
        Array.from({ length: rows }, (_, i) => BigInt(i) * 1_000_001n - 5n),
        BigInt64Array,
      ),
    };
    const body = ipcStream([batch, batch]);
    for (const piece of [1, 13, 4096, 1 << 20]) {
      const result = parseArrow(body, columns, {}, piece);
      assert.equal(result.accepted, rows * 2, `piece ${piece}`);
      assert.deepEqual(result.errors, []);
      assert.ok(result.chunks.length >= 6, 'chunks of at most chunkRows rows');
      assert.ok(result.chunks.every((chunk) => chunk.rows <= 1000));
      const half = (values: unknown[]) => values.slice(0, rows);
      assert.deepEqual(
        half(rawColumn(result.chunks, 0)),
        Array.from({ length: rows }, (_, i) => BigInt(i) * 3_000_000_000n),
      );
      assert.deepEqual(
        half(rawColumn(result.chunks, 1)),
        Array.from({ length: rows }, (_, i) => (i % 7 === 0 ? null : i - 1000)),
      );
      assert.deepEqual(
        half(rawColumn(result.chunks, 2)),
        Array.from({ length: rows }, (_, i) => i / 3),
      );
      assert.deepEqual(
        half(rawColumn(result.chunks, 3)),
        Array.from({ length: rows }, (_, i) => (i % 5 === 0 ? null : i % 3 === 0)),
      );
      assert.deepEqual(
        half(rawColumn(result.chunks, 4)),
        Array.from({ length: rows }, (_, i) => (i % 11 === 0 ? null : `ü-${i}`)),
      );
      assert.deepEqual(
        half(rawColumn(result.chunks, 5)),
        Array.from({ length: rows }, (_, i) => i - 719_162),
      );
      assert.deepEqual(
        rawColumn(result.chunks, 6).slice(rows),
        Array.from({ length: rows }, (_, i) => BigInt(i) * 1_000_001n - 5n),
      );
      // The chunks cover the rows in order: the last one ends at the last row.
      assert.equal(result.chunks.at(-1)!.toLine, rows * 2);
    }
  });

  it('widens integers and floats, and range-checks the casts that could overflow', () => {
    const columns = [col('a', 'int32'), col('b', 'int64'), col('f', 'float64')];
    const cases: [DataType, (number | bigint | null)[], new (n: number) => ArrayLike<unknown>, 'a' | 'b'][] = [
      [new Int8(), [-128, 127, null], Int8Array, 'a'],
      [new Int16(), [-32768, 32767], Int16Array, 'a'],
      [new Uint8(), [0, 255], Uint8Array, 'a'],
      [new Uint16(), [0, 65535], Uint16Array, 'a'],
      [new Int8(), [-128, 127], Int8Array, 'b'],
      [new Int32(), [-2147483648, 2147483647], Int32Array, 'b'],
      [new Uint32(), [0, 4294967295], Uint32Array, 'b'],
    ];
    for (const [type, values, ArrayType, target] of cases) {
      const result = parseArrow(ipcStream([{ [target]: dataOf(type, values, ArrayType) }]), columns);
      assert.deepEqual(result.errors, [], String(type));
      const expected = values.map((value) => (value === null ? null : target === 'b' ? BigInt(value) : Number(value)));
      assert.deepEqual(rawColumn(result.chunks, target === 'a' ? 0 : 1), expected, String(type));
    }
    // int64, uint32 and uint64 into int32; uint64 into int64: out-of-range rows are rejected, their neighbours kept.
    const narrowing = parseArrow(
      ipcStream([
        {
          a: dataOf(new Int64(), [-2147483648n, 2147483647n, 2147483648n, -2147483649n, null], BigInt64Array),
          b: dataOf(new Uint64(), [0n, 2n ** 63n - 1n, 5n, 7n, 2n ** 63n], BigUint64Array),
        },
      ]),
      columns,
    );
    assert.deepEqual(
      narrowing.errors.map((error) => [error.line, error.column, error.code]),
      [
        [3, 'a', 'row.invalid_value'],
        [4, 'a', 'row.invalid_value'],
        [5, 'b', 'row.invalid_value'],
      ],
    );
    assert.match(narrowing.errors[0]!.message, /2147483648 is not an integer between -2147483648 and 2147483647/);
    assert.deepEqual(rawColumn(narrowing.chunks, 0), [-2147483648, 2147483647]);
    assert.deepEqual(rawColumn(narrowing.chunks, 1), [0n, 2n ** 63n - 1n]);
    const unsigned = parseArrow(ipcStream([{ a: dataOf(new Uint32(), [2147483647, 2147483648], Uint32Array) }]), columns);
    assert.deepEqual(
      unsigned.errors.map((error) => error.line),
      [2],
    );

    const floats = parseArrow(
      ipcStream([{ f: dataOf(new Float32(), [1.5, -0.1, 3.4028234663852886e38, Number.NaN, null], Float32Array) }]),
      columns,
    );
    assert.deepEqual(
      floats.errors.map((error) => [error.line, error.code]),
      [[4, 'row.invalid_value']],
    );
    assert.deepEqual(rawColumn(floats.chunks, 2), [1.5, Math.fround(-0.1), 3.4028234663852886e38, null]);
    const halves = parseArrow(ipcStream([{ f: dataOf(new Float16(), [0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00], Uint16Array) }]), columns);
    assert.deepEqual(
      halves.errors.map((error) => [error.line, error.code]),
      [[5, 'row.invalid_value']],
    );
    assert.deepEqual(rawColumn(halves.chunks, 2), [1, -2, 65504, 2 ** -24]);
    const nonFinite = parseArrow(ipcStream([{ f: dataOf(new Float64(), [Number.NaN, Number.POSITIVE_INFINITY], Float64Array) }]), columns, {
      allowNonFinite: true,
    });
    assert.deepEqual(rawColumn(nonFinite.chunks, 2), [Number.NaN, Number.POSITIVE_INFINITY]);
  });

  it('takes timestamps of every unit and zone into microseconds, rejecting what would lose precision or overflow', () => {
    const columns = [col('t', 'timestamp'), col('d', 'date')];
    const read = (data: Data, column: 't' | 'd') => {
      const result = parseArrow(ipcStream([{ [column]: data }]), columns);
      return {
        errors: result.errors.map((error) => [error.line, error.message]),
        values: rawColumn(result.chunks, column === 't' ? 0 : 1),
      };
    };
    const seconds = read(dataOf(new TimestampSecond('America/New_York'), [0n, -1n, 9223372036854n, 9223372036855n], BigInt64Array), 't');
    assert.deepEqual(seconds.values, [0n, -1_000_000n, 9223372036854_000_000n]);
    assert.deepEqual(seconds.errors, [[4, '9223372036855 s is out of the range of microsecond timestamps']]);
    const millis = read(
      dataOf(new TimestampMillisecond(), [1_700_000_000_123n, -9223372036854775n, -9223372036854776n], BigInt64Array),
      't',
    );
    assert.deepEqual(millis.values, [1_700_000_000_123_000n, -9223372036854775_000n]);
    assert.deepEqual(
      millis.errors.map(([line]) => line),
      [3],
    );
    const micros = read(dataOf(new TimestampMicrosecond('Asia/Tokyo'), [-(2n ** 63n), 2n ** 63n - 1n], BigInt64Array), 't');
    assert.deepEqual(micros.values, [-(2n ** 63n), 2n ** 63n - 1n]);
    const nanos = read(
      dataOf(new TimestampNanosecond('UTC'), [1_700_000_000_123_456_000n, 1_700_000_000_123_456_001n, -1000n, null], BigInt64Array),
      't',
    );
    assert.deepEqual(nanos.values, [1_700_000_000_123_456n, -1n, null]);
    assert.deepEqual(nanos.errors, [[2, '1700000000123456001 ns is not a whole number of microseconds (it would lose precision)']]);
    const dates = read(dataOf(new DateMillisecond(), [0n, 86_400_000n * 19_000n, -86_400_000n, 86_400_001n], BigInt64Array), 'd');
    assert.deepEqual(dates.values, [0, 19_000, -1]);
    assert.deepEqual(dates.errors, [[4, '86400001 ms is not a whole day (a date64 must be midnight UTC)']]);
  });

  it('reads large_utf8 and dictionary-encoded strings, replaced and delta dictionaries too', () => {
    const columns = [col('s', 'string'), col('k', 'string', false)];
    const dictionary = vectorFromArray(['red', null, 'green', 'blue', 'red', 'ünïcode'], new Dictionary(new Utf8(), new Int32()));
    const large = vectorFromArray(['a', null, 'bé'], new LargeUtf8());
    const table = new Table({ s: large, k: vectorFromArray(['x', 'y', 'z'], new Dictionary(new Utf8(), new Int8())) });
    const one = parseArrow(
      ipcStream([{ s: dictionary.data[0]!, k: vectorFromArray(['p', 'q', 'r', 's', 't', 'u'], new Utf8()).data[0]! }]),
      columns,
    );
    assert.deepEqual(one.errors, []);
    assert.deepEqual(rawColumn(one.chunks, 0), ['red', null, 'green', 'blue', 'red', 'ünïcode']);
    const two = parseArrow(tableToIPC(table, 'stream'), columns, {}, 7);
    assert.deepEqual(rawColumn(two.chunks, 0), ['a', null, 'bé']);
    assert.deepEqual(rawColumn(two.chunks, 1), ['x', 'y', 'z']);

    // A dictionary replaced between batches, then extended by a delta.
    const type = new Dictionary(new Utf8(), new Int16(), 0);
    const first = makeVector(makeData({ type, length: 2, data: Int16Array.of(0, 1), dictionary: vectorFromArray(['a', 'b'], new Utf8()) }));
    const second = makeVector(
      makeData({ type, length: 2, data: Int16Array.of(1, 0), dictionary: vectorFromArray(['c', 'd'], new Utf8()) }),
    );
    const writer = new RecordBatchStreamWriter();
    const field = new Field('s', type, true);
    for (const vector of [first, second]) {
      writer.write(new RecordBatch(new Schema([field]), makeData({ type: new Struct([field]), length: 2, children: [vector.data[0]!] })));
    }
    const replaced = parseArrow(writer.toUint8Array(true), [col('s', 'string')]);
    assert.deepEqual(rawColumn(replaced.chunks, 0), ['a', 'b', 'd', 'c']);
  });

  it('reads dictionaries cut by block boundaries when each block is filled again after its push, as the worker does', () => {
    const type = new Dictionary(new Utf8(), new Int16(), 0);
    const words = Array.from({ length: 300 }, (_, i) => `word-${i % 37}-${'d'.repeat(i % 5)}`);
    const field = new Field('s', type, true);
    const writer = new RecordBatchStreamWriter();
    for (let b = 0; b < 3; b++) {
      const vector = vectorFromArray(
        words.map((word) => `${word}-${b}`),
        type,
      );
      writer.write(new RecordBatch(new Schema([field]), makeData({ type: new Struct([field]), length: 300, children: [vector.data[0]!] })));
    }
    const body = writer.toUint8Array(true);
    for (const piece of [7, 64, 1000]) {
      const parser = new ArrowParser(parseOptions([col('s', 'string')], { chunkRows: 1000 }));
      const block = new Uint8Array(piece);
      const chunks: ParsedChunk[] = [];
      for (let at = 0; at < body.length; at += piece) {
        const part = body.subarray(at, at + piece);
        block.set(part);
        parser.push(block.subarray(0, part.length));
        chunks.push(...parser.sink.takeChunks());
        block.fill(0xee); // the block goes back and is filled with the next bytes
      }
      parser.end();
      chunks.push(...parser.sink.takeChunks());
      assert.deepEqual(
        rawColumn(chunks, 0),
        [0, 1, 2].flatMap((b) => words.map((word) => `${word}-${b}`)),
        `pieces of ${piece}`,
      );
    }
  });

  it('rejects the rows of a dictionary-encoded batch whose dictionary never came, without failing the body', () => {
    const body = ipcStream([{ s: vectorFromArray(['a', 'b'], new Dictionary(new Utf8(), new Int32())).data[0]! }]);
    const kept: Uint8Array[] = [];
    new IpcFramer(Number.MAX_SAFE_INTEGER).push(body, ({ bytes, message }) => {
      if (!message.isDictionaryBatch()) kept.push(bytes.slice());
    });
    const withoutDictionary = Buffer.concat([...kept, Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0)]);
    const result = parseArrow(withoutDictionary, [col('s', 'string')]);
    assert.equal(result.accepted, 0);
    assert.deepEqual(
      result.errors.map((error) => [error.line, error.message]),
      [
        [1, 'dictionary index 0 is outside the dictionary of 0 entries'],
        [2, 'dictionary index 1 is outside the dictionary of 0 entries'],
      ],
    );
  });

  it('takes a sliced batch and a missing nullable column, and refuses a missing required one', () => {
    const source = vectorFromArray(
      Array.from({ length: 20 }, (_, i) => (i % 3 === 0 ? null : `v${i}`)),
      new Utf8(),
    );
    const sliced = source.slice(5, 17);
    const flags = vectorFromArray(
      Array.from({ length: 20 }, (_, i) => i % 2 === 0),
      new Bool(),
    ).slice(5, 17);
    const result = parseArrow(tableToIPC(new Table({ s: sliced, ok: flags }), 'stream'), [
      col('s', 'string'),
      col('ok', 'boolean'),
      col('gone', 'int64'),
    ]);
    assert.deepEqual(
      rawColumn(result.chunks, 0),
      Array.from({ length: 12 }, (_, i) => ((i + 5) % 3 === 0 ? null : `v${i + 5}`)),
    );
    assert.deepEqual(
      rawColumn(result.chunks, 1),
      Array.from({ length: 12 }, (_, i) => (i + 5) % 2 === 0),
    );
    assert.deepEqual(rawColumn(result.chunks, 2), Array(12).fill(null));
    // A field of the null type (an all-None pandas column) is all nulls; in a required column, every row is rejected.
    const nulls = ipcStream([{ id: dataOf(new Int64(), [1n, 2n], BigInt64Array), gone: makeData({ type: new Null(), length: 2 }) }]);
    assert.deepEqual(rawColumn(parseArrow(nulls, [col('id', 'int64'), col('gone', 'string')]).chunks, 1), [null, null]);
    assert.deepEqual(
      parseArrow(nulls, [col('id', 'int64'), col('gone', 'string', false)]).errors.map((error) => [error.line, error.code]),
      [
        [1, 'row.missing_column'],
        [2, 'row.missing_column'],
      ],
    );
    assert.throws(
      () => parseArrow(tableToIPC(new Table({ s: sliced }), 'stream'), [col('s', 'string'), col('id', 'int64', false)]),
      (error: unknown) => error instanceof BodyError && /required column "id" has no field/.test(error.message),
    );
  });

  it('numbers rejected rows across batches, keeps their neighbours, and skips rows stored before', () => {
    const columns = [col('id', 'int64', false), col('s', 'string')];
    const batch = (ids: (bigint | null)[]) => ({
      id: dataOf(new Int64(), ids, BigInt64Array),
      s: vectorFromArray(
        ids.map((id) => `s${id}`),
        new Utf8(),
      ).data[0]!,
    });
    const body = ipcStream([batch([1n, 2n, null, 4n]), batch([5n, null, 7n]), batch([8n, 9n])]);
    const result = parseArrow(body, columns, { maxQuarantinedRows: 10 });
    assert.deepEqual(result.errors, [
      { line: 3, column: 'id', code: 'row.missing_column', message: 'column "id" is required but has no value' },
      { line: 6, column: 'id', code: 'row.missing_column', message: 'column "id" is required but has no value' },
    ]);
    assert.deepEqual(rawColumn(result.chunks, 0), [1n, 2n, 4n, 5n, 7n, 8n, 9n]);
    assert.equal(result.lines, 9);
    // What a keyed retry does: lines 1-4 and 8 were stored by an earlier attempt.
    const retry = parseArrow(body, columns, {
      skipLines: [
        [1, 4],
        [8, 8],
      ],
    });
    assert.deepEqual(rawColumn(retry.chunks, 0), [5n, 7n, 9n]);
    assert.equal(retry.accepted, 7);
    assert.equal(retry.skipped, 4);
    // Rows 5 and 7 share a chunk; its span covers the lines skipped or rejected before it.
    assert.deepEqual(
      retry.chunks.map((chunk) => [chunk.fromLine, chunk.toLine]),
      [
        [1, 7],
        [8, 9],
      ],
    );
  });

  it('gathers the rows around many rejected ones into shared chunks, bitmaps at any offset', () => {
    const rows = 300;
    const ids = Array.from({ length: rows }, (_, i) => (i % 3 === 1 ? null : BigInt(i)));
    const flags = Array.from({ length: rows }, (_, i) => (i % 5 === 0 ? null : i % 2 === 0));
    const words = Array.from({ length: rows }, (_, i) => (i % 7 === 0 ? null : 'w'.repeat(i % 4)));
    const columns = [col('id', 'int64', false), col('ok', 'boolean'), col('w', 'string')];
    const result = parseArrow(
      ipcStream([
        {
          id: dataOf(new Int64(), ids, BigInt64Array),
          ok: vectorFromArray(flags, new Bool()).data[0]!,
          w: vectorFromArray(words, new Utf8()).data[0]!,
        },
      ]),
      columns,
      { chunkRows: 64 },
    );
    const kept = Array.from({ length: rows }, (_, i) => i).filter((i) => i % 3 !== 1);
    assert.equal(result.rejected, 100);
    assert.deepEqual(
      result.chunks.map((chunk) => chunk.rows),
      [64, 64, 64, 8],
    );
    assert.deepEqual(
      rawColumn(result.chunks, 0),
      kept.map((i) => BigInt(i)),
    );
    assert.deepEqual(
      rawColumn(result.chunks, 1),
      kept.map((i) => flags[i]),
    );
    assert.deepEqual(
      rawColumn(result.chunks, 2),
      kept.map((i) => words[i]),
    );
    // A chunk too large in bytes is halved until it fits.
    const small = parseArrow(
      ipcStream([
        {
          w: vectorFromArray(
            Array.from({ length: 100 }, () => 'x'.repeat(1000)),
            new Utf8(),
          ).data[0]!,
        },
      ]),
      [col('w', 'string')],
      {
        chunkBytes: 30_000,
      },
    );
    assert.ok(small.chunks.every((chunk) => chunk.bytes <= 30_000 && chunk.rows >= 10));
    assert.equal(rawColumn(small.chunks, 0).length, 100);
  });

  it('keeps a rejected row as JSON for the quarantine', () => {
    const parser = new ArrowParser(parseOptions([col('id', 'int32', false)], { maxQuarantinedRows: 5 }));
    parser.push(
      ipcStream([{ id: dataOf(new Int64(), [1n, 2n ** 40n], BigInt64Array), note: vectorFromArray(['a', 'b'], new Utf8()).data[0]! }]),
    );
    parser.end();
    assert.deepEqual(
      parser.sink.takeQuarantined().map((row) => [row.line, row.raw]),
      [[2, '{"id":"1099511627776","note":"b"}']],
    );
  });

  it('refuses types that do not go into a column without loss, naming the field and its type', () => {
    const cases: [Column, Data][] = [
      [col('v', 'int64'), vectorFromArray([[1, 2]], new List(new Field('item', new Int32(), true))).data[0]!],
      [
        col('v', 'string'),
        makeData({ type: new Struct([new Field('a', new Int32())]), length: 1, children: [dataOf(new Int32(), [1], Int32Array)] }),
      ],
      [col('v', 'float64'), makeData({ type: new Decimal(2, 10, 128), length: 1, data: new Uint32Array(4) })],
      [col('v', 'string'), vectorFromArray([new Uint8Array([1])], new Binary()).data[0]!],
      [col('v', 'int32'), dataOf(new Float64(), [1], Float64Array)],
      [col('v', 'timestamp'), dataOf(new Int64(), [1n], BigInt64Array)],
    ];
    for (const [column, data] of cases) {
      assert.throws(
        () => parseArrow(ipcStream([{ v: data }]), [column]),
        (error: unknown) =>
          error instanceof BodyError && error.message.includes(`field "v" is ${String(data.type)}`) && error.message.includes(column.type),
        String(data.type),
      );
    }
    // An unknown field is ignored, or refused when the stream says so.
    const extra = ipcStream([
      { v: dataOf(new Int32(), [1], Int32Array), other: vectorFromArray([[1]], new List(new Field('item', new Int32(), true))).data[0]! },
    ]);
    assert.deepEqual(rawColumn(parseArrow(extra, [col('v', 'int32')]).chunks, 0), [1]);
    assert.throws(() => parseArrow(extra, [col('v', 'int32')], { unknownColumns: 'reject' }), /"other" are not columns of the stream/);
  });

  it('refuses malformed streams: garbage, a cut message, no schema, a message over the limit', () => {
    const columns = [col('v', 'int32')];
    const body = ipcStream([
      {
        v: dataOf(
          new Int32(),
          Array.from({ length: 1000 }, (_, i) => i),
          Int32Array,
        ),
      },
    ]);
    assert.throws(() => parseArrow(new TextEncoder().encode('id,name\n1,a\n'), columns), BodyError);
    assert.throws(() => parseArrow(body.subarray(0, body.length - 100), columns), /ends inside a message/);
    assert.throws(() => parseArrow(new Uint8Array(0), columns), /no schema message/);
    // FLIGHT_MAX_MESSAGE_BYTES at its edge: the record batch's message, prefix and metadata included.
    let largest = 0;
    new IpcFramer(Number.MAX_SAFE_INTEGER).push(body, ({ bytes }) => {
      largest = Math.max(largest, bytes.length);
    });
    assert.equal(parseArrow(body, columns, { maxMessageBytes: largest }).accepted, 1000);
    assert.throws(
      () => parseArrow(body, columns, { maxMessageBytes: largest - 1 }),
      new RegExp(`a message of ${largest} bytes is larger than the limit of ${largest - 1} bytes \\(FLIGHT_MAX_MESSAGE_BYTES\\)`),
    );
  });

  it('copies and counts bits at any offset', () => {
    const bits = Uint8Array.of(0b10110101, 0b01101110, 0b11111111, 0b00000001);
    for (let from = 0; from < 16; from++) {
      for (const count of [1, 7, 8, 9, 15]) {
        const target = new Uint8Array(Math.ceil(count / 8));
        copyBits(bits, from, target, count);
        let set = 0;
        for (let i = 0; i < count; i++) {
          const expected = (bits[(from + i) >> 3]! >> ((from + i) & 7)) & 1;
          set += expected;
          assert.equal((target[i >> 3]! >> (i & 7)) & 1, expected, `bit ${i} from ${from}`);
        }
        assert.equal(countBits(bits, from, count), set);
      }
    }
    assert.equal(float16(0x3555), 0.333251953125);
  });
});
