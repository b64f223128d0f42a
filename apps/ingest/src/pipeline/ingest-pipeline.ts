/**
 * The data path of one request, without HTTP: body bytes -> parse session (a worker) -> the stream's
 * batcher (or, for all-or-nothing streams, staging until the body ends) -> committed files. It answers
 * only when every accepted row of the request is durable. The parts: body-reader.ts (blocks and
 * backpressure), parse-session.ts, staging.ts, batchers.ts / batcher.ts, request-files.ts (files that
 * commit together), committer.ts.
 */
import type { LineSpan } from '@sluice/db';
import { MAX_REPORTED_ERRORS, SluiceError, type StreamDto } from '@sluice/shared';
import { BatchOwner, type CommittedFile } from './batch-owner';
import type { Batcher } from './batcher';
import type { Batchers } from './batchers';
import { feedBody } from './body-reader';
import type { ByteBudget } from './byte-budget';
import type { Committer } from './committer';
import { BodyParseError, type ParseSummary } from './parse-session';
import type { QuarantineSource, QuarantineWriter } from '../lake/quarantine';
import type { ParseOptions, RowError } from './parse/record-sink';
import type { BodyFormat } from './protocol';
import { RequestFiles } from './request-files';
import { Staging } from './staging';
import type { WorkerPool } from './worker-pool';

export interface PipelineLimits {
  maxBodyBytes: number;
  maxLineBytes: number;
  maxFields: number;
  /** Rows per parsed chunk (the unit the batcher groups). */
  chunkRows: number;
  /** The largest Arrow IPC message of an Arrow body (FLIGHT_MAX_MESSAGE_BYTES). */
  maxMessageBytes?: number;
  /** Retry-After of a request refused because the budget is busy. */
  retryAfterSeconds: number;
  /** Rejected rows of a request kept for the quarantine table (0: none). */
  maxQuarantinedRows: number;
}

/** An attempt of a request with an Idempotency-Key (see routes/idempotency.ts). */
export interface KeyedAttempt {
  /** Its IdempotencyKey record: the files holding its rows record their line spans under it. */
  id: string;
  /** The attempt holding the key (the request's id): a file holding its rows commits only while it does. */
  holder: string;
  /** Lines earlier attempts stored: read, checked and counted, not stored again. */
  skipLines: LineSpan[];
  /**
   * Set when the key has a body on record: called once the body has been read whole, it throws when this
   * one differs. The request's files are then committed only after it passed (RequestFiles).
   */
  checkBody?: () => void;
}

export interface IngestOptions {
  /** The body's Content-Length when it has one (a small body then gets a small block). */
  declaredBytes?: number;
  keyed?: KeyedAttempt;
  /** Who sent the body: its rejected rows go to the quarantine with it. */
  source?: QuarantineSource;
  /** Each piece of the body is the whole of its own buffer (Flight's messages): large ones go to the parser as they are. */
  ownedPieces?: boolean;
}

export interface IngestOutcome {
  /** Body bytes read (after decompression). */
  bytesReceived: number;
  /** Rows accepted, those stored by earlier attempts of the same Idempotency-Key included. */
  rowsAccepted: number;
  /** Of those, the rows earlier attempts stored. */
  rowsAlreadyStored: number;
  rowsRejected: number;
  errors: RowError[];
  files: string[];
}

/** A column builder's starting room in the parser (1,024 values and their validity, strings' first bytes). */
const BUILDER_BYTES_PER_COLUMN = 16 * 1024;

export class IngestPipeline {
  constructor(
    readonly pool: WorkerPool,
    private readonly budget: ByteBudget,
    private readonly batchers: Batchers,
    private readonly committer: Committer,
    private readonly limits: PipelineLimits,
    private readonly quarantine: Pick<QuarantineWriter, 'add'> | null = null,
  ) {}

  async ingest(
    stream: StreamDto,
    format: BodyFormat,
    body: AsyncIterable<Uint8Array>,
    options: IngestOptions = {},
  ): Promise<IngestOutcome> {
    // What a request holds however few rows it sends: its body block here and its column builders in the
    // worker. Counted in the budget, so that many idle or slow requests cannot hold memory it does not see.
    const firstBlock = this.pool.blocks.take(options.declaredBytes);
    const fixedBytes = firstBlock.byteLength + stream.schema.columns.length * BUILDER_BYTES_PER_COLUMN;
    this.budget.take(fixedBytes);
    try {
      return await this.run(stream, format, body, firstBlock, options);
    } finally {
      this.budget.release(fixedBytes);
    }
  }

  private async run(
    stream: StreamDto,
    format: BodyFormat,
    body: AsyncIterable<Uint8Array>,
    firstBlock: Uint8Array,
    { keyed, source, ownedPieces }: IngestOptions,
  ): Promise<IngestOutcome> {
    const { budget, pool } = this;
    const shared = this.batchers.of(stream);
    const owner = new BatchOwner(keyed ? { id: keyed.id, holder: keyed.holder } : null);
    // A keyed retry whose body is checked at its end writes files of its own, committed only then.
    let own = keyed?.checkBody ? new RequestFiles(stream, this.committer, owner) : null;
    const batcher = own?.batcher ?? shared;
    const staging = stream.rejectMode === 'all-or-nothing' ? new Staging(budget, this.limits.retryAfterSeconds) : null;
    const errors: RowError[] = [];
    const session = pool.openBodyParse(format, this.parseOptions(stream, keyed), {
      onRows: (chunks, rowErrors, quarantined) => {
        for (const chunk of chunks) {
          if (staging) staging.add(chunk);
          else {
            budget.take(chunk.bytes);
            batcher.append(chunk, owner);
          }
        }
        for (const error of rowErrors) if (errors.length < MAX_REPORTED_ERRORS) errors.push(error);
        if (quarantined.length > 0 && source) this.quarantine?.add(stream, quarantined, source);
      },
      onBodyParsed: (bytes) => budget.release(bytes),
    });

    let bodyBytes: number;
    let summary: ParseSummary;
    if (!own) shared.startWriting();
    try {
      const failure = () => staging?.failure ?? null;
      const deps = { pool, budget, maxBodyBytes: this.limits.maxBodyBytes };
      bodyBytes = await feedBody(body, session, firstBlock, deps, failure, ownedPieces);
      summary = await session.end();
      if (staging?.failure) throw staging.failure;
      keyed?.checkBody?.();
      if (staging && summary.rejected > 0) {
        throw new SluiceError(
          'ingest.rows_rejected',
          `${summary.rejected} row(s) were rejected, so nothing was stored (the stream stores all or nothing).`,
          { details: { rowsAccepted: 0, rowsRejected: summary.rejected, errors } },
        );
      }
    } catch (error) {
      // Rows not yet flushed are withdrawn; rows already flushed stay stored, unless they wait to commit together.
      session.abort();
      staging?.drop();
      budget.release(own ? await own.abandon() : shared.withdraw(owner));
      // A keyed request's flushed rows may still be committing: its retry must see them committed or not
      // at all, so the attempt ends (and frees its key) only once they have settled.
      if (keyed && !own) await owner.outcomes();
      if (error instanceof BodyParseError) {
        throw new SluiceError('ingest.malformed_body', `Line ${error.line}: ${error.message}.`, {
          details: { line: error.line, column: error.column },
        });
      }
      throw error;
    } finally {
      if (!own) shared.stopWriting();
    }

    if (staging && own) staging.handOver(own.batcher, owner);
    else if (staging) own = this.handOver(staging, shared, stream, owner);
    let files: CommittedFile[];
    if (own) files = await own.commit();
    else {
      this.batchers.requestEnded(stream, owner);
      files = await owner.settled();
    }
    return {
      bytesReceived: bodyBytes,
      rowsAccepted: summary.accepted,
      rowsAlreadyStored: summary.skipped,
      rowsRejected: summary.rejected,
      errors,
      files: [...new Set(files.map((file) => file.key))],
    };
  }

  /**
   * An all-or-nothing request's rows, all valid, join the stream's batch when they make one file with it
   * (after a flush of what it holds, if need be); more rows than a batch become files of their own that
   * commit together. Returns those files, or null.
   */
  private handOver(staging: Staging, shared: Batcher, stream: StreamDto, owner: BatchOwner): RequestFiles | null {
    const { maxRows, maxBytes } = stream.batch;
    if (staging.rows <= maxRows && staging.bytes <= maxBytes) {
      if (!shared.fits(staging.rows, staging.bytes)) shared.flush('rows');
      staging.handOver(shared, owner);
      return null;
    }
    const own = new RequestFiles(stream, this.committer, owner);
    staging.handOver(own.batcher, owner);
    return own;
  }

  private parseOptions(stream: StreamDto, keyed: KeyedAttempt | undefined): ParseOptions {
    return {
      skipLines: keyed?.skipLines,
      columns: stream.schema.columns,
      delimiter: stream.delimiter,
      unknownColumns: stream.unknownColumns,
      allowNonFinite: stream.allowNonFinite,
      maxLineBytes: this.limits.maxLineBytes,
      maxFields: this.limits.maxFields,
      maxMessageBytes: this.limits.maxMessageBytes,
      chunkRows: Math.min(this.limits.chunkRows, stream.batch.maxRows),
      chunkBytes: Math.max(64 * 1024, Math.floor(stream.batch.maxBytes / 4)),
      maxReportedErrors: MAX_REPORTED_ERRORS,
      maxQuarantinedRows: this.quarantine ? this.limits.maxQuarantinedRows : 0,
    };
  }
}
