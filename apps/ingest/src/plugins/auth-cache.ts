/**
 * A bounded least-recently-used cache with an expiry per entry, for key lookups. Reading an entry makes it
 * the most recent, so keys in steady use stay while one-off lookups age out first.
 */
export class LruCache<K, V> {
  // A Map iterates in insertion order: deleting and re-inserting an entry moves it to the recent end, and
  // the first key is always the least recently used.
  private readonly entries = new Map<K, { value: V; expires: number }>();

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.entries.size;
  }

  /** The live value, refreshed as most recently used; undefined when absent or expired. */
  get(key: K, now: number): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    if (entry.expires <= now) return undefined;
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Whether a live entry is held, without touching its place (for tests and metrics). */
  peek(key: K, now: number): boolean {
    const entry = this.entries.get(key);
    return entry !== undefined && entry.expires > now;
  }

  set(key: K, value: V, expires: number): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expires });
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as K);
  }
}
