/**
 * One byte budget for the process (QUEUE_MAX_BYTES): what the data path holds in memory. Above the
 * high-water mark new requests are refused (429) before their body is read; a request in flight waits for
 * room before reading more of its socket, which is how TCP backpressure reaches the producer. Waiting asks
 * for a flush (`onPressure`), so rows held in batches drain instead of deadlocking.
 *
 * Every counted byte has one owner, who gives it back with `release`:
 *
 * | bytes                                   | counted by                    | owner until released             |
 * |-----------------------------------------|-------------------------------|----------------------------------|
 * | a request's fixed memory (block, builders) | `take`, at its start       | the request, at its end          |
 * | body blocks sent to a parser            | `reserve` (waits for room)    | the parse session, as parsed     |
 * | parsed rows of an ordinary request      | `take` (already in memory)    | the batch, then its commit       |
 * | parsed rows of an all-or-nothing request | `hold` (cannot drain)        | the request's staging, which     |
 * |                                         |                               | `handOver`s them to a batch or   |
 * |                                         |                               | `releaseHeld`s them              |
 * | a batch's Parquet file                  | the commit `resize`s its rows | the commit, once stored          |
 */
export interface ByteBudgetOptions {
  max: number;
  highWater: number;
  /** Someone waits for room: flush something that drains. */
  onPressure?: () => void;
  /** The count changed (for the queue-bytes gauge). */
  onChange?: (used: number) => void;
}

export class ByteBudget {
  readonly max: number;
  readonly highWater: number;
  used = 0;
  /**
   * Bytes that cannot drain before their request ends: the rows of all-or-nothing requests, held until
   * the whole body is read. They may take at most half the budget (holdLimit): waiting for room could never
   * end if they took it all, so a request that would pass the limit fails instead of waiting.
   */
  held = 0;
  readonly holdLimit: number;
  private readonly waiters: Array<{ bytes: number; resolve: () => void }> = [];
  private readonly onPressure: () => void;
  private readonly onChange: (used: number) => void;

  constructor(options: ByteBudgetOptions) {
    this.max = options.max;
    this.highWater = options.highWater;
    this.holdLimit = Math.floor(options.max / 2);
    this.onPressure = options.onPressure ?? (() => {});
    this.onChange = options.onChange ?? (() => {});
  }

  /** New requests are admitted only below the high-water mark. */
  admits(): boolean {
    return this.used < this.highWater;
  }

  /** Waits until `bytes` fit, then counts them. More than the whole budget still goes when nothing drainable is counted. */
  async reserve(bytes: number): Promise<void> {
    if (this.fits(bytes) && this.waiters.length === 0) {
      this.add(bytes);
      return;
    }
    await new Promise<void>((resolve) => {
      this.waiters.push({ bytes, resolve });
      this.onPressure();
    });
  }

  /** Counts bytes that are already in memory (parsed rows, a request's fixed memory); never waits. */
  take(bytes: number): void {
    this.add(bytes);
  }

  /** Counts rows held until their request ends (see held); false, counting nothing, past holdLimit. */
  hold(bytes: number): boolean {
    if (this.held + bytes > this.holdLimit) return false;
    this.held += bytes;
    this.add(bytes);
    return true;
  }

  /** Held rows go to a batch: still counted, but drainable now. */
  handOver(bytes: number): void {
    this.held -= bytes;
  }

  /** Held rows are dropped. */
  releaseHeld(bytes: number): void {
    this.held -= bytes;
    this.release(bytes);
  }

  /** What was counted as `from` bytes is `to` bytes now (a batch's rows became its Parquet file). */
  resize(from: number, to: number): void {
    this.release(from - to);
  }

  release(bytes: number): void {
    this.add(-bytes);
    while (this.waiters.length > 0 && this.fits(this.waiters[0]!.bytes)) {
      const next = this.waiters.shift()!;
      this.add(next.bytes);
      next.resolve();
    }
    if (this.waiters.length > 0) this.onPressure();
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** Room now, or nothing that could drain left to wait for (only held rows, or nothing at all). */
  private fits(bytes: number): boolean {
    return this.used + bytes <= this.max || this.used === this.held;
  }

  private add(bytes: number) {
    this.used += bytes;
    this.onChange(this.used);
  }
}
