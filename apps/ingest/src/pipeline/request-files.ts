/**
 * Files of one request that become visible together or not at all: an all-or-nothing request whose rows
 * span more than one batch, or a keyed retry whose body must first prove to be the one stored before. Its
 * rows go to a batcher of its own; each full batch is written (put, its row `writing`) as the body
 * streams, so memory stays flat, and at the end every file is committed in one transaction, or deleted.
 */
import type { StreamDto } from '@sluice/shared';
import type { BatchOwner, CommittedFile } from './batch-owner';
import { Batcher } from './batcher';
import type { Committer, WrittenFile } from './committer';

export class RequestFiles {
  readonly batcher: Batcher;

  constructor(
    private readonly stream: StreamDto,
    private readonly committer: Committer,
    readonly owner: BatchOwner,
  ) {
    this.batcher = new Batcher(stream.batch, (batch, reason) => committer.write(stream, batch, reason));
    this.batcher.startWriting();
  }

  /** Writes what is left, then commits every file at once. Any file that failed fails them all. */
  async commit(): Promise<CommittedFile[]> {
    this.batcher.stopWriting();
    this.batcher.flush('request_end');
    const files = await this.written();
    await this.committer.commitTogether(this.stream, files);
    return files;
  }

  /** The request failed: rows not yet written are dropped (their bytes returned), written files deleted. */
  async abandon(): Promise<number> {
    this.batcher.stopWriting();
    const released = this.batcher.withdraw(this.owner);
    const outcomes = await this.owner.outcomes();
    await this.committer.giveUp(fulfilled(outcomes));
    return released;
  }

  private async written(): Promise<WrittenFile[]> {
    const outcomes = await this.owner.outcomes();
    const failed = outcomes.find((outcome) => outcome.status === 'rejected');
    if (failed) {
      await this.committer.giveUp(fulfilled(outcomes));
      throw failed.reason;
    }
    return fulfilled(outcomes);
  }
}

function fulfilled(outcomes: PromiseSettledResult<CommittedFile[]>[]): WrittenFile[] {
  return outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? (outcome.value as WrittenFile[]) : []));
}
