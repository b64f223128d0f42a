/**
 * The batchers of every stream (one per stream and schema version), and the flush decisions that look
 * across them or at a request's end: the fullest batch when memory is short, every batch on shutdown, and
 * a request's batch once its body has ended.
 */
import type { StreamDto } from '@sluice/shared';
import type { BatchOwner, CommittedFile } from './batch-owner';
import { Batcher, type Batch, type FlushReason } from './batcher';

export type CommitBatch = (stream: StreamDto, batch: Batch, reason: FlushReason) => Promise<CommittedFile[]>;

export class Batchers {
  private readonly byStream = new Map<string, Batcher>();
  private draining = false;

  constructor(private readonly commit: CommitBatch) {}

  of(stream: StreamDto): Batcher {
    const key = `${stream.name}@${stream.schemaVersion}`;
    let batcher = this.byStream.get(key);
    if (!batcher) {
      batcher = new Batcher(stream.batch, (batch, reason) => this.commit(stream, batch, reason));
      this.byStream.set(key, batcher);
    }
    return batcher;
  }

  /** Memory is short: flush the fullest batch so its rows drain to the store. */
  flushLargest(): void {
    let largest: Batcher | null = null;
    for (const batcher of this.byStream.values()) {
      if (batcher.pendingBytes > (largest?.pendingBytes ?? 0)) largest = batcher;
    }
    largest?.flush('pressure');
  }

  /** From now on every batch is flushed at once; flushes what is pending. */
  drain(): void {
    this.draining = true;
    for (const batcher of this.byStream.values()) batcher.flush('shutdown');
  }

  /**
   * A request's body has ended and its producer waits for its rows to be durable. When no other request
   * is adding to the batch and it is not tiny, flush now rather than wait for maxAgeMs; small batches wait
   * to be grouped (no tiny files), at most until the request is maxAgeMs old.
   */
  requestEnded(stream: StreamDto, owner: BatchOwner): void {
    const batcher = this.of(stream);
    let reason: FlushReason | null = null;
    if (this.draining) reason = 'shutdown';
    else if (!batcher.writing && (batcher.pendingRows >= stream.batch.maxRows / 8 || batcher.pendingBytes >= stream.batch.maxBytes / 8)) {
      reason = 'request_end';
    }
    if (reason) batcher.flush(reason);
    batcher.ended(owner);
  }
}
