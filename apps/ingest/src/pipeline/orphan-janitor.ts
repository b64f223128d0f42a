/**
 * Removes orphans: objects put in the store whose manifest row never became `committed` (the manifest
 * failed after the put, or the process died between the two). Their rows stayed `writing`; past
 * ORPHAN_GRACE_MINUTES (far longer than a commit takes) the janitor deletes the object and marks the row
 * `abandoned`. No reader ever saw such a file: readers see committed files only.
 *
 * Any replica may sweep at any time: deleting an object twice is harmless, and a row is abandoned only
 * while it is still `writing` (a commit that comes late finds it abandoned and fails its request).
 *
 * Each sweep also purges Idempotency-Keys past IDEMPOTENCY_TTL_HOURS.
 */
import { abandonDataFile, listStaleWritingFiles, purgeIdempotencyKeys, type Db } from '@sluice/db';
import type { FastifyBaseLogger } from 'fastify';
import type { Metrics } from '../metrics';
import type { ObjectStore } from '../sinks/object-store';

export interface JanitorOptions {
  db: Db;
  store: ObjectStore;
  metrics: Metrics;
  log: FastifyBaseLogger;
  graceMs: number;
  intervalMs: number;
}

export class OrphanJanitor {
  private timer: NodeJS.Timeout | null = null;
  private sweeping: Promise<number> | null = null;

  constructor(private readonly deps: JanitorOptions) {}

  start(): void {
    this.timer = setInterval(
      () => void this.sweep().catch((error) => this.deps.log.warn({ err: error }, 'orphan sweep failed')),
      this.deps.intervalMs,
    );
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.sweeping?.catch(() => {});
  }

  /** One sweep; resolves with how many orphans it removed. */
  sweep(): Promise<number> {
    this.sweeping ??= this.sweepOnce().finally(() => {
      this.sweeping = null;
    });
    return this.sweeping;
  }

  private async sweepOnce(): Promise<number> {
    const { db, store, metrics, log, graceMs } = this.deps;
    const purged = await purgeIdempotencyKeys(db);
    if (purged > 0) log.info({ purged }, 'purged expired Idempotency-Keys');
    let removed = 0;
    for (const file of await listStaleWritingFiles(db, new Date(Date.now() - graceMs))) {
      await store.delete(file.objectKey);
      if (await abandonDataFile(db, file.id)) {
        removed++;
        metrics.orphansRemoved.inc();
        log.warn({ key: file.objectKey }, 'removed an object whose manifest row was never committed');
      }
    }
    return removed;
  }
}
