/**
 * Counts the ingest requests in flight, in all and per key, so that neither one process nor one key can
 * hold an unbounded number of them (INGEST_MAX_REQUESTS, INGEST_MAX_REQUESTS_PER_KEY): past either, 429.
 */
export class InFlight {
  private total = 0;
  private readonly perHolder = new Map<string, number>();

  constructor(
    private readonly max: number,
    private readonly maxPerHolder: number,
  ) {}

  /** Counts a request in; false, counting nothing, when either limit is reached. */
  enter(holder: string): boolean {
    const held = this.perHolder.get(holder) ?? 0;
    if (this.total >= this.max || held >= this.maxPerHolder) return false;
    this.total++;
    this.perHolder.set(holder, held + 1);
    return true;
  }

  leave(holder: string): void {
    this.total--;
    const held = (this.perHolder.get(holder) ?? 1) - 1;
    if (held === 0) this.perHolder.delete(holder);
    else this.perHolder.set(holder, held);
  }

  get count(): number {
    return this.total;
  }
}
