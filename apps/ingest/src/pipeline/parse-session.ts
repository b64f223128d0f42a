/**
 * One request body's parse on a pipeline worker: body blocks go in (transferred, in order, with at most
 * `window` bytes in flight), parsed rows and rejected-row reports come back, and the end (or a failure)
 * settles it. It knows nothing of batches or budgets: its handlers do.
 */
import type { FromWorker, ParseProgress } from './protocol';
import type { ParsedChunk } from './parse/columns';
import type { QuarantinedRow, RowError } from './parse/record-sink';
import type { Slot, WorkerPool } from './worker-pool';

export interface SessionHandlers {
  /** Parsed rows and rejected-row reports, in body order. */
  onRows(chunks: ParsedChunk[], errors: RowError[], quarantined: QuarantinedRow[]): void;
  /** Body bytes the parser has finished with (their memory can be counted as free). */
  onBodyParsed(bytes: number): void;
}

export interface ParseSummary {
  /** Rows accepted, skipped ones included. */
  accepted: number;
  rejected: number;
  /** Accepted rows of lines stored by an earlier attempt (ParseOptions.skipLines), not stored again. */
  skipped: number;
  /** Lines the body had. */
  lines: number;
}

/** A body's parse, as the body reader and the pipeline see it (ParseSession, SegmentedSession). */
export interface BodyParse {
  /** Sends body bytes (the caller gives up their whole buffer); resolves when there is room for more. */
  write(bytes: Uint8Array): Promise<void>;
  /** The body has ended: resolves with the counts once every row is parsed. */
  end(): Promise<ParseSummary>;
  /** The request failed: parsing stops, the bytes still in the workers count as freed. */
  abort(): void;
}

export class BodyParseError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: string | null,
  ) {
    super(message);
  }
}

export class ParseSession implements BodyParse {
  private inFlight = 0;
  private waiter: (() => void) | null = null;
  private finished: { resolve(summary: ParseSummary): void; reject(error: Error): void } | null = null;
  private failure: Error | null = null;
  private closed = false;

  constructor(
    private readonly pool: WorkerPool,
    readonly slot: Slot,
    readonly id: number,
    private readonly handlers: SessionHandlers,
    private readonly window: number,
  ) {}

  /**
   * Sends body bytes to the parser, transferring their buffer (the caller gives it up: it must own the
   * whole ArrayBuffer). Resolves when the in-flight window has room again.
   */
  async write(bytes: Uint8Array): Promise<void> {
    if (this.failure) {
      this.handlers.onBodyParsed(bytes.byteLength);
      throw this.failure;
    }
    this.inFlight += bytes.byteLength;
    this.pool.post(this.slot, { kind: 'data', session: this.id, bytes }, [bytes.buffer as ArrayBuffer]);
    while (this.inFlight > this.window && !this.failure) {
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
    if (this.failure) throw this.failure;
  }

  /** Signals the end of the body; resolves with the final counts once every row is parsed. */
  end(): Promise<ParseSummary> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.finished = { resolve, reject };
      this.pool.post(this.slot, { kind: 'end', session: this.id });
    });
  }

  /** Stops parsing (the request failed); the body bytes still in the worker count as freed. */
  abort(): void {
    if (this.closed) return;
    this.handlers.onBodyParsed(this.inFlight);
    this.inFlight = 0;
    this.pool.post(this.slot, { kind: 'abort', session: this.id });
    this.close();
  }

  /** @internal */
  receive(message: FromWorker): void {
    if (message.kind === 'failed') {
      this.fail(message.internal ? new Error(message.message) : new BodyParseError(message.message, message.line, message.column));
      return;
    }
    if (message.kind !== 'progress' && message.kind !== 'done') return;
    const progress: ParseProgress = message;
    if (progress.spent) this.pool.blocks.giveBack(progress.spent);
    this.handlers.onRows(progress.chunks, progress.errors, progress.quarantined);
    if (progress.consumed > 0) {
      this.inFlight -= progress.consumed;
      this.handlers.onBodyParsed(progress.consumed);
      this.wake();
    }
    if (message.kind === 'done') {
      this.close();
      this.finished?.resolve({
        accepted: progress.accepted,
        rejected: progress.rejected,
        skipped: progress.skipped,
        lines: progress.lines,
      });
    }
  }

  /** @internal A worker crash or a body error ends the session. */
  fail(error: Error): void {
    if (this.closed) return;
    this.failure = error;
    this.handlers.onBodyParsed(this.inFlight);
    this.inFlight = 0;
    this.close();
    this.wake();
    this.finished?.reject(error);
  }

  private wake() {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }

  private close() {
    if (this.closed) return;
    this.closed = true;
    this.pool.release(this);
    this.slot.sessions--;
  }
}
