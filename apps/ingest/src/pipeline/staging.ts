/**
 * An all-or-nothing request's rows, held in memory (and in the byte budget, as rows that cannot drain)
 * until its body has been read whole: then they go to the batch together, or none of them do.
 */
import { SluiceError } from '@sluice/shared';
import type { BatchOwner } from './batch-owner';
import type { Batcher } from './batcher';
import type { ByteBudget } from './byte-budget';
import type { ParsedChunk } from './parse/columns';

export class Staging {
  private chunks: ParsedChunk[] = [];
  rows = 0;
  bytes = 0;
  /** Set when the rows would pass the budget's hold limit: the request ends with it. */
  failure: SluiceError | null = null;

  constructor(
    private readonly budget: ByteBudget,
    private readonly retryAfterSeconds: number,
  ) {}

  add(chunk: ParsedChunk): void {
    if (this.failure) return; // the request is failing: its rows are dropped as they come
    if (this.budget.hold(chunk.bytes)) {
      this.chunks.push(chunk);
      this.rows += chunk.rows;
      this.bytes += chunk.bytes;
      return;
    }
    const { holdLimit } = this.budget;
    this.failure =
      this.bytes + chunk.bytes > holdLimit
        ? new SluiceError(
            'ingest.payload_too_large',
            `An all-or-nothing stream holds a request's rows until its body ends, in at most half of QUEUE_MAX_BYTES (${holdLimit} bytes); this request's rows take more. Send it in parts, or raise QUEUE_MAX_BYTES.`,
            { details: { holdLimitBytes: holdLimit } },
          )
        : new SluiceError('ingest.busy', undefined, { headers: { 'retry-after': String(this.retryAfterSeconds) } });
    // Given back at once, not when the request next looks: a slow body would keep them from others.
    this.drop();
  }

  /** The rows are not stored: their bytes are given back. */
  drop(): void {
    this.budget.releaseHeld(this.bytes);
    this.chunks = [];
    this.rows = 0;
    this.bytes = 0;
  }

  /**
   * The body ended with no row rejected: every row goes to the batch, where it drains like any other. The
   * caller sees to it that they make one file (Batcher.fits), or that the files commit together.
   */
  handOver(batcher: Batcher, owner: BatchOwner): void {
    this.budget.handOver(this.bytes);
    for (const chunk of this.chunks) batcher.append(chunk, owner);
    this.chunks = [];
    this.rows = 0;
    this.bytes = 0;
  }
}
