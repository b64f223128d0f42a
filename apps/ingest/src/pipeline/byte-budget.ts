/**
 * One byte budget for the process (QUEUE_MAX_BYTES): body bytes being parsed plus parsed rows waiting to
 * be stored. Above the high-water mark new requests are refused (429) before their body is read; a request
 * in flight waits for room before reading more of its socket, which is how TCP backpressure reaches the
 * producer. Waiting asks for a flush (`onPressure`), so held rows drain instead of deadlocking.
 */
export class ByteBudget {
  used = 0;
  /**
   * Bytes that cannot drain before their request ends: the rows of all-or-nothing requests, held until
   * the whole body is read. They may take at most half the budget (holdLimit): waiting for room could never
   * end if they took it all, so a request that would pass the limit fails instead of waiting.
   */
  held = 0;
  readonly holdLimit: number;
  private readonly waiters: Array<{ bytes: number; resolve: () => void }> = [];
  onPressure: () => void = () => {};
  onChange: (used: number) => void = () => {};

  constructor(
    readonly max: number,
    readonly highWater: number,
  ) {
    this.holdLimit = Math.floor(max / 2);
  }

  /** New requests are admitted only below the high-water mark. */
  admits(): boolean {
    return this.used < this.highWater;
  }

  /** Waits until `bytes` fit. A request larger than the whole budget still proceeds when nothing drainable is held. */
  async acquire(bytes: number): Promise<void> {
    if (this.fits(bytes) && this.waiters.length === 0) {
      this.add(bytes);
      return;
    }
    await new Promise<void>((resolve) => {
      this.waiters.push({ bytes, resolve });
      this.onPressure();
    });
  }

  /** Counts bytes that are already in memory (parsed rows); never waits. */
  force(bytes: number): void {
    this.add(bytes);
  }

  /** Counts rows held until their request ends (see held); false, counting nothing, past holdLimit. */
  hold(bytes: number): boolean {
    if (this.held + bytes > this.holdLimit) return false;
    this.held += bytes;
    this.add(bytes);
    return true;
  }

  /** Held rows become ordinary ones: they go to a batch, which drains. */
  unhold(bytes: number): void {
    this.held -= bytes;
  }

  /** Held rows are dropped. */
  releaseHeld(bytes: number): void {
    this.held -= bytes;
    this.release(bytes);
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
