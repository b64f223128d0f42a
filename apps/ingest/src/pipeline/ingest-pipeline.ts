/**
 * The data path of one request, without HTTP: body bytes -> parse session (a worker) -> the stream's
 * batcher (or, for all-or-nothing streams, staging until the body ends) -> committed files. It answers
 * only when every accepted row of the request is durable. The parts: body-reader.ts (blocks and
 * backpressure), parse-session.ts, staging.ts, batchers.ts / batcher.ts, committer.ts.
 */
import { MAX_REPORTED_ERRORS, SluiceError, type StreamDto } from '@sluice/shared';
import { BatchOwner } from './batch-owner';
import type { Batchers } from './batchers';
import { feedBody } from './body-reader';
import type { ByteBudget } from './byte-budget';
import { BodyParseError, type ParseSummary } from './parse-session';
import type { ParseOptions, RowError } from './parse/record-sink';
import type { BodyFormat } from './protocol';
import { Staging } from './staging';
import type { WorkerPool } from './worker-pool';

export interface PipelineLimits {
  maxBodyBytes: number;
  maxLineBytes: number;
  maxFields: number;
  /** Rows per parsed chunk (the unit the batcher groups). */
  chunkRows: number;
  /** Retry-After of a request refused because the budget is busy. */
  retryAfterSeconds: number;
}

export interface IngestOutcome {
  /** Body bytes read (after decompression). */
  bytesReceived: number;
  rowsAccepted: number;
  rowsRejected: number;
  errors: RowError[];
  files: string[];
}

/** A column builder's starting room in the parser (1,024 values and their validity, strings' first bytes). */
const BUILDER_BYTES_PER_COLUMN = 16 * 1024;

export class IngestPipeline {
  constructor(
    private readonly pool: WorkerPool,
    private readonly budget: ByteBudget,
    private readonly batchers: Batchers,
    private readonly limits: PipelineLimits,
  ) {}

  /** `declaredBytes`: the body's Content-Length when it has one (a small body then gets a small block). */
  async ingest(stream: StreamDto, format: BodyFormat, body: AsyncIterable<Uint8Array>, declaredBytes?: number): Promise<IngestOutcome> {
    // What a request holds however few rows it sends: its body block here and its column builders in the
    // worker. Counted in the budget, so that many idle or slow requests cannot hold memory it does not see.
    const firstBlock = this.pool.blocks.take(declaredBytes);
    const fixedBytes = firstBlock.byteLength + stream.schema.columns.length * BUILDER_BYTES_PER_COLUMN;
    this.budget.take(fixedBytes);
    try {
      return await this.run(stream, format, body, firstBlock);
    } finally {
      this.budget.release(fixedBytes);
    }
  }

  private async run(
    stream: StreamDto,
    format: BodyFormat,
    body: AsyncIterable<Uint8Array>,
    firstBlock: Uint8Array,
  ): Promise<IngestOutcome> {
    const { budget, pool } = this;
    const batcher = this.batchers.of(stream);
    const owner = new BatchOwner();
    const staging = stream.rejectMode === 'all-or-nothing' ? new Staging(budget, this.limits.retryAfterSeconds) : null;
    const errors: RowError[] = [];
    const session = pool.openSession(format, this.parseOptions(stream), {
      onRows: (chunks, rowErrors) => {
        for (const chunk of chunks) {
          if (staging) staging.add(chunk);
          else {
            budget.take(chunk.bytes);
            batcher.append(chunk, owner);
          }
        }
        for (const error of rowErrors) if (errors.length < MAX_REPORTED_ERRORS) errors.push(error);
      },
      onBodyParsed: (bytes) => budget.release(bytes),
    });

    let bodyBytes: number;
    let summary: ParseSummary;
    batcher.startWriting();
    try {
      const failure = () => staging?.failure ?? null;
      bodyBytes = await feedBody(body, session, firstBlock, { pool, budget, maxBodyBytes: this.limits.maxBodyBytes }, failure);
      summary = await session.end();
      if (staging?.failure) throw staging.failure;
    } catch (error) {
      // Rows not yet flushed are withdrawn; rows already flushed stay stored.
      session.abort();
      staging?.drop();
      budget.release(batcher.withdraw(owner));
      if (error instanceof BodyParseError) {
        throw new SluiceError('ingest.malformed_body', `Line ${error.line}: ${error.message}.`, {
          details: { line: error.line, column: error.column },
        });
      }
      throw error;
    } finally {
      batcher.stopWriting();
    }

    if (staging) {
      if (summary.rejected > 0) {
        staging.drop();
        throw new SluiceError(
          'ingest.rows_rejected',
          `${summary.rejected} row(s) were rejected, so nothing was stored (the stream stores all or nothing).`,
          { details: { rowsAccepted: 0, rowsRejected: summary.rejected, errors } },
        );
      }
      staging.handOver(batcher, owner);
    }
    this.batchers.requestEnded(stream, owner);

    const files = await owner.settled();
    return {
      bytesReceived: bodyBytes,
      rowsAccepted: summary.accepted,
      rowsRejected: summary.rejected,
      errors,
      files: [...new Set(files.map((file) => file.key))],
    };
  }

  private parseOptions(stream: StreamDto): ParseOptions {
    return {
      columns: stream.schema.columns,
      delimiter: stream.delimiter,
      unknownColumns: stream.unknownColumns,
      allowNonFinite: stream.allowNonFinite,
      maxLineBytes: this.limits.maxLineBytes,
      maxFields: this.limits.maxFields,
      chunkRows: Math.min(this.limits.chunkRows, stream.batch.maxRows),
      chunkBytes: Math.max(64 * 1024, Math.floor(stream.batch.maxBytes / 4)),
      maxReportedErrors: MAX_REPORTED_ERRORS,
    };
  }
}
