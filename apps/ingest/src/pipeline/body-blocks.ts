/**
 * Body blocks: the buffers a request's body is gathered into before it goes to a parse worker. Blocks
 * cross to the worker and come back once parsed, so a few are kept for the next ones instead of
 * allocating a megabyte per block.
 */

/** Body bytes go to the workers in blocks of this size. */
export const BLOCK_BYTES = 1 << 20;
/** A body known to be small gets a block of its size, in steps of this. */
const SMALL_BLOCK_STEP = 64 * 1024;
/** Blocks kept for reuse; more than this in circulation are left to the collector. */
const SPARE_BLOCKS = 8;

export class BodyBlocks {
  private readonly spare: ArrayBuffer[] = [];

  /**
   * An empty block: one handed back, or a new one. A body known to be small gets a block of its size
   * (in 64 KiB steps) instead: many small requests at once would otherwise hold 1 MiB each.
   */
  take(expectedBytes = BLOCK_BYTES): Uint8Array {
    if (expectedBytes < BLOCK_BYTES)
      return new Uint8Array(Math.max(SMALL_BLOCK_STEP, Math.ceil(expectedBytes / SMALL_BLOCK_STEP) * SMALL_BLOCK_STEP));
    return new Uint8Array(this.spare.pop() ?? new ArrayBuffer(BLOCK_BYTES));
  }

  /** Takes a block back for reuse (only full-size ones are kept). */
  giveBack(buffer: ArrayBuffer): void {
    if (buffer.byteLength === BLOCK_BYTES && this.spare.length < SPARE_BLOCKS) this.spare.push(buffer);
  }
}
