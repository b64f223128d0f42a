/**
 * Failed key lookups counted per client address in fixed windows (KEY_FAILURE_LIMIT per
 * KEY_FAILURE_WINDOW_MS): past the limit an address gets 429 without its keys being looked up, so a flood
 * of guessed keys costs neither database queries nor places in the key cache.
 */
export class FailureLimiter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    /** Addresses tracked at most; the oldest window goes first (it is also the first to expire). */
    readonly maxAddresses = 10_000,
  ) {}

  /** Whole seconds until `address` may try again, or 0 when it may now. */
  blockedFor(address: string, now: number): number {
    const window = this.windows.get(address);
    if (!window || window.resetAt <= now || window.count < this.limit) return 0;
    return Math.max(1, Math.ceil((window.resetAt - now) / 1000));
  }

  record(address: string, now: number): void {
    let window = this.windows.get(address);
    if (!window || window.resetAt <= now) {
      this.windows.delete(address);
      window = { count: 0, resetAt: now + this.windowMs };
      this.windows.set(address, window);
      if (this.windows.size > this.maxAddresses) this.windows.delete(this.windows.keys().next().value as string);
    }
    window.count += 1;
  }
}
