/**
 * A request's stake in the batches that hold its rows: it waits on them (settled) to answer only once
 * every row it sent is durable, and learns the files they became.
 */
export interface CommittedFile {
  /** The manifest row's id. */
  id: string;
  key: string;
  rows: number;
  bytes: number;
}

/** A request waiting for the batches that hold its rows. */
export class BatchOwner {
  /** When the request began: once its body has ended, a batch holding its rows is flushed within maxAgeMs of this. */
  readonly startedAt = Date.now();

  /** `keyed`: the request's Idempotency-Key record and attempt, whose line spans its files record. */
  constructor(readonly keyed: { id: string; holder: string } | null = null) {}

  private open = 0;
  /** Each batch holding the owner's rows: the file it became, or its files, one per event-time partition. */
  private readonly commits: Promise<CommittedFile[]>[] = [];
  private idle: (() => void) | null = null;

  /** @internal The owner's rows joined a batch that has not been flushed yet. */
  joined(): void {
    this.open++;
  }

  /** @internal That batch was flushed; its commit is under way. */
  flushed(commit: Promise<CommittedFile[]>): void {
    commit.catch(() => {}); // observed in settled()
    this.commits.push(commit);
    this.left();
  }

  /** @internal The owner's rows left a batch: flushed (see flushed) or withdrawn before the flush. */
  left(): void {
    this.open--;
    if (this.open === 0) {
      this.idle?.();
      this.idle = null;
    }
  }

  /**
   * Resolves with the files holding this owner's rows once all are committed; rejects if one failed, once
   * every other has settled too (a retry then finds each of them committed or not, none still on its way).
   */
  async settled(): Promise<CommittedFile[]> {
    const outcomes = await this.outcomes();
    const failed = outcomes.find((outcome) => outcome.status === 'rejected');
    if (failed) throw failed.reason;
    return outcomes.flatMap((outcome) => (outcome as PromiseFulfilledResult<CommittedFile[]>).value);
  }

  /** Every commit of the owner's rows, each settled (fulfilled or not). */
  async outcomes(): Promise<PromiseSettledResult<CommittedFile[]>[]> {
    await this.flushedAll();
    return Promise.allSettled(this.commits);
  }

  private async flushedAll(): Promise<void> {
    while (this.open > 0) await new Promise<void>((resolve) => (this.idle = resolve));
  }
}
