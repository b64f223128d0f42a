/**
 * Writes each stream's Delta Lake log from the manifest. After files are committed (woken by the
 * committer) and every DELTA_LOG_POLL_MS (catching up a log that fell behind: a crash, another replica's
 * files), the writer takes the stream's log lease in Postgres and, version after version with no gaps:
 *
 * 1. if the next version's entry is already in the store (a writer died after putting it and before
 *    recording it), records it: its files get its version;
 * 2. else puts the next entry, put-if-absent, with an `add` for each committed file not yet in the log
 *    (files committed together stay together), a `remove` for each file compaction replaced (in the
 *    commit that adds the file replacing it) or retention dropped, a `metaData` when the stream's schema
 *    has a new version (and the protocol at version 0), then records it the same way;
 * 3. every DELTA_CHECKPOINT_INTERVAL versions writes a checkpoint (delta-checkpoint.ts).
 *
 * A reader of the table sees a file once a log entry adds it, which is after its manifest commit: never
 * a file the manifest does not hold, never part of an all-or-nothing request's files.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import {
  claimDeltaLog,
  pendingLogChanges,
  recordDeltaCommit,
  releaseDeltaLog,
  schemaColumns,
  type Db,
  type DeltaLogState,
} from '@sluice/db';
import type { FastifyBaseLogger } from 'fastify';
import type { ObjectStore } from '../sinks/object-store';
import {
  addAction,
  logKey,
  metaData,
  objectKeyOfPath,
  parseCommit,
  PROTOCOL,
  removeAction,
  serializeCommit,
  type Commit,
} from './delta-actions';

/** Adds in one log entry at most (files committed together may go past it). */
const MAX_ADDS_PER_COMMIT = 5000;

export interface DeltaLogOptions {
  db: Db;
  store: ObjectStore;
  log: FastifyBaseLogger;
  /** How long the lease on a stream's log holds without renewal. */
  leaseMs: number;
  pollMs: number;
  /** How long after a commit its files are written to the log (those committed meanwhile with them). */
  commitDelayMs: number;
  checkpointInterval: number;
  /** Writes the checkpoint of a version with the schema version its log declares (delta-checkpoint.ts); none when absent. */
  checkpoint?: (stream: { id: string; name: string }, version: number, schemaVersion: number, holder: string) => Promise<unknown>;
  /** Called with each version recorded. */
  onCommit?: (stream: string, version: number, adds: number) => void;
}

/** A version recorded (its adds, and its schema version when it declared one), nothing to write, or a version another writer put first. */
type Outcome = { adds: number; schemaVersion?: number } | 'done' | 'raced';

interface StreamRef {
  id: string;
  name: string;
  currentVersion: number;
}

export class DeltaLogWriter {
  /** Whose lease it is: unique per process. */
  readonly id = `${os.hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
  private readonly woken = new Set<string>();
  private readonly held = new Set<string>();
  private readonly catchingUp = new Map<string, Promise<number>>();
  private timer: NodeJS.Timeout | null = null;
  /** When the timer fires. */
  private due = 0;
  private running: Promise<void> | null = null;
  private stopped = true;
  /** Set by stop: catch-ups end after the version they are writing. */
  private closed = false;
  private pollDue = true;

  constructor(private readonly deps: DeltaLogOptions) {}

  /** Starts with a pass over every stream behind its log (caught up at start). */
  start(): void {
    this.stopped = false;
    this.pollDue = true;
    this.schedule(0);
  }

  /** Files of the stream were committed: write them to its log now rather than at the next poll. */
  wake(streamId: string): void {
    this.woken.add(streamId);
    // The files committed within the delay go into one version: fewer versions for readers, fewer statements.
    if (!this.running && (this.timer === null || this.due > Date.now() + this.deps.commitDelayMs)) this.schedule(this.deps.commitDelayMs);
  }

  /** Finishes the pass under way, and gives up the leases held. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    for (const streamId of this.held) await releaseDeltaLog(this.deps.db, streamId, this.id).catch(() => {});
    this.held.clear();
  }

  /** Brings every stream's log up to the manifest now (tests, and a service about to stop). */
  async settle(): Promise<void> {
    await this.running;
    this.pollDue = true;
    await this.pass();
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.due = Date.now() + delayMs;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.pass().finally(() => {
        this.running = null;
        this.schedule(this.woken.size > 0 ? this.deps.commitDelayMs : this.deps.pollMs);
      });
    }, delayMs);
    this.timer.unref();
  }

  private async pass(): Promise<void> {
    const { db, log } = this.deps;
    try {
      const ids = new Set(this.woken);
      this.woken.clear();
      if (this.pollDue || ids.size === 0) {
        this.pollDue = false;
        for (const id of await streamsBehind(db)) ids.add(id);
      }
      for (const id of ids) {
        if (this.closed) break;
        await this.catchUp(id).catch((error: unknown) =>
          log.warn({ err: error, streamId: id }, 'could not write the Delta log; retrying later'),
        );
      }
    } catch (error) {
      log.warn({ err: error }, 'the Delta log writer could not reach the manifest');
    }
  }

  /** Writes the stream's log up to its last committed file; returns the versions written or recorded. */
  catchUp(streamId: string): Promise<number> {
    // One catch-up of a stream at a time in this process (passes and settle may overlap).
    const previous = this.catchingUp.get(streamId) ?? Promise.resolve(0);
    const next = previous.catch(() => 0).then(() => this.writeUntilCaughtUp(streamId));
    this.catchingUp.set(streamId, next);
    void next
      .finally(() => {
        if (this.catchingUp.get(streamId) === next) this.catchingUp.delete(streamId);
      })
      .catch(() => {});
    return next;
  }

  private async writeUntilCaughtUp(streamId: string): Promise<number> {
    const { db, store, leaseMs } = this.deps;
    let written = 0;
    const stream = await db.stream.findUnique({ where: { id: streamId }, select: { id: true, name: true, currentVersion: true } });
    if (!stream) return 0;
    // Only a writer that died, or another that raced this one, leaves a version unrecorded: looked for at
    // the start and after a race, not after each version this writer recorded itself.
    let look = true;
    while (!this.closed) {
      // Renewed at every version: a long catch-up keeps its lease.
      const state = await claimDeltaLog(db, streamId, this.id, leaseMs);
      if (!state) break;
      this.held.add(streamId);
      const version = state.version + 1;
      const key = logKey(stream.name, version);
      const found: boolean = look && (await store.size(key)) !== null;
      const outcome: Outcome = found ? await this.adopt(stream, version, await store.get(key)) : await this.writeNext(stream, state);
      look = outcome === 'raced';
      if (outcome === 'done') break;
      if (outcome === 'raced') continue;
      written++;
      this.deps.onCommit?.(stream.name, version, outcome.adds);
      const interval = this.deps.checkpointInterval;
      if (this.deps.checkpoint && interval > 0 && version > 0 && version % interval === 0) {
        await this.deps.checkpoint(stream, version, outcome.schemaVersion ?? state.schemaVersion, this.id);
      }
    }
    return written;
  }

  /**
   * Puts and records the next version. `done`: nothing to write, or the lease was lost; `raced`: another
   * writer put that version meanwhile (it is adopted at the next turn).
   */
  private async writeNext(stream: StreamRef, state: DeltaLogState): Promise<Outcome> {
    const { db, store } = this.deps;
    const version = state.version + 1;
    const { adds: files, removes } = await pendingLogChanges(db, stream.id, MAX_ADDS_PER_COMMIT);
    const newSchema = stream.currentVersion > state.schemaVersion;
    if (files.length === 0 && removes.length === 0 && version > 0 && !newSchema) return 'done';
    const now = Date.now();
    // A compaction's add replaces files, adding no rows: dataChange false, as for its removes.
    const replacing = new Set(removes.some((file) => !file.dataChange) ? files.map((file) => file.commitGroup) : []);
    const compacted = (file: (typeof files)[number]) => file.commitGroup !== null && replacing.has(file.commitGroup);
    const commit: Commit = {
      commitInfo: {
        timestamp: now,
        operation: version === 0 ? 'CREATE TABLE' : operationOf(files.filter((file) => !compacted(file)).length, removes),
        operationParameters: { mode: 'Append' },
        engineInfo: 'Sluice',
        ...(newSchema ? { sluiceSchemaVersion: stream.currentVersion } : {}),
      },
      adds: files.map((file) => ({ ...addAction(stream.name, file), dataChange: !compacted(file) })),
      removes: removes.map((file) => removeAction(stream.name, file)),
    };
    if (version === 0) commit.protocol = PROTOCOL;
    if (newSchema) commit.metaData = metaData(stream.id, await schemaColumns(db, stream.id, stream.currentVersion), now);
    if (!(await store.putIfAbsent(logKey(stream.name, version), serializeCommit(commit)))) return 'raced';
    const recorded = await recordDeltaCommit(db, {
      streamId: stream.id,
      holder: this.id,
      version,
      added: files.map((file) => file.objectKey),
      removed: removes.map((file) => file.objectKey),
      schemaVersion: newSchema ? stream.currentVersion : undefined,
    });
    return recorded ? { adds: files.length, schemaVersion: newSchema ? stream.currentVersion : undefined } : 'done';
  }

  /** Records a version found in the store, put by a writer that did not record it. */
  private async adopt(stream: StreamRef, version: number, entry: Uint8Array): Promise<Outcome> {
    const { addPaths, removePaths, schemaVersion } = parseCommit(entry);
    const added = addPaths.map((path) => objectKeyOfPath(stream.name, path));
    const removed = removePaths.map((path) => objectKeyOfPath(stream.name, path));
    this.deps.log.info(
      { stream: stream.name, version, adds: added.length, removes: removed.length },
      'recording a Delta log version found in the store',
    );
    const recorded = await recordDeltaCommit(this.deps.db, {
      streamId: stream.id,
      holder: this.id,
      version,
      added,
      removed,
      schemaVersion,
    });
    return recorded ? { adds: added.length, schemaVersion } : 'done';
  }
}

/** What a commit does, for its commitInfo: appends rows, only compacts, or only drops partitions. */
function operationOf(appends: number, removes: readonly { dataChange: boolean }[]): 'WRITE' | 'OPTIMIZE' | 'DELETE' {
  if (appends > 0 || removes.length === 0) return 'WRITE';
  return removes.some((file) => file.dataChange) ? 'DELETE' : 'OPTIMIZE';
}

/** Streams with committed files that no log entry adds yet, removed files it still holds, or no log at all. */
async function streamsBehind(db: Db): Promise<string[]> {
  const rows = await db.$queryRaw<{ id: string }[]>`
    SELECT s."id" FROM "Stream" s
    LEFT JOIN "DeltaLog" l ON l."streamId" = s."id"
    WHERE l."streamId" IS NULL OR l."schemaVersion" < s."currentVersion"
       OR EXISTS (SELECT 1 FROM "DataFile" f WHERE f."streamId" = s."id" AND f."deltaVersion" IS NULL AND f."state" = 'committed')
       OR EXISTS (SELECT 1 FROM "DataFile" f WHERE f."streamId" = s."id" AND f."state" = 'removed'
                  AND f."removedVersion" IS NULL AND f."deltaVersion" IS NOT NULL)`;
  return rows.map((row) => row.id);
}
