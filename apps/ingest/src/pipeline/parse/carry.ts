/**
 * The unfinished end of one body piece (a record or line cut by the block boundary), carried over and
 * joined to the start of the next piece. The joined bytes go in a buffer kept from piece to piece: a new
 * buffer per piece meant allocating (and faulting in) a whole block's size for every block of the body,
 * and as much garbage for the collector.
 */
/** Room beyond the first join's size, for later carries a little longer than the first. */
const SLACK = 64 * 1024;

export class Carry {
  private held: Uint8Array | null = null;
  private joined = new Uint8Array(0);

  /** Keeps a copy of `bytes`: the caller may reuse its buffer, and `bytes` may lie in the joined buffer. */
  keep(bytes: Uint8Array): void {
    this.held = Uint8Array.prototype.slice.call(bytes);
  }

  /** The bytes kept and then `piece`, valid until the next call; `piece` itself when nothing is kept. */
  join(piece: Uint8Array): Uint8Array {
    const held = this.held;
    if (!held) return piece;
    this.held = null;
    const size = held.length + piece.length;
    if (this.joined.length < size) this.joined = new Uint8Array(size + SLACK);
    this.joined.set(held);
    this.joined.set(piece, held.length);
    return this.joined.subarray(0, size);
  }

  /** The bytes kept (nothing more is coming), or an empty array. */
  take(): Uint8Array {
    const held = this.held ?? new Uint8Array(0);
    this.held = null;
    return held;
  }
}
