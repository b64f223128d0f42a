/**
 * An Arrow IPC stream body -> column chunks, on a pipeline worker, with the same face as the text
 * parsers (push, end, sink, linesRead): a "line" is a row, numbered from 1 across the stream's batches.
 *
 * Each record batch is decoded by apache-arrow as it completes (arrow-ipc.ts frames the messages): the
 * reader is given the stream's schema, the dictionaries in force and the batch, so that a batch is read
 * from views of its own message, and nothing of it is kept once its rows are handed over. Its columns
 * are then checked a column at a time (arrow-columns.ts), and the runs of rows between rejected or
 * skipped ones are copied into chunks column by column.
 */
import type { Column } from '@sluice/shared';
import { RecordBatchReader, type RecordBatchStreamReader, type Field, type Message, type RecordBatch, type Schema } from 'apache-arrow';
import { ArrowColumn, UnsupportedArrowType, type Run, type Sizes } from './arrow-columns';
import { IpcFormatError, IpcFramer, type IpcMessage } from './arrow-ipc';
import { align8, type ParsedChunk } from './columns';
import { BodyError, RecordSink, type ParseOptions } from './record-sink';

/** The largest Arrow message taken when the options do not say (FLIGHT_MAX_MESSAGE_BYTES). */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

interface RowReport {
  column: string;
  code: Parameters<RecordSink['reject']>[2];
  message: string;
}

export class ArrowParser {
  readonly sink: RecordSink;
  /** Rows read so far (the text parsers' lines). */
  linesRead = 0;
  private readonly framer: IpcFramer;
  private schemaMessage: Uint8Array | null = null;
  /** Dictionary batches in force, in order (a replacement drops those of its id before it). */
  private dictionaries: { id: number; bytes: Uint8Array }[] = [];
  private columns: ArrowColumn[] = [];
  private readonly encoder = new TextEncoder();

  constructor(readonly options: ParseOptions) {
    this.sink = new RecordSink(options);
    this.framer = new IpcFramer(options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES);
  }

  push(block: Uint8Array): void {
    try {
      this.framer.push(block, (message) => this.onMessage(message));
    } catch (error) {
      throw this.bodyError(error);
    }
  }

  end(): void {
    try {
      this.framer.end();
    } catch (error) {
      throw this.bodyError(error);
    }
    if (this.schemaMessage === null) throw new BodyError('ingest.malformed_body', 'the Arrow stream has no schema message', 0);
    this.sink.flushChunk();
  }

  private bodyError(error: unknown): unknown {
    if (error instanceof IpcFormatError || error instanceof UnsupportedArrowType) {
      return new BodyError('ingest.malformed_body', `Arrow IPC stream: ${error.message}`, this.linesRead);
    }
    return error;
  }

  private onMessage({ bytes, message }: IpcMessage): void {
    if (message.isSchema()) {
      if (this.schemaMessage !== null) throw new IpcFormatError('a second schema message (one stream, one schema)');
      // `bytes` is valid only during this call: what is kept is copied.
      this.schemaMessage = bytes.slice();
      this.columns = this.plan(decodeSchema(this.schemaMessage));
      return;
    }
    if (this.schemaMessage === null) throw new IpcFormatError('the first message is not a schema');
    if (message.isDictionaryBatch()) {
      const header = (message as Message<2>).header();
      const id = Number(header.id);
      if (!header.isDelta) this.dictionaries = this.dictionaries.filter((dictionary) => dictionary.id !== id);
      this.dictionaries.push({ id, bytes: bytes.slice() });
      return;
    }
    if (!message.isRecordBatch()) throw new IpcFormatError(`a message of type ${message.headerType} is not part of a record batch stream`);
    const batch = this.decode(bytes);
    if (batch !== null) this.take(batch);
  }

  /** The stream's columns matched to the schema's fields by name. */
  private plan(schema: Schema): ArrowColumn[] {
    const byName = new Map<string, Field>();
    for (const field of schema.fields) {
      if (byName.has(field.name)) throw new IpcFormatError(`the schema has two fields named "${field.name}"`);
      byName.set(field.name, field);
    }
    const known = new Set(this.options.columns.map((column) => column.name));
    if (this.options.unknownColumns === 'reject') {
      const unknown = schema.fields.filter((field) => !known.has(field.name)).map((field) => `"${field.name}"`);
      if (unknown.length > 0) {
        throw new IpcFormatError(`field(s) ${unknown.join(', ')} are not columns of the stream (it refuses unknown columns)`);
      }
    }
    return this.options.columns.map((column: Column) => {
      const field = byName.get(column.name) ?? null;
      if (field === null && !column.nullable) throw new IpcFormatError(`the required column "${column.name}" has no field`);
      return new ArrowColumn(column, field, this.options.allowNonFinite);
    });
  }

  /** The record batch in `bytes`, read with the schema and the dictionaries in force. */
  private decode(bytes: Uint8Array): RecordBatch | null {
    const messages = [this.schemaMessage!, ...this.dictionaries.map((dictionary) => dictionary.bytes), bytes];
    try {
      const reader = RecordBatchReader.from(messages) as RecordBatchStreamReader;
      const result = reader.next();
      return result.done ? null : (result.value as RecordBatch);
    } catch (error) {
      throw new IpcFormatError(`a record batch cannot be read (${(error as Error).message})`);
    }
  }

  /** A batch's rows: checked, then handed over in runs between the rejected and skipped ones. */
  private take(batch: RecordBatch): void {
    const rows = batch.numRows;
    const base = this.linesRead;
    this.linesRead += rows;
    if (rows === 0) return;
    const fieldIndex = new Map(batch.schema.fields.map((field, index) => [field.name, index]));
    for (const column of this.columns) {
      const data = column.field === null ? null : (batch.getChildAt(fieldIndex.get(column.field.name)!)?.data[0] ?? null);
      column.bind(data, rows);
    }
    // The first problem of each row, in column order.
    const reports = new Map<number, RowReport>();
    for (const column of this.columns) {
      column.check((row, code, message) => {
        if (!reports.has(row)) reports.set(row, { column: column.column.name, code, message });
      });
    }
    const rejected = [...reports.keys()].sort((a, b) => a - b);
    const { sink } = this;
    // The rows to store, as runs between the rejected rows and those stored by an earlier attempt.
    const runs: Run[] = [];
    let next = 0; // index into rejected
    let row = 0;
    while (row < rows) {
      const line = base + row + 1;
      if (next < rejected.length && rejected[next] === row) {
        const report = reports.get(row)!;
        if (sink.keepsRaw()) {
          const raw = this.encoder.encode(renderRow(batch, row));
          sink.record(raw, 0, raw.length, line);
        }
        sink.reject(line, report.column, report.code, report.message);
        next++;
        row++;
        continue;
      }
      const runEnd = next < rejected.length ? rejected[next]! : rows;
      const skippedThrough = sink.skippedThrough(line);
      if (skippedThrough > 0) {
        const end = Math.min(runEnd, skippedThrough - base);
        sink.acceptSkipped(end - row);
        row = end;
        continue;
      }
      const end = Math.min(runEnd, sink.nextSkippedLine - base - 1);
      runs.push([row, end]);
      row = end;
    }
    this.handOver(runs, base);
    // The batch's buffers go with it: nothing keeps them until the next batch.
    for (const column of this.columns) column.bind(null, 0);
  }

  /** The runs' rows, all accepted, as chunks of at most chunkRows rows and about chunkBytes. */
  private handOver(runs: Run[], base: number): void {
    const { chunkRows, chunkBytes } = this.options;
    let index = 0;
    while (index < runs.length) {
      // The next chunkRows rows, the run they end in cut there.
      let take: Run[] = [];
      let rows = 0;
      while (index < runs.length && rows < chunkRows) {
        const [from, to] = runs[index]!;
        const end = Math.min(to, from + chunkRows - rows);
        take.push([from, end]);
        rows += end - from;
        if (end === to) index++;
        else runs[index] = [end, to];
      }
      let sizes = this.columns.map((column) => column.sizes(take));
      while (rows > 1 && room(sizes) > chunkBytes) {
        // Too many bytes: half the rows (the rest go back to the runs to take).
        const keep = Math.ceil(rows / 2);
        const [kept, rest] = cut(take, keep);
        runs.splice(index, 0, ...rest);
        take = kept;
        rows = keep;
        sizes = this.columns.map((column) => column.sizes(take));
      }
      const buffer = new ArrayBuffer(room(sizes));
      let at = 0;
      const columns = this.columns.map((column, c) => {
        const part = column.write(buffer, at, sizes[c]!, take);
        at += partRoom(sizes[c]!);
        return part;
      });
      const chunk: ParsedChunk = { rows, columns, buffer, bytes: buffer.byteLength, fromLine: 0, toLine: 0 };
      this.sink.addChunk(chunk, base + take.at(-1)![1]);
    }
  }
}

/** The first `rows` rows of the runs, and the rest. */
function cut(runs: Run[], rows: number): [Run[], Run[]] {
  const kept: Run[] = [];
  const rest: Run[] = [];
  for (const [from, to] of runs) {
    if (rows >= to - from) {
      kept.push([from, to]);
      rows -= to - from;
    } else if (rows > 0) {
      kept.push([from, from + rows]);
      rest.push([from + rows, to]);
      rows = 0;
    } else {
      rest.push([from, to]);
    }
  }
  return [kept, rest];
}

function partRoom([values, offsets, validity]: Sizes): number {
  return align8(values) + align8(offsets) + align8(validity);
}

function room(sizes: Sizes[]): number {
  let total = 0;
  for (const size of sizes) total += partRoom(size);
  return total;
}

function decodeSchema(schemaMessage: Uint8Array): Schema {
  try {
    return (RecordBatchReader.from([schemaMessage]) as RecordBatchStreamReader).open().schema;
  } catch (error) {
    throw new IpcFormatError(`the schema cannot be read (${(error as Error).message})`);
  }
}

/** A rejected row as JSON text, for the quarantine table (64-bit integers as their digits). */
function renderRow(batch: RecordBatch, row: number): string {
  const values: Record<string, unknown> = {};
  batch.schema.fields.forEach((field, index) => {
    try {
      values[field.name] = batch.getChildAt(index)?.get(row) ?? null;
    } catch {
      values[field.name] = null;
    }
  });
  return JSON.stringify(values, (_key, value) =>
    typeof value === 'bigint' ? value.toString() : value instanceof Date ? value.toISOString() : value,
  );
}
