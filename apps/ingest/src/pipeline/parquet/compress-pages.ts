/**
 * Compresses the pages of an uncompressed Parquet file, rewriting what points into them: each page header
 * (its compressed size), each column chunk's metadata (codec, sizes, page offsets), the offset indexes
 * (page locations) and the row groups (offsets, sizes); and it can add each column chunk's statistics
 * (see statistics.ts). Nothing else changes: encodings, the schema and the key-value metadata are copied
 * as bytes.
 *
 * Why: parquet-wasm encodes well, but its zstd, compiled to WebAssembly, took ~45 % of an encode on the
 * benchmark dataset; the same zstd level run natively takes under half that time. So the encoder lets
 * parquet-wasm write the pages uncompressed and compresses them here (see parquet-encode.ts).
 *
 * It handles the files parquet-wasm writes: column chunks back to back after the magic, version 1 data
 * pages and dictionary pages, no page checksums, bloom filters or encryption. Anything else is refused with
 * an UnsupportedParquetError (the encoder then keeps the file uncompressed and lets parquet-wasm compress
 * from then on): never a file that a reader would misread.
 */
import {
  concat,
  encodeInteger,
  encodeList,
  encodeStruct,
  integerOf,
  ThriftError,
  ThriftReader,
  ThriftType,
  type ThriftField,
} from './thrift-compact';

const MAGIC = Uint8Array.of(0x50, 0x41, 0x52, 0x31); // "PAR1"

// Field ids, from parquet.thrift.
const FileMetaData = { rowGroups: 4, encryptionAlgorithm: 8 };
const RowGroup = { columns: 1, totalByteSize: 2, numRows: 3, fileOffset: 5, totalCompressedSize: 6 };
const ColumnChunk = {
  filePath: 1,
  fileOffset: 2,
  metaData: 3,
  offsetIndexOffset: 4,
  offsetIndexLength: 5,
  columnIndexOffset: 6,
  columnIndexLength: 7,
  cryptoMetadata: 8,
  encryptedColumnMetadata: 9,
};
const ColumnMetaData = {
  codec: 4,
  totalUncompressedSize: 6,
  totalCompressedSize: 7,
  dataPageOffset: 9,
  indexPageOffset: 10,
  dictionaryPageOffset: 11,
  bloomFilterOffset: 14,
};
const PageHeader = { type: 1, uncompressedSize: 2, compressedSize: 3, crc: 4 };
const OffsetIndex = { pageLocations: 1 };
const PageLocation = { offset: 1, compressedSize: 2 };
const PageType = { data: 0, dictionary: 2 };
const Codec = { uncompressed: 0, zstd: 6 };

export class UnsupportedParquetError extends Error {}

/** One column chunk as written anew: where it starts and where its data pages went. */
interface Chunk {
  fields: ThriftField[];
  meta: ThriftField[];
  start: number;
  /** Where the chunk ended in the old file. */
  oldEnd: number;
  /** Offset and size (header included) of each data page, in order: what the offset index lists. */
  dataPages: { offset: number; size: number }[];
  columnIndexOffset?: number;
  offsetIndexOffset?: number;
  offsetIndexLength?: number;
}

/** The new file as it is written: its parts, and its length so far (the offset of what comes next). */
class Output {
  readonly parts: Uint8Array[] = [];
  length = 0;

  push(...parts: Uint8Array[]): void {
    for (const part of parts) {
      this.parts.push(part);
      this.length += part.byteLength;
    }
  }
}

/** Fields to add to the metadata of the column chunk of `column` that holds rows [firstRow, firstRow + rows). */
export type ChunkFields = (column: number, firstRow: number, rows: number) => ThriftField[];

/**
 * `compress` turns a page's bytes into one zstd frame; `addFields`, when given, adds fields (statistics) to
 * each column chunk's metadata, which must not have them already.
 */
export function compressPages(file: Uint8Array, compress: (page: Uint8Array) => Uint8Array, addFields?: ChunkFields): Uint8Array {
  try {
    return rewrite(file, compress, addFields);
  } catch (error) {
    // Thrift that does not parse is one more file this does not handle.
    if (error instanceof ThriftError) throw new UnsupportedParquetError(error.message);
    throw error;
  }
}

function rewrite(file: Uint8Array, compress: (page: Uint8Array) => Uint8Array, addFields?: ChunkFields): Uint8Array {
  const { metadata, footerStart } = readFooter(file);
  const output = new Output();
  output.push(MAGIC);
  let read = MAGIC.byteLength; // bytes of the old file consumed so far
  let firstRow = 0;
  const rowGroups = listOf(metadata, FileMetaData.rowGroups).map((bytes) => {
    const fields = new ThriftReader(bytes).struct();
    const rows = required(fields, RowGroup.numRows);
    const chunks = listOf(fields, RowGroup.columns).map((chunkBytes, column) => {
      const chunk = compressChunk(file, new ThriftReader(chunkBytes).struct(), read, output, compress);
      if (addFields) chunk.meta = withNewFields(chunk.meta, addFields(column, firstRow, rows));
      read = chunk.oldEnd;
      return chunk;
    });
    firstRow += rows;
    return { fields, chunks };
  });
  read = copyIndexes(
    file,
    rowGroups.flatMap((group) => group.chunks),
    read,
    footerStart,
    output,
  );
  output.push(file.subarray(read, footerStart));

  const footer = encodeStruct(
    replaceValue(
      metadata,
      FileMetaData.rowGroups,
      encodeList(
        ThriftType.Struct,
        rowGroups.map(({ fields, chunks }) => encodeRowGroup(fields, chunks)),
      ),
    ),
  );
  const trailer = new Uint8Array(8);
  new DataView(trailer.buffer).setUint32(0, footer.byteLength, true);
  trailer.set(MAGIC, 4);
  output.push(footer, trailer);
  return concat(output.parts);
}

function readFooter(file: Uint8Array): { metadata: ThriftField[]; footerStart: number } {
  if (file.byteLength < 12 || !startsWithMagic(file, 0) || !startsWithMagic(file, file.byteLength - 4)) {
    throw new UnsupportedParquetError('not a Parquet file');
  }
  const footerLength = new DataView(file.buffer, file.byteOffset, file.byteLength).getUint32(file.byteLength - 8, true);
  const footerStart = file.byteLength - 8 - footerLength;
  if (footerStart < 4) throw new UnsupportedParquetError('not a Parquet file');
  const reader = new ThriftReader(file.subarray(0, file.byteLength - 8), footerStart);
  const metadata = reader.struct();
  if (reader.position !== file.byteLength - 8) throw new UnsupportedParquetError('the footer is not where its length says');
  if (find(metadata, FileMetaData.encryptionAlgorithm)) throw new UnsupportedParquetError('encrypted files are not supported');
  return { metadata, footerStart };
}

/** Compresses the pages of the column chunk that starts at `read` in the old file into `output`. */
function compressChunk(
  file: Uint8Array,
  fields: ThriftField[],
  read: number,
  output: Output,
  compress: (page: Uint8Array) => Uint8Array,
): Chunk {
  if ([ColumnChunk.filePath, ColumnChunk.cryptoMetadata, ColumnChunk.encryptedColumnMetadata].some((id) => find(fields, id))) {
    throw new UnsupportedParquetError('column chunks in other files or encrypted are not supported');
  }
  const meta = new ThriftReader(field(fields, ColumnChunk.metaData).value).struct();
  if (integer(meta, ColumnMetaData.codec) !== Codec.uncompressed) throw new UnsupportedParquetError('the file is already compressed');
  if (find(meta, ColumnMetaData.bloomFilterOffset) || find(meta, ColumnMetaData.indexPageOffset)) {
    throw new UnsupportedParquetError('bloom filters and index pages are not supported');
  }
  const start = integer(meta, ColumnMetaData.dictionaryPageOffset) ?? required(meta, ColumnMetaData.dataPageOffset);
  const end = start + required(meta, ColumnMetaData.totalCompressedSize);
  if (start !== read) throw new UnsupportedParquetError('column chunks are not back to back');
  // file_offset is deprecated: writers put 0, the chunk's start or its end there. Keep which.
  const fileOffset = required(fields, ColumnChunk.fileOffset);
  if (fileOffset !== 0 && fileOffset !== start && fileOffset !== end)
    throw new UnsupportedParquetError('unexpected column chunk file_offset');

  const chunk: Chunk = { fields, meta, start: output.length, oldEnd: end, dataPages: [] };
  let uncompressedSize = 0;
  let dictionaryOffset: number | undefined;
  for (let position = start; position < end; ) {
    const reader = new ThriftReader(file, position);
    const header = reader.struct();
    const type = integer(header, PageHeader.type);
    if ((type !== PageType.data && type !== PageType.dictionary) || find(header, PageHeader.crc)) {
      throw new UnsupportedParquetError(`page type ${type} or a page checksum is not supported`);
    }
    const size = required(header, PageHeader.compressedSize);
    if (reader.position + size > end) throw new UnsupportedParquetError('a page runs past its column chunk');
    const page = compress(file.subarray(reader.position, reader.position + size));
    const newHeader = encodeStruct(withIntegers(header, [[PageHeader.compressedSize, page.byteLength]]));
    if (type === PageType.dictionary) dictionaryOffset = output.length;
    else chunk.dataPages.push({ offset: output.length, size: newHeader.byteLength + page.byteLength });
    output.push(newHeader, page);
    // Both chunk sizes count the page headers (as parquet-rs does): the new header, with either body.
    uncompressedSize += newHeader.byteLength + required(header, PageHeader.uncompressedSize);
    position = reader.position + size;
  }
  chunk.meta = withIntegers(meta, [
    [ColumnMetaData.codec, Codec.zstd],
    [ColumnMetaData.totalUncompressedSize, uncompressedSize],
    [ColumnMetaData.totalCompressedSize, output.length - chunk.start],
    [ColumnMetaData.dataPageOffset, chunk.dataPages[0]?.offset ?? chunk.start],
    [ColumnMetaData.dictionaryPageOffset, dictionaryOffset],
  ]);
  chunk.fields = withIntegers(fields, [[ColumnChunk.fileOffset, fileOffset === 0 ? 0 : fileOffset === end ? output.length : chunk.start]]);
  return chunk;
}

/**
 * After the pages: the column indexes (page statistics, copied) and offset indexes (page locations,
 * rewritten), in the order they were written; anything between them is copied as it is. Notes where each
 * went in its chunk (chunk.fields still hold the old offsets) and returns how far the old file was read.
 */
function copyIndexes(file: Uint8Array, chunks: Chunk[], read: number, footerStart: number, output: Output): number {
  const indexes = chunks
    .flatMap((chunk) => {
      const regions: { offset: number; length: number; chunk: Chunk; kind: 'column' | 'offset' }[] = [];
      const columnIndex = integer(chunk.fields, ColumnChunk.columnIndexOffset);
      if (columnIndex !== undefined)
        regions.push({ offset: columnIndex, length: required(chunk.fields, ColumnChunk.columnIndexLength), chunk, kind: 'column' });
      const offsetIndex = integer(chunk.fields, ColumnChunk.offsetIndexOffset);
      if (offsetIndex !== undefined)
        regions.push({ offset: offsetIndex, length: required(chunk.fields, ColumnChunk.offsetIndexLength), chunk, kind: 'offset' });
      return regions;
    })
    .sort((a, b) => a.offset - b.offset);
  for (const index of indexes) {
    if (index.offset < read || index.offset + index.length > footerStart) throw new UnsupportedParquetError('an index overlaps other data');
    output.push(file.subarray(read, index.offset));
    let bytes = file.subarray(index.offset, index.offset + index.length);
    if (index.kind === 'column') {
      index.chunk.columnIndexOffset = output.length;
    } else {
      bytes = rewriteOffsetIndex(bytes, index.chunk.dataPages);
      index.chunk.offsetIndexOffset = output.length;
      index.chunk.offsetIndexLength = bytes.byteLength;
    }
    output.push(bytes);
    read = index.offset + index.length;
  }
  return read;
}

/** A row group's footer entry, pointing at its chunks' new places. */
function encodeRowGroup(fields: ThriftField[], chunks: Chunk[]): Uint8Array {
  const columns = chunks.map((chunk) =>
    encodeStruct(
      withIntegers(replaceValue(chunk.fields, ColumnChunk.metaData, encodeStruct(chunk.meta)), [
        [ColumnChunk.columnIndexOffset, chunk.columnIndexOffset],
        [ColumnChunk.offsetIndexOffset, chunk.offsetIndexOffset],
        [ColumnChunk.offsetIndexLength, chunk.offsetIndexLength],
      ]),
    ),
  );
  const total = (id: number) => chunks.reduce((sum, chunk) => sum + required(chunk.meta, id), 0);
  return encodeStruct(
    withIntegers(replaceValue(fields, RowGroup.columns, encodeList(ThriftType.Struct, columns)), [
      [RowGroup.totalByteSize, total(ColumnMetaData.totalUncompressedSize)],
      [RowGroup.fileOffset, find(fields, RowGroup.fileOffset) ? chunks[0]?.start : undefined],
      [RowGroup.totalCompressedSize, find(fields, RowGroup.totalCompressedSize) ? total(ColumnMetaData.totalCompressedSize) : undefined],
    ]),
  );
}

function rewriteOffsetIndex(bytes: Uint8Array, dataPages: Chunk['dataPages']): Uint8Array {
  const fields = new ThriftReader(bytes).struct();
  const locations = listOf(fields, OffsetIndex.pageLocations);
  if (locations.length !== dataPages.length) throw new UnsupportedParquetError('the offset index does not list every data page');
  const rewritten = locations.map((location, i) =>
    encodeStruct(
      withIntegers(new ThriftReader(location).struct(), [
        [PageLocation.offset, dataPages[i]!.offset],
        [PageLocation.compressedSize, dataPages[i]!.size],
      ]),
    ),
  );
  return encodeStruct(replaceValue(fields, OffsetIndex.pageLocations, encodeList(ThriftType.Struct, rewritten)));
}

function startsWithMagic(bytes: Uint8Array, at: number): boolean {
  return MAGIC.every((byte, i) => bytes[at + i] === byte);
}

function find(fields: readonly ThriftField[], id: number): ThriftField | undefined {
  return fields.find((f) => f.id === id);
}

function field(fields: readonly ThriftField[], id: number): ThriftField {
  const found = find(fields, id);
  if (!found) throw new UnsupportedParquetError(`a required field (${id}) is missing`);
  return found;
}

function integer(fields: readonly ThriftField[], id: number): number | undefined {
  const found = find(fields, id);
  return found && integerOf(found);
}

function required(fields: readonly ThriftField[], id: number): number {
  return integerOf(field(fields, id));
}

function listOf(fields: readonly ThriftField[], id: number): Uint8Array[] {
  return new ThriftReader(field(fields, id).value).list().items;
}

/** The fields with one value replaced (it must be there already: the type is kept). */
function replaceValue(fields: readonly ThriftField[], id: number, value: Uint8Array): ThriftField[] {
  field(fields, id);
  return fields.map((f) => (f.id === id ? { ...f, value } : f));
}

/** The fields with more added (in id order); one that is there already is refused. */
function withNewFields(fields: readonly ThriftField[], added: readonly ThriftField[]): ThriftField[] {
  for (const { id } of added) if (find(fields, id)) throw new UnsupportedParquetError(`field ${id} is there already`);
  return [...fields, ...added].sort((a, b) => a.id - b.id);
}

/**
 * Integer fields set to new values, keeping their types; an undefined value leaves the field out. A field
 * that was not there is refused: its type would be a guess (and every field set here is there in a file
 * this handles: a dictionary page before data_page_offset without dictionary_page_offset is refused above).
 */
function withIntegers(fields: readonly ThriftField[], values: [id: number, value: number | undefined][]): ThriftField[] {
  const result = fields.filter((f) => !values.some(([id]) => id === f.id));
  for (const [id, value] of values) {
    if (value === undefined) continue;
    const type = find(fields, id)?.type;
    if (type === undefined) throw new UnsupportedParquetError(`field ${id} is missing`);
    result.push({ id, type, value: encodeInteger(value) });
  }
  return result.sort((a, b) => a.id - b.id);
}
