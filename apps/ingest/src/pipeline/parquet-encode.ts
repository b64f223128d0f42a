/**
 * Arrow record batches -> Parquet bytes through parquet-wasm: zstd, chunk-level statistics, row groups
 * bounded in rows, and key-value metadata naming the stream and schema version. Timestamps are written as
 * TIMESTAMP(MICROS, UTC) because the Arrow type is microseconds in UTC.
 *
 * zstd runs natively where it can: parquet-wasm writes the pages uncompressed and without statistics, and
 * compressPages compresses them with a native zstd binding at the level parquet-wasm uses (1) and adds the
 * statistics, computed from the parsed columns as parquet-wasm computes them: an encode takes ~40 % less
 * time than with parquet-wasm doing both (`npm run bench:encode`; see parquet/compress-pages.ts and
 * parquet/statistics.ts). Where the binding has no binary for the platform, parquet-wasm compresses and
 * computes the statistics.
 */
import { AsyncByteQueue, RecordBatchStreamWriter, type RecordBatch, type Schema } from 'apache-arrow';
import type { ColumnType, StreamSchema } from '@sluice/shared';
import { PARQUET_METADATA_KEYS } from '@sluice/shared';
import { toRecordBatches } from './arrow-batch';
import { compressPages, UnsupportedParquetError } from './parquet/compress-pages';
import { statisticsFields, type ColumnSlice } from './parquet/statistics';
import { Collector } from './young-gc';
import type { ParsedChunk } from './parse/columns';
import type { PartitionSpec } from './partition-rows';

export interface EncodeOptions {
  stream: string;
  schemaVersion: number;
  rowGroupRows: number;
  /** Who compresses the pages: the native zstd binding where it loads (the default), or parquet-wasm. */
  zstd: ZstdRoute;
  /** Also compute the file's statistics for its Delta add action (lake/file-stats.ts). */
  fileStats?: boolean;
  /** Split the batch into a file per event-time partition (partition-rows.ts), rows without one going by `ingestAt`. */
  partition?: PartitionSpec;
  /** When the batch was flushed (ms): the partition of rows placed by ingest time. */
  ingestAt?: number;
}

export type ZstdRoute = 'native' | 'wasm';

/** parquet-wasm's zstd level (the Parquet crate's default), kept for the native route. */
const ZSTD_LEVEL = 1;

const DICTIONARY_PAGE_BYTES = 256 * 1024;
const DELTA_TYPES: ReadonlySet<ColumnType> = new Set(['int32', 'int64', 'date', 'timestamp']);

/**
 * Receives the pieces of an Arrow IPC stream (messages, column buffers, padding) into one buffer kept
 * from batch to batch by its encoder: no new buffer of the batch's size, zeroed and joined, for every
 * encode. It grows to the largest batch its encoder has seen.
 */
class IpcBuffer {
  bytes = new Uint8Array(1 << 20);

  /** The batches as one IPC stream; the view is valid until the next call. */
  collect(schema: Schema, batches: RecordBatch[]): Uint8Array {
    const sink = new IpcSink(this);
    const writer = new RecordBatchStreamWriter();
    writer.reset(sink, schema);
    for (const batch of batches) writer.write(batch);
    writer.finish();
    return this.bytes.subarray(0, sink.written);
  }
}

/** What the Arrow writer writes to: appends each piece to the IpcBuffer, growing it when needed. */
class IpcSink extends AsyncByteQueue {
  written = 0;

  constructor(private readonly buffer: IpcBuffer) {
    super();
  }

  override write(piece: Uint8Array): void {
    const needed = this.written + piece.byteLength;
    const { buffer } = this;
    if (needed > buffer.bytes.length) {
      const grown = new Uint8Array(Math.max(needed, buffer.bytes.length * 2));
      grown.set(buffer.bytes.subarray(0, this.written));
      buffer.bytes = grown;
    }
    buffer.bytes.set(piece, this.written);
    this.written = needed;
  }
}

/** parquet-wasm is loaded on demand: a worker that only parses never compiles it (tens of MB). */
let parquetWasm: Promise<typeof import('parquet-wasm')> | null = null;

export function loadParquetWasm(): Promise<typeof import('parquet-wasm')> {
  parquetWasm ??= import('parquet-wasm');
  return parquetWasm;
}

type Compress = (page: Uint8Array) => Uint8Array;
let nativeZstd: Promise<{ compress: Compress } | { error: Error }> | null = null;

/**
 * The native zstd binding, or why it cannot load: its binaries are per-platform optional packages, so an
 * install for another platform (or with --omit=optional) has none.
 */
export function loadNativeZstd(): Promise<{ compress: Compress } | { error: Error }> {
  nativeZstd ??= import('@toondepauw/node-zstd')
    .then(({ Encoder }) => {
      const encoder = new Encoder(ZSTD_LEVEL);
      return { compress: (page: Uint8Array) => encoder.encodeSync(page as Buffer) as Uint8Array };
    })
    .catch((error: Error) => ({ error }));
  return nativeZstd;
}

/**
 * One encoder per thread that encodes: it owns what lasts from batch to batch (the IPC buffer, and the
 * native route's refusal). `statistics` computes a column chunk's statistics on the native route; tests
 * replace it with one that refuses, to see the fallback.
 */
export class ParquetEncoder {
  /** Why this encoder gave up the native route (compressPages refused a file), or null while it has not. */
  refusal: string | null = null;
  private readonly ipc = new IpcBuffer();
  /**
   * The binding's output pages are freed only after a collection (see young-gc.ts): one every 32 MB of
   * them, for a batch large enough to make that much before the collection that follows each encode.
   */
  private readonly nativeGarbage = new Collector(32 * 1024 * 1024);

  constructor(private readonly statistics: typeof statisticsFields = statisticsFields) {}

  async encode(schema: StreamSchema, chunks: ParsedChunk[], options: EncodeOptions): Promise<Uint8Array> {
    const native = options.zstd === 'native' && this.refusal === null ? await loadNativeZstd() : null;
    if (native && 'compress' in native) {
      const file = await parquetWasmWrite(schema, chunks, options, { zstd: false, statistics: false }, this.ipc);
      const compress = (page: Uint8Array) => {
        const compressed = native.compress(page);
        this.nativeGarbage.count(compressed.byteLength);
        return compressed;
      };
      try {
        return compressPages(file, compress, (column, firstRow, rows) =>
          this.statistics(schema.columns[column]!, columnSlices(chunks, column, firstRow, rows)),
        );
      } catch (error) {
        if (!(error instanceof UnsupportedParquetError)) throw error;
        // A file compressPages does not handle (a parquet-wasm that writes something new) or statistics that
        // do not fit it: parquet-wasm encodes this batch again, and the next ones, with its own zstd and
        // statistics. The worker reports the reason once (a warning in the service's log).
        this.refusal = error.message;
      }
    }
    return parquetWasmWrite(schema, chunks, options, { zstd: true, statistics: true }, this.ipc);
  }
}

/**
 * The batch through parquet-wasm. On the native route its pages are left uncompressed and without
 * statistics: compressPages compresses them and adds the statistics (parquet/statistics.ts), both
 * several times faster than in WebAssembly.
 */
export async function parquetWasmWrite(
  schema: StreamSchema,
  chunks: ParsedChunk[],
  options: Omit<EncodeOptions, 'zstd'>,
  { zstd, statistics }: { zstd: boolean; statistics: boolean },
  ipc = new IpcBuffer(),
): Promise<Uint8Array> {
  const parquetWasm = await loadParquetWasm();
  const { Table: WasmTable, writeParquet } = parquetWasm;
  const rows = chunks.reduce((total, chunk) => total + chunk.rows, 0);
  const metadata = {
    [PARQUET_METADATA_KEYS.stream]: options.stream,
    [PARQUET_METADATA_KEYS.schemaVersion]: String(options.schemaVersion),
    [PARQUET_METADATA_KEYS.rows]: String(rows),
  };
  const { schema: arrowSchema, batches } = toRecordBatches(schema, chunks, metadata);
  // fromIPCStream copies the stream into wasm memory, so the IPC buffer is free again after it.
  const wasmTable = WasmTable.fromIPCStream(ipc.collect(arrowSchema, batches));
  const properties = writerProperties(parquetWasm, schema, { rowGroupRows: options.rowGroupRows, metadata, zstd, statistics });
  // writeParquet takes ownership of the wasm table and properties and frees them.
  return writeParquet(wasmTable, properties);
}

/**
 * How Sluice writes Parquet with parquet-wasm (batches here, compacted files in lake/compact-files.ts):
 * zstd and chunk statistics unless the native route adds them, row groups of at most `rowGroupRows`,
 * dictionaries for strings only, DELTA_BINARY_PACKED for integers, dates and timestamps.
 */
export function writerProperties(
  parquetWasm: typeof import('parquet-wasm'),
  schema: StreamSchema,
  options: { rowGroupRows: number; metadata: Record<string, string>; zstd: boolean; statistics: boolean },
): import('parquet-wasm').WriterProperties {
  const { Compression, EnabledStatistics, Encoding, WriterPropertiesBuilder, WriterVersion } = parquetWasm;
  // Dictionary encoding only pays off for strings (repeated labels); for numbers and timestamps it
  // roughly doubles the encoding time and makes files larger (measured on the benchmark dataset). A
  // dictionary page of at most 256 KiB (the default is 1 MiB) makes a string column of mostly distinct
  // values fall back to plain encoding early instead of hashing them all: encoding ~30 % faster on the
  // benchmark dataset, files slightly smaller.
  let builder = new WriterPropertiesBuilder()
    .setCompression(options.zstd ? Compression.ZSTD : Compression.UNCOMPRESSED)
    .setStatisticsEnabled(options.statistics ? EnabledStatistics.Chunk : EnabledStatistics.None)
    .setMaxRowGroupSize(options.rowGroupRows)
    .setWriterVersion(WriterVersion.V1)
    .setDictionaryEnabled(false)
    .setDictionaryPageSizeLimit(DICTIONARY_PAGE_BYTES)
    .setCreatedBy('sluice')
    .setKeyValueMetadata(new Map(Object.entries(options.metadata)));
  // Integers, dates and timestamps are written as DELTA_BINARY_PACKED (in the Parquet format since 2.0,
  // read by DuckDB, Arrow / pandas, Spark 3.3+, Trino and ClickHouse): sequential ids and sorted times
  // shrink to a few bits a value before zstd sees them, so encoding is ~12 % faster and files ~11 %
  // smaller on the benchmark dataset. Floats stay PLAIN, the encoding every reader knows.
  for (const column of schema.columns) {
    if (column.type === 'string') builder = builder.setColumnDictionaryEnabled(column.name, true);
    else if (DELTA_TYPES.has(column.type)) builder = builder.setColumnEncoding(column.name, Encoding.DELTA_BINARY_PACKED);
  }
  return builder.build();
}

/** The parts of the chunks' column `column` that hold rows [firstRow, firstRow + rows) of the batch. */
function columnSlices(chunks: readonly ParsedChunk[], column: number, firstRow: number, rows: number): ColumnSlice[] {
  const slices: ColumnSlice[] = [];
  let found = 0;
  let chunkStart = 0;
  for (const chunk of chunks) {
    const start = Math.max(firstRow, chunkStart);
    const end = Math.min(firstRow + rows, chunkStart + chunk.rows);
    if (start < end) {
      slices.push({ parsed: chunk.columns[column]!, start: start - chunkStart, end: end - chunkStart });
      found += end - start;
    }
    chunkStart += chunk.rows;
  }
  if (found !== rows) throw new UnsupportedParquetError(`row group rows ${firstRow}+${rows} are not in the batch`);
  return slices;
}
