/**
 * Reads a request body into blocks and hands each block to the request's parse session, no faster than
 * the byte budget has room, the encoders keep up and the parser takes them: while any of those waits, the
 * socket is not read, and TCP pushes back on the producer. Enforces MAX_BODY_BYTES as it reads.
 */
import { SluiceError } from '@sluice/shared';
import type { ByteBudget } from './byte-budget';
import type { BodyParse } from './parse-session';
import type { WorkerPool } from './worker-pool';
import { Collector } from './young-gc';

/** Socket reads are dead once copied into a block: collect them every 8 MB received (see young-gc.ts). */
const received = new Collector(8 * 1024 * 1024);

export interface BodyReaderDeps {
  pool: WorkerPool;
  budget: ByteBudget;
  maxBodyBytes: number;
}

/**
 * Feeds the whole body to `session`, starting in `firstBlock`; returns the bytes read. `failure` is
 * checked between pieces: a request that is failing for another reason stops reading. `ownedPieces`:
 * each piece is the whole of its buffer, which may be handed to the worker instead of copied.
 */
export async function feedBody(
  body: AsyncIterable<Uint8Array>,
  session: BodyParse,
  firstBlock: Uint8Array,
  { pool, budget, maxBodyBytes }: BodyReaderDeps,
  failure: () => SluiceError | null,
  ownedPieces = false,
): Promise<number> {
  let block = firstBlock;
  let filled = 0;
  let bodyBytes = 0;
  const send = async () => {
    if (filled === 0) return;
    let full = block;
    if (filled === block.length) block = pool.blocks.take();
    else full = block.slice(0, filled);
    filled = 0;
    // Counted first: a request waiting for the encoders holds this block, and new requests must see it.
    await budget.reserve(full.byteLength);
    await pool.encoderCaughtUp();
    await session.write(full);
    const failed = failure();
    if (failed) throw failed;
  };
  for await (const piece of body) {
    const failed = failure();
    if (failed) throw failed;
    bodyBytes += piece.byteLength;
    received.count(piece.byteLength);
    if (bodyBytes > maxBodyBytes) {
      throw new SluiceError('ingest.payload_too_large', `The body is larger than ${maxBodyBytes} bytes (MAX_BODY_BYTES).`);
    }
    if (ownedPieces && piece.byteLength >= block.length) {
      // A large piece with a buffer of its own (a whole Arrow message from Flight) goes as it is.
      await send();
      await budget.reserve(piece.byteLength);
      await pool.encoderCaughtUp();
      await session.write(piece);
      const failedNow = failure();
      if (failedNow) throw failedNow;
      continue;
    }
    let offset = 0;
    while (offset < piece.byteLength) {
      const take = Math.min(piece.byteLength - offset, block.length - filled);
      block.set(piece.subarray(offset, offset + take), filled);
      filled += take;
      offset += take;
      if (filled === block.length) await send();
    }
  }
  await send();
  pool.blocks.giveBack(block.buffer as ArrayBuffer);
  return bodyBytes;
}
