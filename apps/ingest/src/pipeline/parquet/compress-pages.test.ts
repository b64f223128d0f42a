/**
 * The native zstd route against parquet-wasm's own: the same batch encoded both ways must read back the
 * same through independent readers (DuckDB for the rows, hyparquet for the footer and offset indexes),
 * with zstd on every column chunk, the same statistics, and page locations that point at the pages.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { Column } from '@sluice/shared';
import { parquetMetadata, readColumnIndex, readOffsetIndex, type FileMetaData } from 'hyparquet';
import * as wasm from 'parquet-wasm';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { parse } from '../../test/parse-helpers';
import { loadNativeZstd, ParquetEncoder, type ZstdRoute } from '../parquet-encode';
import { compressPages, UnsupportedParquetError } from './compress-pages';

const columns: Column[] = [
  { name: 'id', type: 'int64', nullable: false },
  { name: 'small', type: 'int32', nullable: true },
  { name: 'label', type: 'string', nullable: true },
  { name: 'text', type: 'string', nullable: true },
  { name: 'amount', type: 'float64', nullable: true },
  { name: 'flag', type: 'boolean', nullable: true },
  { name: 'at', type: 'timestamp', nullable: true },
  { name: 'day', type: 'date', nullable: true },
  { name: 'empty', type: 'string', nullable: true },
];

/** 60,000 rows with nulls in every nullable column, repeated labels (dictionary pages) and distinct text. */
function body(): string {
  const lines = [columns.map((c) => c.name).join(',')];
  for (let i = 0; i < 60_000; i++) {
    const blank = i % 7 === 3;
    lines.push(
      [
        i,
        blank ? '' : ((i * 7919) % 100_000) - 50_000,
        blank ? '' : `label-${i % 13}`,
        blank ? '' : `"text ${i * 31}, ""quoted"" ${'é'.repeat(i % 5)}"`,
        blank ? '' : ((i * 37) % 10_000) / 100 - 20,
        blank ? '' : i % 3 === 0,
        blank ? '' : new Date(Date.UTC(2024, 0, 1) + i * 61_000).toISOString(),
        blank ? '' : `20${10 + (i % 20)}-0${1 + (i % 9)}-1${i % 10}`,
        '',
      ].join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}

async function encode(zstd: ZstdRoute, rowGroupRows: number): Promise<Uint8Array> {
  const { chunks, rejected } = parse('csv', body(), columns, { chunkRows: 16_384 });
  assert.equal(rejected, 0);
  return new ParquetEncoder().encode({ columns }, chunks, { stream: 's', schemaVersion: 1, rowGroupRows, zstd });
}

async function nativeCompress() {
  const native = await loadNativeZstd();
  assert.ok('compress' in native, 'the native zstd binding loads on this platform');
  return native.compress;
}

function metadataOf(file: Uint8Array): FileMetaData {
  return parquetMetadata(file.slice().buffer);
}

describe('compressPages: Parquet pages compressed natively', () => {
  let dir: string;
  let connection: DuckDBConnection;
  before(async () => {
    await nativeCompress();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-zstd-'));
    connection = await (await DuckDBInstance.create(':memory:')).connect();
  });
  after(() => {
    connection.closeSync();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function rows(file: Uint8Array, name: string) {
    const at = path.join(dir, name);
    fs.writeFileSync(at, file);
    return (await connection.runAndReadAll(`SELECT * FROM '${at}' ORDER BY id`)).getRowsJS();
  }

  for (const rowGroupRows of [1_048_576, 25_000]) {
    it(`reads back the same as parquet-wasm's zstd, with the same footer (row groups of ${rowGroupRows})`, async () => {
      const native = await encode('native', rowGroupRows);
      const reference = await encode('wasm', rowGroupRows);
      const expected = await rows(reference, `wasm-${rowGroupRows}.parquet`);
      assert.equal(expected.length, 60_000);
      assert.deepEqual(await rows(native, `native-${rowGroupRows}.parquet`), expected);

      const ours = metadataOf(native);
      const theirs = metadataOf(reference);
      assert.equal(ours.row_groups.length, rowGroupRows === 25_000 ? 3 : 1);
      // (parquet-wasm writes the key-value pairs in hash order, which differs from one encode to the next)
      const pairs = (m: FileMetaData) => m.key_value_metadata?.map(({ key, value }) => `${key}=${value}`).sort();
      assert.deepEqual(pairs(ours), pairs(theirs));
      assert.deepEqual(ours.schema, theirs.schema);
      for (const [g, group] of ours.row_groups.entries()) {
        assert.equal(group.num_rows, theirs.row_groups[g]!.num_rows);
        let compressed = 0n;
        for (const [c, chunk] of group.columns.entries()) {
          const meta = chunk.meta_data!;
          const reference = theirs.row_groups[g]!.columns[c]!.meta_data!;
          assert.equal(meta.codec, 'ZSTD');
          assert.deepEqual(meta.statistics, reference.statistics, `${meta.path_in_schema} statistics`);
          assert.deepEqual(meta.encodings, reference.encodings);
          assert.equal(meta.dictionary_page_offset !== undefined, reference.dictionary_page_offset !== undefined);
          compressed += meta.total_compressed_size;
          assertOffsetIndexPointsAtPages(native, chunk);
        }
        assert.equal(group.total_compressed_size, compressed);
        assert.equal(
          group.total_byte_size,
          group.columns.reduce((sum, chunk) => sum + chunk.meta_data!.total_uncompressed_size, 0n),
        );
      }
      // Same zstd level: the files come out within a few per cent of each other.
      assert.ok(Math.abs(native.byteLength / reference.byteLength - 1) < 0.05, `${native.byteLength} vs ${reference.byteLength}`);
    });
  }

  it('keeps page statistics (column indexes) and the pages they describe in step', async () => {
    const table = tableFromArrays({
      n: Int32Array.from({ length: 50_000 }, (_, i) => i),
      s: Array.from({ length: 50_000 }, (_, i) => `s${i % 97}`),
    });
    const properties = new wasm.WriterPropertiesBuilder()
      .setCompression(wasm.Compression.UNCOMPRESSED)
      .setStatisticsEnabled(wasm.EnabledStatistics.Page)
      .setDataPageSizeLimit(16 * 1024) // many pages, each with its statistics in the column index
      .build();
    const raw = wasm.writeParquet(wasm.Table.fromIPCStream(tableToIPC(table, 'stream')), properties);
    const file = compressPages(raw, await nativeCompress());
    assert.ok(file.byteLength < raw.byteLength);
    const rawMetadata = metadataOf(raw);
    const metadata = metadataOf(file);
    for (const [c, chunk] of metadata.row_groups[0]!.columns.entries()) {
      const before = rawMetadata.row_groups[0]!.columns[c]!;
      assert.ok(chunk.column_index_offset !== undefined, 'the file has a column index');
      const element = metadata.schema[c + 1]!;
      // The page statistics, read where the new footer says they are, are those of the original pages.
      assert.deepEqual(readColumnIndexOf(file, chunk, element), readColumnIndexOf(raw, before, element));
      assertOffsetIndexPointsAtPages(file, chunk);
      const rows = (f: Uint8Array, ch: typeof chunk) => readOffsetIndexOf(f, ch).page_locations.map((page) => page.first_row_index);
      assert.deepEqual(rows(file, chunk), rows(raw, before));
    }
    assert.ok(readOffsetIndexOf(file, metadata.row_groups[0]!.columns[0]!).page_locations.length > 5, 'several pages');
    const at = path.join(dir, 'page-stats.parquet');
    fs.writeFileSync(at, file);
    const result = (await connection.runAndReadAll(`SELECT count(*), sum(n) FROM '${at}' WHERE n >= 10000`)).getRowsJS();
    assert.deepEqual(result, [[40_000n, BigInt((10_000 + 49_999) * 20_000)]]);
  });

  it('refuses what it does not handle instead of writing a file readers would misread', async () => {
    const compress = await nativeCompress();
    const compressed = await encode('wasm', 1_048_576);
    assert.throws(() => compressPages(compressed, compress), /already compressed/);
    const table = tableFromArrays({ n: Int32Array.from({ length: 1000 }, (_, i) => i) });
    const v2 = new wasm.WriterPropertiesBuilder()
      .setCompression(wasm.Compression.UNCOMPRESSED)
      .setWriterVersion(wasm.WriterVersion.V2)
      .build();
    const v2Pages = wasm.writeParquet(wasm.Table.fromIPCStream(tableToIPC(table, 'stream')), v2);
    assert.throws(() => compressPages(v2Pages, compress), /page type 3/);
    assert.throws(() => compressPages(new TextEncoder().encode('PAR1 not a parquet file PAR1'), compress), UnsupportedParquetError);
    assert.throws(() => compressPages(new TextEncoder().encode('PAR1'), compress), UnsupportedParquetError);
    const native = await encode('native', 1_048_576);
    assert.throws(() => compressPages(native.subarray(0, native.byteLength - 100), compress), UnsupportedParquetError);
    // A footer whose Thrift does not parse (a field of type 15, which does not exist) is refused the same
    // way: the encoder falls back on UnsupportedParquetError alone.
    const garbled = v2Pages.slice();
    const footerStart = garbled.byteLength - 8 - new DataView(garbled.buffer).getUint32(garbled.byteLength - 8, true);
    garbled[footerStart] = 0x1f;
    assert.throws(
      () => compressPages(garbled, compress),
      (error) => error instanceof UnsupportedParquetError && /unknown type 15/.test(error.message),
    );
  });
});

/**
 * The offset index (decoded by hyparquet) lists the data pages back to back from data_page_offset to the
 * end of the column chunk.
 */
function assertOffsetIndexPointsAtPages(file: Uint8Array, chunk: FileMetaData['row_groups'][number]['columns'][number]) {
  const meta = chunk.meta_data!;
  const index = readOffsetIndexOf(file, chunk);
  const chunkStart = Number(meta.dictionary_page_offset ?? meta.data_page_offset);
  let next = Number(meta.data_page_offset);
  for (const page of index.page_locations) {
    assert.equal(Number(page.offset), next, `${meta.path_in_schema}: page at ${page.offset}, expected ${next}`);
    next += page.compressed_page_size;
  }
  assert.equal(next, chunkStart + Number(meta.total_compressed_size), `${meta.path_in_schema}: the pages fill the chunk`);
}

function readOffsetIndexOf(file: Uint8Array, chunk: FileMetaData['row_groups'][number]['columns'][number]) {
  const start = file.byteOffset + Number(chunk.offset_index_offset);
  return readOffsetIndex({ view: new DataView(file.buffer, start, chunk.offset_index_length!), offset: 0 });
}

function readColumnIndexOf(
  file: Uint8Array,
  chunk: FileMetaData['row_groups'][number]['columns'][number],
  element: FileMetaData['schema'][number],
) {
  const start = file.byteOffset + Number(chunk.column_index_offset);
  return readColumnIndex({ view: new DataView(file.buffer, start, chunk.column_index_length!), offset: 0 }, element);
}
