/**
 * The data path of one request, without HTTP: body bytes -> parser worker -> batcher -> committed files.
 * It enforces the body-size limit, the byte budget (backpressure), the stream's reject policy, and answers
 * only when every accepted row of the request is durable.
 */
import { MAX_REPORTED_ERRORS, SluiceError, type StreamDto } from '@sluice/shared';
import { BatchOwner, Batcher, type FlushReason } from './batcher';
import type { ByteBudget } from './byte-budget';
import type { Committer } from './committer';
import type { ParsedChunk } from './parse/columns';
import type { RowError } from './parse/record-sink';
import type { BodyFormat } from './protocol';
import { BodyParseError, type WorkerPool } from './worker-pool';
import { Collector } from './young-gc';

/** A column builder's starting room in the parser (1,024 values and their validity, strings' first bytes). */
const BUILDER_BYTES_PER_COLUMN = 16 * 1024;

/** Socket reads are dead once copied into a block: collect them every 8 MB received (see young-gc.ts). */
const received = new Collector(8 * 1024 * 1024);

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

export class IngestPipeline {
  private readonly batchers = new Map<string, Batcher>();
  private draining = false;

  constructor(
    private readonly pool: WorkerPool,
    private readonly budget: ByteBudget,
    private readonly committer: Committer,
    private readonly limits: PipelineLimits,
  ) {
    budget.onPressure = () => this.flushLargest();
  }

  private batcherFor(stream: StreamDto): Batcher {
    const key = `${stream.name}@${stream.schemaVersion}`;
    let batcher = this.batchers.get(key);
    if (!batcher) {
      batcher = new Batcher(stream.batch, (batch, reason) => this.committer.commit(stream, batch, reason));
      this.batchers.set(key, batcher);
    }
    return batcher;
  }

  /** Memory is short: flush the fullest batch so its rows drain to the store. */
  private flushLargest(): void {
    let largest: Batcher | null = null;
    for (const batcher of this.batchers.values()) {
      if (batcher.pendingBytes > (largest?.pendingBytes ?? 0)) largest = batcher;
    }
    largest?.flush('pressure');
  }

  /** From now on every batch is flushed at once; returns after flushing what is pending. */
  drain(): void {
    this.draining = true;
    for (const batcher of this.batchers.values()) batcher.flush('shutdown');
  }

  /** `declaredBytes`: the body's Content-Length when it has one (a small body then gets a small block). */
  async ingest(stream: StreamDto, format: BodyFormat, body: AsyncIterable<Uint8Array>, declaredBytes?: number): Promise<IngestOutcome> {
    // What a request holds however few rows it sends: its body block here and its column builders in the
    // worker. Counted in the budget, so that many idle or slow requests cannot hold memory it does not see.
    const firstBlock = this.pool.block(declaredBytes);
    const fixedBytes = firstBlock.byteLength + stream.schema.columns.length * BUILDER_BYTES_PER_COLUMN;
    this.budget.force(fixedBytes);
    try {
      return await this.ingestBody(stream, format, body, firstBlock);
    } finally {
      this.budget.release(fixedBytes);
    }
  }

  private async ingestBody(stream: StreamDto, format: BodyFormat, body: AsyncIterable<Uint8Array>, firstBlock: Uint8Array): Promise<IngestOutcome> {
    const batcher = this.batcherFor(stream);
    const owner = new BatchOwner();
    const allOrNothing = stream.rejectMode === 'all-or-nothing';
    // An all-or-nothing request's rows wait here, held in the budget, until its body has been read whole.
    const staged: ParsedChunk[] = [];
    let stagedBytes = 0;
    /** Set when those rows would pass the budget's hold limit: the request ends with it. */
    let holdFailure: SluiceError | null = null;
    const errors: RowError[] = [];
    const budget = this.budget;
    const dropStaged = () => {
      budget.releaseHeld(stagedBytes);
      staged.length = 0;
      stagedBytes = 0;
    };
    const stage = (chunk: ParsedChunk) => {
      if (holdFailure) return; // the request is failing: its rows are dropped as they come
      if (budget.hold(chunk.bytes)) {
        staged.push(chunk);
        stagedBytes += chunk.bytes;
        return;
      }
      holdFailure =
        stagedBytes + chunk.bytes > budget.holdLimit
          ? new SluiceError(
              'ingest.payload_too_large',
              `An all-or-nothing stream holds a request's rows until its body ends, in at most half of QUEUE_MAX_BYTES (${budget.holdLimit} bytes); this request's rows take more. Send it in parts, or raise QUEUE_MAX_BYTES.`,
              { details: { holdLimitBytes: budget.holdLimit } },
            )
          : new SluiceError('ingest.busy', undefined, { headers: { 'retry-after': String(this.limits.retryAfterSeconds) } });
      // Given back at once, not when the request next looks: a slow body would keep them from others.
      dropStaged();
    };

    const session = this.pool.openSession(
      format,
      {
        columns: stream.schema.columns,
        delimiter: stream.delimiter,
        unknownColumns: stream.unknownColumns,
        allowNonFinite: stream.allowNonFinite,
        maxLineBytes: this.limits.maxLineBytes,
        maxFields: this.limits.maxFields,
        chunkRows: Math.min(this.limits.chunkRows, stream.batch.maxRows),
        chunkBytes: Math.max(64 * 1024, Math.floor(stream.batch.maxBytes / 4)),
        maxReportedErrors: MAX_REPORTED_ERRORS,
      },
      {
        onProgress: (chunks, rowErrors) => {
          for (const chunk of chunks) {
            if (allOrNothing) {
              stage(chunk);
            } else {
              budget.force(chunk.bytes);
              batcher.append(chunk, owner);
            }
          }
          for (const error of rowErrors) if (errors.length < MAX_REPORTED_ERRORS) errors.push(error);
        },
        onConsumed: (bytes) => budget.release(bytes),
      },
    );

    batcher.writers++;
    let summary: { accepted: number; rejected: number };
    let bodyBytes = 0;
    try {
      // Socket pieces are gathered into blocks (reused: workers hand them back) before going to a worker.
      let block = firstBlock;
      let filled = 0;
      const send = async () => {
        if (filled === 0) return;
        let full = block;
        if (filled === block.length) block = this.pool.block();
        else full = block.slice(0, filled);
        filled = 0;
        // Counted first: a request waiting for the encoder holds this block, and new requests must see it.
        await budget.acquire(full.byteLength);
        await this.pool.encoderCaughtUp();
        await session.write(full);
        if (holdFailure) throw holdFailure;
      };
      for await (const piece of body) {
        if (holdFailure) throw holdFailure;
        bodyBytes += piece.byteLength;
        received.count(piece.byteLength);
        if (bodyBytes > this.limits.maxBodyBytes) {
          throw new SluiceError(
            'ingest.payload_too_large',
            `The body is larger than ${this.limits.maxBodyBytes} bytes (MAX_BODY_BYTES).`,
          );
        }
        let offset = 0;
        while (offset < piece.byteLength) {
          const take = Math.min(piece.byteLength - offset, block.length - filled);
          block.set(piece.subarray(offset, offset + take), filled);
          filled += take;
          offset += take;
          if (filled === block.length) await send();
        }
      }
      await send();
      this.pool.recycle(block.buffer as ArrayBuffer);
      summary = await session.end();
      if (holdFailure) throw holdFailure;
    } catch (error) {
      session.abort();
      dropStaged();
      budget.release(batcher.withdraw(owner));
      if (error instanceof BodyParseError) {
        throw new SluiceError('ingest.malformed_body', `Line ${error.line}: ${error.message}.`, {
          details: { line: error.line, column: error.column },
        });
      }
      throw error;
    } finally {
      batcher.writers--;
    }

    if (allOrNothing) {
      if (summary.rejected > 0) {
        dropStaged();
        throw new SluiceError(
          'ingest.rows_rejected',
          `${summary.rejected} row(s) were rejected, so nothing was stored (the stream stores all or nothing).`,
          { details: { rowsAccepted: 0, rowsRejected: summary.rejected, errors } },
        );
      }
      budget.unhold(stagedBytes);
      for (const chunk of staged) batcher.append(chunk, owner);
    }
    this.maybeFlushAtEnd(batcher, stream);
    batcher.ended(owner);

    const files = await owner.settled();
    return {
      bytesReceived: bodyBytes,
      rowsAccepted: summary.accepted,
      rowsRejected: summary.rejected,
      errors,
      files: [...new Set(files.map((file) => file.key))],
    };
  }

  /**
   * A producer waits for its rows to be durable. When no other request is adding to the batch and it
   * is not tiny, flush now rather than wait for maxAgeMs; small batches wait to be grouped (no tiny files).
   */
  private maybeFlushAtEnd(batcher: Batcher, stream: StreamDto) {
    let reason: FlushReason | null = null;
    if (this.draining) reason = 'shutdown';
    else if (
      batcher.writers === 0 &&
      (batcher.pendingRows >= stream.batch.maxRows / 8 || batcher.pendingBytes >= stream.batch.maxBytes / 8)
    ) {
      reason = 'request_end';
    }
    if (reason) batcher.flush(reason);
  }
}
