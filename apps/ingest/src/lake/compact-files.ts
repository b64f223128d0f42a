/**
 * Rewrites small Parquet files of one partition as one file, on an encoder worker: each input is read a
 * row group at a time and its record batches stream into parquet-wasm's writer, which writes a row group
 * to the output file whenever it holds `rowGroupRows` rows. What is in memory at once is one input row
 * group and the output row group being built, whatever the number or size of the inputs. The worker
 * yields between inputs, so the batches it encodes for ingest are not held up behind a compaction.
 */
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { PARQUET_METADATA_KEYS, type StreamSchema } from '@sluice/shared';
import { loadParquetWasm, writerProperties } from '../pipeline/parquet-encode';

export interface CompactOptions {
  stream: string;
  schemaVersion: number;
  rowGroupRows: number;
  /** The inputs' rows together (the manifest's count), for the file's metadata. */
  rows: number;
}

/** Writes the inputs' rows, in order, to `output`; returns the rows read and the bytes written. */
export async function compactFiles(
  schema: StreamSchema,
  inputs: readonly string[],
  output: string,
  options: CompactOptions,
): Promise<{ rows: number; bytes: number }> {
  const parquetWasm = await loadParquetWasm();
  let next = 0;
  let rows = 0;
  const batches = new ReadableStream({
    async pull(controller) {
      if (next === inputs.length) {
        controller.close();
        return;
      }
      const file = await parquetWasm.ParquetFile.fromFile(new Blob([await fs.readFile(inputs[next++]!)]));
      try {
        const groups = file.metadata().numRowGroups();
        for (let group = 0; group < groups; group++) {
          const table = await file.read({ rowGroups: [group] });
          for (let i = 0; i < table.numBatches; i++) {
            const batch = table.recordBatch(i)!;
            rows += batch.numRows;
            controller.enqueue(batch);
          }
          table.free();
        }
      } finally {
        file.free();
      }
      // Lets the encodes that came meanwhile run before the next input.
      await new Promise((resolve) => setImmediate(resolve));
    },
  });
  const metadata = {
    [PARQUET_METADATA_KEYS.stream]: options.stream,
    [PARQUET_METADATA_KEYS.schemaVersion]: String(options.schemaVersion),
    [PARQUET_METADATA_KEYS.rows]: String(options.rows),
  };
  const properties = writerProperties(parquetWasm, schema, { rowGroupRows: options.rowGroupRows, metadata, zstd: true, statistics: true });
  const parquet = await parquetWasm.transformParquetStream(batches, properties);
  await pipeline(Readable.fromWeb(parquet as WebReadableStream<Uint8Array>), createWriteStream(output));
  const { size } = await fs.stat(output);
  if (rows !== options.rows) throw new Error(`the inputs held ${rows} rows, the manifest says ${options.rows}`);
  return { rows, bytes: size };
}
