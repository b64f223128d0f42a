/**
 * Collections on demand, of the young generation. The data path churns through buffers that live
 * outside the JS heap (socket reads, body blocks, column chunks, Arrow and Parquet bytes), and V8 frees
 * them only when its own heap asks for a collection, so dead ones pile up to tens of MB. They die young: a
 * minor collection every few MB of traffic frees them for a millisecond or two. The few that live longer
 * are freed by hand (freeNow).
 *
 * Full collections are not asked for. Node 20's V8 runs gc({ type: 'major' }) as a minor one (seen with
 * --trace-gc; only gc() with no argument is full), and a real full collection every 1 GB of body on the
 * main thread kept its heap flat but made V8 mark the old generation every ~100 ms afterwards: +30 %
 * service CPU on a 10M-row body.
 *
 * The collector is V8's `gc()`, there when the process runs with --expose-gc (apps/ingest/runtime.mjs
 * starts it so); nothing here changes V8's flags. `{ type: 'minor' }` is V8's own option of that function
 * (a scavenge of the young generation only). Without --expose-gc (tests under a TypeScript loader, a
 * process started by hand) there is nothing to call, and collections are left to V8: the service works the
 * same, holding more dead buffers between its collections.
 */

const gc = (globalThis as { gc?: (options: { type: 'minor' }) => void }).gc;

export function collectYoung(): void {
  gc?.({ type: 'minor' });
}

/** A minor collection once every `every` bytes counted. */
export class Collector {
  private since = 0;

  constructor(private readonly every: number) {}

  count(bytes: number): void {
    this.since += bytes;
    if (this.since >= this.every) {
      this.since = 0;
      collectYoung();
    }
  }
}

/**
 * Frees a buffer's memory now, not at the next full collection: its bytes move (no copy) to a new buffer
 * that nothing references and that dies young, and the buffer is left detached (empty). For a buffer held
 * long enough to reach the old generation, such as a Parquet file while it is stored: those held ~50 MB of
 * dead files in the main thread over a large request.
 */
export function freeNow(buffer: ArrayBuffer): void {
  structuredClone(buffer, { transfer: [buffer] });
}
