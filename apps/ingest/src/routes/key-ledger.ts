/**
 * The Idempotency-Key records as the ingest route uses them: claims and ends are sent in groups, so that
 * a hundred producers sending keyed requests at once cost a few statements, not two hundred. Nothing
 * waits on a timer: a call goes out at once when no statement of its kind is in flight, and calls made
 * meanwhile go together in the next one (group commit).
 */
import {
  claimIdempotencyKeys,
  endIdempotencyAttempts,
  renewIdempotencyLease,
  type AttemptEnd,
  type ClaimOptions,
  type Db,
  type IdempotencyClaim,
} from '@sluice/db';

export class KeyLedger {
  private readonly claims: Grouped<ClaimOptions, IdempotencyClaim>;
  private readonly ends: Grouped<{ id: string; holder: string; end: AttemptEnd }, boolean>;

  constructor(private readonly db: Db) {
    this.claims = new Grouped((asked) => claimIdempotencyKeys(db, asked));
    this.ends = new Grouped((asked) => endIdempotencyAttempts(db, asked));
  }

  claim(options: ClaimOptions): Promise<IdempotencyClaim> {
    return this.claims.call(options);
  }

  /** Ends the holder's attempt; false when it had lost the key meanwhile. */
  end(id: string, holder: string, end: AttemptEnd): Promise<boolean> {
    return this.ends.call({ id, holder, end });
  }

  /** Extends the lease (a few times per lease: not worth grouping); false when the holder lost the key. */
  renew(id: string, holder: string, leaseMs: number): Promise<boolean> {
    return renewIdempotencyLease(this.db, id, holder, leaseMs);
  }
}

/** Calls of one kind, sent as one batch while the previous batch is in flight (at most `maxBatch` each). */
export class Grouped<In, Out> {
  private waiting: { input: In; resolve: (out: Out) => void; reject: (error: unknown) => void }[] = [];
  private inFlight = false;

  constructor(
    private readonly send: (inputs: In[]) => Promise<Out[]>,
    private readonly maxBatch = 500,
  ) {}

  call(input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.waiting.push({ input, resolve, reject });
      this.next();
    });
  }

  private next(): void {
    if (this.inFlight || this.waiting.length === 0) return;
    const batch = this.waiting.splice(0, this.maxBatch);
    this.inFlight = true;
    this.send(batch.map((call) => call.input))
      .then(
        (outs) => {
          for (const [i, call] of batch.entries()) call.resolve(outs[i]!);
        },
        (error: unknown) => {
          for (const call of batch) call.reject(error);
        },
      )
      .finally(() => {
        this.inFlight = false;
        this.next();
      });
  }
}
