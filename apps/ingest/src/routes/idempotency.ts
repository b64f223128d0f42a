/**
 * Idempotency-Key on POST /v1/streams/:stream/rows: a retried request never stores a row twice.
 *
 * - A key is scoped to its stream, recorded in Postgres (every replica sees it), kept IDEMPOTENCY_TTL_HOURS.
 * - The first attempt claims it with a lease (IDEMPOTENCY_LEASE_MS, renewed while it runs); another attempt
 *   meanwhile gets 409 with Retry-After; a holder that died frees it when its lease runs out.
 * - Rows are known by their line in the decompressed body. Each committed file records, in the transaction
 *   that commits it, the lines of the keyed request it holds; a retry skips those lines (still checking
 *   and counting them) and stores the rest. Its answer counts the whole body (rowsAlreadyStored: the part
 *   stored before).
 * - The body is hashed (SHA-256) as it is read. An answered key replays its answer for the same body
 *   (Idempotency-Replayed: true) and refuses another with 422, storing nothing. A retry of a key whose body
 *   is on record (an earlier attempt read it whole) commits its files only once its body proved the same.
 */
import { createHash, type Hash } from 'node:crypto';
import type { IdempotencyClaim } from '@sluice/db';
import { SluiceError, toErrorBody } from '@sluice/shared';
import type { FastifyBaseLogger } from 'fastify';
import type { KeyedAttempt } from '../pipeline/ingest-pipeline';
import type { KeyLedger } from './key-ledger';

const KEY_PATTERN = /^[\x20-\x7e]{1,200}$/;

/** The request's Idempotency-Key, or null without one; 400 when malformed. */
export function idempotencyKeyOf(header: string | string[] | undefined): string | null {
  if (header === undefined) return null;
  if (typeof header !== 'string' || !KEY_PATTERN.test(header)) throw new SluiceError('ingest.invalid_idempotency_key');
  return header;
}

export interface KeyOptions {
  ledger: KeyLedger;
  log: FastifyBaseLogger;
  streamId: string;
  key: string;
  /** The request's id: the lease's holder. */
  holder: string;
  leaseMs: number;
  ttlHours: number;
  maxBodyBytes: number;
}

/** What a key's earlier attempts leave to this one. */
export type KeyStart =
  /** The key was answered and this body is the one it read: the same answer again. */
  { kind: 'replay'; status: number; response: unknown } | { kind: 'attempt'; attempt: IdempotentAttempt };

/**
 * Claims the key (409 while another attempt holds it). For an answered key, reads the body through to
 * compare it (422 when it differs) and gives the answer to replay.
 */
export async function startKeyed(options: KeyOptions, body: AsyncIterable<Uint8Array>): Promise<KeyStart> {
  const claim = await options.ledger.claim(options);
  if (claim.kind === 'in_flight') {
    throw new SluiceError('ingest.idempotency_in_flight', undefined, { headers: { 'retry-after': String(claim.retryAfterSeconds) } });
  }
  if (claim.kind === 'completed') {
    const digest = await digestOf(body, options.maxBodyBytes);
    if (claim.bodySha256 !== null && digest !== claim.bodySha256) throw new SluiceError('ingest.idempotency_mismatch');
    return { kind: 'replay', status: claim.status, response: claim.response };
  }
  return { kind: 'attempt', attempt: new IdempotentAttempt(options, claim) };
}

async function digestOf(body: AsyncIterable<Uint8Array>, maxBodyBytes: number): Promise<string> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const piece of body) {
    bytes += piece.byteLength;
    if (bytes > maxBodyBytes)
      throw new SluiceError('ingest.payload_too_large', `The body is larger than ${maxBodyBytes} bytes (MAX_BODY_BYTES).`);
    hash.update(piece);
  }
  return hash.digest('hex');
}

/** One attempt holding a key: its lease, its body's digest, and how it ends. */
export class IdempotentAttempt {
  private readonly hash: Hash = createHash('sha256');
  private bytes = 0;
  private digest: string | null = null;
  private lost = false;
  private readonly renewal: NodeJS.Timeout;
  /** For the pipeline: lines to skip, and the check of the body on record. */
  readonly keyed: KeyedAttempt;

  constructor(
    private readonly options: KeyOptions,
    claim: Extract<IdempotencyClaim, { kind: 'claimed' }>,
  ) {
    const { ledger, holder, leaseMs, log } = options;
    this.renewal = setInterval(() => {
      ledger.renew(claim.id, holder, leaseMs).then(
        (held) => (this.lost ||= !held),
        (error: unknown) => log.warn({ err: error }, 'could not renew an Idempotency-Key lease'),
      );
    }, leaseMs / 3);
    this.renewal.unref();
    const recorded = claim.bodySha256;
    this.keyed = {
      id: claim.id,
      holder,
      skipLines: claim.committed,
      checkBody:
        recorded === null
          ? undefined
          : () => {
              if (this.bodyDigest() !== recorded) throw new SluiceError('ingest.idempotency_mismatch');
            },
    };
  }

  private get id(): string {
    return this.keyed.id;
  }

  /** The body, hashed as it passes; cut off with 409 if another attempt took the key (this one's lease ran out). */
  async *read(body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
    for await (const piece of body) {
      if (this.lost) throw new SluiceError('ingest.idempotency_in_flight', undefined, { headers: { 'retry-after': '1' } });
      this.hash.update(piece);
      this.bytes += piece.byteLength;
      yield piece;
    }
    this.digest = this.hash.digest('hex');
  }

  /** The body's SHA-256, once it has been read whole (else null). */
  private bodyDigest(): string | null {
    return this.digest;
  }

  /** The request was answered: the answer is kept for replays. */
  async answered(status: number, response: unknown): Promise<void> {
    await this.end({ state: 'completed', status, response });
  }

  /**
   * The request failed. A rejection decided by the whole body (all-or-nothing) is an answer to keep; any
   * other failure leaves the key for a retry to finish, with the body's digest if it was read whole (not
   * when it was refused as a different body: the one on record stays).
   */
  async failed(error: unknown, requestId: string): Promise<void> {
    if (error instanceof SluiceError && error.code === 'ingest.rows_rejected' && this.digest !== null) {
      await this.end({ state: 'completed', status: error.status, response: toErrorBody(error, requestId) });
    } else if (error instanceof SluiceError && error.code === 'ingest.idempotency_mismatch') {
      await this.end({ state: 'partial' }, false);
    } else {
      await this.end({ state: 'partial' });
    }
  }

  private async end(end: { state: 'completed' | 'partial'; status?: number; response?: unknown }, withBody = true): Promise<void> {
    clearInterval(this.renewal);
    const body = withBody && this.digest !== null ? { bodySha256: this.digest, bodyBytes: this.bytes } : {};
    try {
      const held = await this.options.ledger.end(this.id, this.options.holder, { ...end, ...body });
      if (!held) this.options.log.warn({ key: this.options.key }, 'an Idempotency-Key attempt ended after losing its lease');
    } catch (error) {
      // The lease runs out on its own: the next attempt then finds the lines this one committed.
      this.options.log.warn({ err: error }, 'could not record the end of an Idempotency-Key attempt');
    }
  }
}
