/**
 * The statistics the native route computes against parquet-wasm's own: the same batch encoded by
 * ParquetEncoder (statistics from statistics.ts) and by parquet-wasm with its statistics on (pages then
 * compressed the same way) must give the same file, byte for byte but for the order of the key-value
 * pairs (parquet-wasm writes them in hash order, different from one encode to the next).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { Column } from '@sluice/shared';
import { prng } from '@sluice/testkit';
import { parquetMetadata } from 'hyparquet';
import { parse } from '../../test/parse-helpers';
import { loadNativeZstd, ParquetEncoder, parquetWasmWrite } from '../parquet-encode';
import { compressPages, UnsupportedParquetError } from './compress-pages';
import { ThriftReader, type ThriftField } from './thrift-compact';

const KEY_VALUE_METADATA = 5; // FileMetaData field id

const columns: Column[] = [
  { name: 'id', type: 'int64', nullable: false },
  { name: 'i32', type: 'int32', nullable: true },
  { name: 'i64', type: 'int64', nullable: true },
  { name: 'f64', type: 'float64', nullable: true },
  { name: 'flag', type: 'boolean', nullable: true },
  { name: 'at', type: 'timestamp', nullable: true },
  { name: 'day', type: 'date', nullable: true },
  { name: 'text', type: 'string', nullable: true },
  { name: 'label', type: 'string', nullable: false },
  { name: 'none', type: 'string', nullable: true },
  { name: 'none_f64', type: 'float64', nullable: true },
  { name: 'all_true', type: 'boolean', nullable: false },
  { name: 'zeros', type: 'float64', nullable: true },
  { name: 'near', type: 'int64', nullable: true },
  { name: 'i32_required', type: 'int32', nullable: false },
  { name: 'f64_required', type: 'float64', nullable: false },
  { name: 'day_required', type: 'date', nullable: false },
];

/**
 * Characters around every place the truncation of a string bound changes: 1- to 4-byte UTF-8, the last of
 * each width (which cannot be raised without growing), the one before the surrogates and the last one.
 */
const CHARACTERS = ['a', 'z', '~', '\u007f', 'é', 'ÿ', '\u07ff', 'ℤ', '\ud7ff', '\uffff', '😀', '\u{10ffff}', ','];

function text(next: () => number): string {
  const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)]!;
  // Often around the 64-byte cut (52-107 bytes), with a shared prefix so the cut decides the order.
  const prefix = 'p'.repeat(next() < 0.7 ? 52 + Math.floor(next() * 12) : Math.floor(next() * 52));
  let value = next() < 0.7 ? prefix : '';
  const length = Math.floor(next() * 12);
  for (let i = 0; i < length; i++) value += pick(CHARACTERS);
  return next() < 0.1 ? pick(CHARACTERS).repeat(Math.floor(next() * 40)) : value;
}

function body(rows: number, seed: number): string {
  const next = prng(seed);
  const blank = () => next() < 0.15;
  const lines = [columns.map((c) => c.name).join(',')];
  const int32 = [-(2 ** 31), 2 ** 31 - 1, 0, -1];
  const int64 = ['-9223372036854775808', '9223372036854775807', '-4294967296', '4294967295', '4294967296', '-1'];
  const floats = ['NaN', 'Infinity', '-Infinity', '0', '-0', '1e-300', '-2.5'];
  for (let i = 0; i < rows; i++) {
    const cell = (value: () => string) => (blank() ? '' : value());
    lines.push(
      [
        String(i - Math.floor(rows / 2)),
        cell(() => String(next() < 0.2 ? int32[Math.floor(next() * int32.length)] : Math.floor(next() * 2e6) - 1e6)),
        cell(() => (next() < 0.2 ? int64[Math.floor(next() * int64.length)]! : String(Math.floor((next() - 0.5) * 2 ** 53)))),
        cell(() => (next() < 0.3 ? floats[Math.floor(next() * floats.length)]! : String((next() - 0.5) * 1e6))),
        cell(() => String(next() < 0.5)),
        cell(() => new Date(Date.UTC(1900, 0, 1) + Math.floor(next() * 6e12)).toISOString()),
        cell(() => new Date(Date.UTC(1900, 0, 1) + Math.floor(next() * 6e12)).toISOString().slice(0, 10)),
        cell(() => `"${text(next)}"`),
        `"${text(next)}"`,
        '',
        next() < 0.5 ? '' : 'NaN',
        'true',
        // Zero bounds of either sign (NaN and nulls aside).
        cell(() => ['0', '-0', 'NaN', '0', '-0', '5'][Math.floor(next() * 6)]!),
        // The same high word, so the low words decide.
        cell(() => String((next() < 0.5 ? -1 : 1) * (7 * 2 ** 32 + Math.floor(next() * 2 ** 32)))),
        String(Math.floor(next() * 200) - 100),
        next() < 0.2 ? ['0', '-0'][Math.floor(next() * 2)] : String((next() - 0.5) * 10),
        new Date(Date.UTC(1960, 0, 1) + Math.floor(next() * 3e12)).toISOString().slice(0, 10),
      ].join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}

function footerStart(file: Uint8Array): number {
  return file.byteLength - 8 - new DataView(file.buffer, file.byteOffset).getUint32(file.byteLength - 8, true);
}

function footerFields(file: Uint8Array): ThriftField[] {
  return new ThriftReader(file.subarray(0, file.byteLength - 8), footerStart(file)).struct();
}

describe('column chunk statistics computed from the parsed columns', () => {
  let compress: (page: Uint8Array) => Uint8Array;
  before(async () => {
    const native = await loadNativeZstd();
    assert.ok('compress' in native, 'the native zstd binding loads on this platform');
    compress = native.compress;
  });

  const cases = [
    { seed: 1, rows: 3000, rowGroupRows: 1_048_576, chunkRows: 1024 },
    { seed: 2, rows: 3000, rowGroupRows: 1000, chunkRows: 7 }, // row groups cut chunks in two
    { seed: 3, rows: 200, rowGroupRows: 13, chunkRows: 50 },
    { seed: 4, rows: 5, rowGroupRows: 2, chunkRows: 1 },
    { seed: 5, rows: 3000, rowGroupRows: 3, chunkRows: 100 }, // many bounds of a few values each
  ];
  for (const { seed, rows, rowGroupRows, chunkRows } of cases) {
    it(`writes what parquet-wasm writes (seed ${seed}, ${rows} rows, row groups of ${rowGroupRows}, chunks of ${chunkRows})`, async () => {
      const parsed = parse('csv', body(rows, seed), columns, { chunkRows, allowNonFinite: true });
      assert.equal(parsed.rejected, 0, JSON.stringify(parsed.errors.slice(0, 3)));
      const options = { stream: 's', schemaVersion: 1, rowGroupRows };
      const encoder = new ParquetEncoder();
      const ours = await encoder.encode({ columns }, parsed.chunks, { ...options, zstd: 'native' });
      assert.equal(encoder.refusal, null, 'the native route was taken');
      const theirs = compressPages(
        await parquetWasmWrite({ columns }, parsed.chunks, options, { zstd: false, statistics: true }),
        compress,
      );
      assertSameFile(ours, theirs);
    });
  }

  it('gives readers the bounds of the values', async () => {
    const csv = `${columns.map((c) => c.name).join(',')}\n${[
      '5,7,-3,0,true,2024-01-01T00:00:00Z,2024-01-01,"b",x,,,true,,,1,1,2024-01-01',
      '-2,,9,-0,,1969-12-31T23:59:59Z,,"a",y,,NaN,true,,,2,2,2024-01-01',
      `9,-7,,NaN,false,,1970-01-02,"${'é'.repeat(40)}",z,,,true,,,3,3,2024-01-01`,
    ].join('\n')}\n`;
    const parsed = parse('csv', csv, columns, { allowNonFinite: true });
    assert.equal(parsed.rejected, 0);
    const encoder = new ParquetEncoder();
    const file = await encoder.encode({ columns }, parsed.chunks, { stream: 's', schemaVersion: 1, rowGroupRows: 100, zstd: 'native' });
    assert.equal(encoder.refusal, null, 'the native route was taken');
    const metadata = parquetMetadata(file.slice().buffer);
    const stats = Object.fromEntries(
      metadata.row_groups[0]!.columns.map((chunk) => [chunk.meta_data!.path_in_schema[0], chunk.meta_data!.statistics]),
    );
    assert.deepEqual([stats.id!.min_value, stats.id!.max_value, stats.id!.null_count], [-2n, 9n, 0n]);
    assert.deepEqual([stats.i32!.min_value, stats.i32!.max_value, stats.i32!.null_count], [-7, 7, 1n]);
    assert.deepEqual([stats.flag!.min_value, stats.flag!.max_value], [false, true]);
    assert.ok(Object.is(stats.f64!.min_value, -0) && Object.is(stats.f64!.max_value, 0), 'zero bounds widened to both zeros, NaN left out');
    assert.equal(stats.text!.min_value, 'a');
    assert.equal(stats.text!.max_value, 'é'.repeat(31) + 'ê', 'a long maximum cut to 64 bytes and raised');
    assert.equal(stats.text!.is_max_value_exact, false);
    assert.deepEqual([stats.none!.min_value, stats.none!.null_count], [undefined, 3n]);
    assert.deepEqual([stats.none_f64!.min_value, stats.none_f64!.null_count], [undefined, 2n]);
  });

  it('falls back to parquet-wasm for the batch and those after it when compressPages refuses', async () => {
    const parsed = parse('csv', body(500, 6), columns, { chunkRows: 64, allowNonFinite: true });
    const options = { stream: 's', schemaVersion: 1, rowGroupRows: 200 };
    const reference = await parquetWasmWrite({ columns }, parsed.chunks, options, { zstd: true, statistics: true });
    // A fake fault: no parquet-wasm file that compressPages refuses can be written through the encoder,
    // so the statistics step refuses instead.
    const refuse = () => {
      throw new UnsupportedParquetError('a test refusal');
    };
    const refusing = new ParquetEncoder(refuse);
    const fallback = await refusing.encode({ columns }, parsed.chunks, { ...options, zstd: 'native' });
    assert.equal(refusing.refusal, 'a test refusal');
    assertSameFile(fallback, reference);
    // Once refused, that encoder stays on parquet-wasm's route; another one is not affected.
    const next = await refusing.encode({ columns }, parsed.chunks, { ...options, zstd: 'native' });
    assertSameFile(next, reference);
    const other = new ParquetEncoder();
    await other.encode({ columns }, parsed.chunks, { ...options, zstd: 'native' });
    assert.equal(other.refusal, null);
  });
});

/** The same pages and footer, the key-value pairs in any order. */
function assertSameFile(ours: Uint8Array, theirs: Uint8Array) {
  assert.deepEqual(ours.subarray(0, footerStart(ours)), theirs.subarray(0, footerStart(theirs)), 'the pages and indexes');
  const pairs = (fields: ThriftField[]) => {
    const list = new ThriftReader(fields.find((field) => field.id === KEY_VALUE_METADATA)!.value).list();
    return list.items.map((item) => Buffer.from(item).toString('hex')).sort();
  };
  const [oursFooter, theirsFooter] = [footerFields(ours), footerFields(theirs)];
  assert.deepEqual(pairs(oursFooter), pairs(theirsFooter));
  const rest = (fields: ThriftField[]) => fields.filter((field) => field.id !== KEY_VALUE_METADATA);
  assert.deepEqual(rest(oursFooter), rest(theirsFooter), 'the footer, statistics included');
}
