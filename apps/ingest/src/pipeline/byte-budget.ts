/**
 * One byte budget for the process (QUEUE_MAX_BYTES): body bytes being parsed plus parsed rows waiting to
 * be stored. Above the high-water mark new requests are refused (429) before their body is read; a request
 * in flight waits for room before reading more of its socket, which is how TCP backpressure reaches the
 * producer. Waiting asks for a flush (`onPressure`), so held rows drain instead of deadlocking.
 */
export class ByteBudget {
  used = 0;
  private readonly waiters: Array<{ bytes: number; resolve: () => void }> = [];
  onPressure: () => void = () => {};
  onChange: (used: number) => void = () => {};

  constructor(
    readonly max: number,
    readonly highWater: number,
  ) {}

  /** New requests are admitted only below the high-water mark. */
  admits(): boolean {
    return this.used < this.highWater;
  }

  /** Waits until `bytes` fit. A request larger than the whole budget still proceeds when nothing else is held. */
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

  private fits(bytes: number): boolean {
    return this.used + bytes <= this.max || this.used === 0;
  }

  private add(bytes: number) {
    this.used += bytes;
    this.onChange(this.used);
  }
}
