/**
 * Collections on demand, mostly of the young generation. The data path churns through buffers that live
 * outside the JS heap (socket reads, body blocks, column chunks, Arrow and Parquet bytes), and V8 frees
 * them only when its own heap asks for a collection, so dead ones pile up to tens of MB. They die young: a
 * minor collection every few MB of traffic frees them for a millisecond or two (a full one did the same at
 * several times the CPU cost). The few that live longer are freed by hand (freeNow).
 */
import v8 from 'node:v8';
import vm from 'node:vm';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as (options: { type: 'minor' | 'major' }) => void;

export function collectYoung(): void {
  gc({ type: 'minor' });
}

/**
 * Collects once every `every` bytes counted: a minor collection by default. A major one is for buffers a
 * native addon allocated: their Node-API finalizers free them only after their wrappers are collected (and
 * a tick later), and a wrapper that outlived a minor collection waits for a major one, which V8 was seen
 * to put off for hundreds of MB. A major collection of a worker's small heap takes a few ms.
 */
export class Collector {
  private since = 0;

  constructor(
    private readonly every: number,
    private readonly type: 'minor' | 'major' = 'minor',
  ) {}

  count(bytes: number): void {
    this.since += bytes;
    if (this.since >= this.every) {
      this.since = 0;
      gc({ type: this.type });
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
