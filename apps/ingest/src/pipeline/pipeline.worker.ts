/**
 * A pipeline worker thread: parses request bodies (one session per request, fed in order) into column
 * chunks, and encodes batches into Parquet. Both are CPU work kept off the main thread's event loop.
 */
import { parentPort } from 'node:worker_threads';
import { compactFiles } from '../lake/compact-files';
import { deltaFileStats } from '../lake/file-stats';
import { loadParquetWasm, ParquetEncoder } from './parquet-encode';
import { ArrowParser } from './parse/arrow-parser';
import { CsvParser } from './parse/csv-parser';
import { NdjsonParser } from './parse/ndjson-parser';
import { BodyError, type ParseOptions } from './parse/record-sink';
import { splitByPartition } from './partition-rows';
import { type BodyFormat, chunkTransferList, type EncodedFile, type FromWorker, type ToWorker } from './protocol';
import { collectYoung, freeNow, Collector } from './young-gc';

const port = parentPort;
if (!port) throw new Error('pipeline.worker must run in a worker thread');

type BodyParser = CsvParser | NdjsonParser | ArrowParser;

const sessions = new Map<number, BodyParser>();

/** A young-generation collection after each encode and every 32 MB parsed (see young-gc.ts). */
const parsed = new Collector(32 * 1024 * 1024);

function send(message: FromWorker, transfer: ArrayBuffer[] = []) {
  port!.postMessage(message, transfer);
}

function report(kind: 'progress' | 'done', session: number, parser: BodyParser, consumed: number, spent?: ArrayBuffer) {
  const chunks = parser.sink.takeChunks();
  const transfer = chunkTransferList(chunks);
  if (spent) transfer.push(spent);
  send(
    {
      kind,
      session,
      consumed,
      chunks,
      errors: parser.sink.takeErrors(),
      quarantined: parser.sink.takeQuarantined(),
      accepted: parser.sink.rowsAccepted,
      rejected: parser.sink.rowsRejected,
      skipped: parser.sink.rowsSkipped,
      lines: parser.linesRead,
      spent,
    },
    transfer,
  );
}

function fail(session: number, error: unknown) {
  sessions.delete(session);
  if (error instanceof BodyError) {
    send({ kind: 'failed', session, message: error.message, line: error.line, column: error.column });
  } else {
    send({ kind: 'failed', session, message: `internal parser error: ${(error as Error).message}`, line: 0, column: null, internal: true });
  }
}

function parserFor(format: BodyFormat, options: ParseOptions): BodyParser {
  if (format === 'csv') return new CsvParser(options);
  if (format === 'ndjson') return new NdjsonParser(options);
  return new ArrowParser(options);
}

/** Encodes run one after another, each answered and cleaned up after before the next starts. */
let encoding = Promise.resolve();
const encoder = new ParquetEncoder();
let refusalReported = false;

async function encode(message: Extract<ToWorker, { kind: 'encode' }>): Promise<void> {
  try {
    const { schema, chunks, options } = message;
    const { parts, fallback } = options.partition
      ? splitByPartition(chunks, options.partition, options.ingestAt ?? Date.now())
      : { parts: [{ partition: null, chunks, rows: chunks.reduce((sum, chunk) => sum + chunk.rows, 0) }], fallback: 0 };
    const files: EncodedFile[] = [];
    for (const part of parts) {
      const parquet = await encoder.encode(schema, part.chunks, options);
      const stats = options.fileStats ? deltaFileStats(schema, part.chunks) : undefined;
      files.push({ parquet, stats, rows: part.rows, partition: part.partition });
    }
    send(
      { kind: 'encoded', job: message.job, files, fallbackRows: fallback },
      files.map((file) => file.parquet.buffer as ArrayBuffer),
    );
    const refusal = encoder.refusal;
    if (refusal !== null && !refusalReported) {
      refusalReported = true;
      send({
        kind: 'warning',
        message: `the native Parquet route was given up (${refusal}): parquet-wasm compresses the pages and computes the statistics from now on (slower)`,
      });
    }
  } catch (error) {
    send({ kind: 'encode-failed', job: message.job, message: (error as Error).message });
  } finally {
    // A batch that waited for the one before it may already be in the old generation.
    for (const chunk of message.chunks) freeNow(chunk.buffer);
    collectYoung();
  }
  // Native zstd's buffers (see parquet-encode.ts) are freed by finalizers that run on the event loop a
  // tick after the collection above. Letting that tick pass before the next batch allocates keeps malloc
  // from leaving holes behind: measured on the 10M-row body at a 128 KiB mmap threshold, peak RSS
  // 263-273 MB this way, 278-338 MB without (parquet-wasm's own zstd: 248-256).
  await new Promise((resolve) => setImmediate(resolve));
}

async function ipcToParquet(message: Extract<ToWorker, { kind: 'ipc-to-parquet' }>): Promise<void> {
  try {
    const { Table, writeParquet, WriterPropertiesBuilder, Compression } = await loadParquetWasm();
    const table = Table.fromIPCStream(message.ipc);
    const parquet = writeParquet(table, new WriterPropertiesBuilder().setCompression(Compression.SNAPPY).build());
    send({ kind: 'encoded', job: message.job, files: [{ parquet, rows: 0, partition: null }], fallbackRows: 0 }, [
      parquet.buffer as ArrayBuffer,
    ]);
  } catch (error) {
    send({ kind: 'encode-failed', job: message.job, message: (error as Error).message });
  }
}

port.on('message', (message: ToWorker) => {
  switch (message.kind) {
    case 'open':
      // A throw here would end the worker, and with it every other session it parses.
      try {
        sessions.set(message.session, parserFor(message.format, message.options));
      } catch (error) {
        fail(message.session, error);
      }
      return;
    case 'data': {
      const parser = sessions.get(message.session);
      if (!parser) return;
      try {
        // The parsers keep copies of what they hold between pushes, so the block can go back.
        parser.push(message.bytes);
        report('progress', message.session, parser, message.bytes.byteLength, message.bytes.buffer as ArrayBuffer);
        parsed.count(message.bytes.byteLength);
      } catch (error) {
        fail(message.session, error);
      }
      return;
    }
    case 'end': {
      const parser = sessions.get(message.session);
      if (!parser) return;
      try {
        parser.end();
        sessions.delete(message.session);
        report('done', message.session, parser, 0);
      } catch (error) {
        fail(message.session, error);
      }
      return;
    }
    case 'abort':
      sessions.delete(message.session);
      return;
    case 'warm':
      void loadParquetWasm();
      return;
    case 'encode':
      encoding = encoding.then(() => encode(message));
      return;
    case 'ipc-to-parquet':
      encoding = encoding.then(() => ipcToParquet(message));
      return;
    case 'compact':
      // Not behind the encodes: it yields between its inputs, and they run meanwhile.
      compactFiles(message.schema, message.inputs, message.output, message.options).then(
        ({ rows, bytes }) => send({ kind: 'compacted', job: message.job, rows, bytes }),
        (error: Error) => send({ kind: 'compact-failed', job: message.job, message: error.message }),
      );
      return;
  }
});

// Its imports are loaded by now: the pool may count this worker in (see WorkerPool.ready).
send({ kind: 'loaded' });
