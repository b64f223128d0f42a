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
 * 3. every DELTA_CHECKPOINT_INTERVAL versions, and after a version that removed files, writes a checkpoint
 *    (delta-checkpoint.ts).
 *
 * A reader of the table sees a file once a log entry adds it, which is after its manifest commit: never
 * a file the manifest does not hold, never part of an all-or-nothing request's files.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { claimDeltaLog, pendingLogChanges, recordDeltaCommit, releaseDeltaLog, type Db, type DeltaLogState } from '@sluice/db';
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
import { tableColumns, tableIdSeed, tablePrefix, tableSchemaVersion, type LakeTable } from './lake-tables';

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
  checkpoint?: (table: TableRef, version: number, schemaVersion: number, holder: string) => Promise<unknown>;
  /** Called with each version recorded. */
  onCommit?: (stream: string, table: LakeTable, version: number, adds: number) => void;
}

/** A version recorded (its adds, and its schema version when it declared one), nothing to write, or a version another writer put first. */
type Outcome = { adds: number; removes: number; schemaVersion?: number } | 'done' | 'raced';

/** One of a stream's tables, as the writer and the checkpoint need it. */
export interface TableRef {
  streamId: string;
  stream: string;
  table: LakeTable;
  /** Where its files and log are (lake-tables.ts). */
  prefix: string;
  /** The schema version its log should declare. */
  schemaVersion: number;
  /** Partitioned by `dt` and `hour` (else by `dt` alone). */
  hourly: boolean;
}

/** The key of a table in the writer's sets. */
const keyOf = (streamId: string, table: LakeTable) => `${table}:${streamId}`;
const parseKey = (key: string) => {
  const at = key.indexOf(':');
  return { table: key.slice(0, at) as LakeTable, streamId: key.slice(at + 1) };
};

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

  /** Files of the stream's table were committed or removed: write them to its log now rather than at the next poll. */
  wake(streamId: string, table: LakeTable = 'data'): void {
    this.woken.add(keyOf(streamId, table));
    // The files committed within the delay go into one version: fewer versions for readers, fewer statements.
    if (!this.running && (this.timer === null || this.due > Date.now() + this.deps.commitDelayMs)) this.schedule(this.deps.commitDelayMs);
  }

  /** Finishes the pass under way, and gives up the leases held. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    for (const key of this.held) {
      const { streamId, table } = parseKey(key);
      await releaseDeltaLog(this.deps.db, streamId, this.id, table).catch(() => {});
    }
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
        for (const key of await tablesBehind(db)) ids.add(key);
      }
      for (const key of ids) {
        if (this.closed) break;
        const { streamId, table } = parseKey(key);
        await this.catchUp(streamId, table).catch((error: unknown) =>
          log.warn({ err: error, streamId, table }, 'could not write the Delta log; retrying later'),
        );
      }
    } catch (error) {
      log.warn({ err: error }, 'the Delta log writer could not reach the manifest');
    }
  }

  /** Writes the table's log up to its last committed file; returns the versions written or recorded. */
  catchUp(streamId: string, table: LakeTable = 'data'): Promise<number> {
    // One catch-up of a table at a time in this process (passes and settle may overlap).
    const key = keyOf(streamId, table);
    const previous = this.catchingUp.get(key) ?? Promise.resolve(0);
    const next = previous.catch(() => 0).then(() => this.writeUntilCaughtUp(streamId, table));
    this.catchingUp.set(key, next);
    void next
      .finally(() => {
        if (this.catchingUp.get(key) === next) this.catchingUp.delete(key);
      })
      .catch(() => {});
    return next;
  }

  private async writeUntilCaughtUp(streamId: string, lakeTable: LakeTable): Promise<number> {
    const { db, store, leaseMs } = this.deps;
    let written = 0;
    const row = await db.stream.findUnique({ where: { id: streamId }, select: { name: true, currentVersion: true, partitioning: true } });
    if (!row) return 0;
    const table: TableRef = {
      streamId,
      stream: row.name,
      table: lakeTable,
      prefix: tablePrefix(row.name, lakeTable),
      schemaVersion: tableSchemaVersion(row, lakeTable),
      hourly: lakeTable === 'quarantine' || (row.partitioning as { granularity?: string }).granularity !== 'day',
    };
    // Only a writer that died, or another that raced this one, leaves a version unrecorded: looked for at
    // the start and after a race, not after each version this writer recorded itself.
    let look = true;
    while (!this.closed) {
      // Renewed at every version: a long catch-up keeps its lease.
      const state = await claimDeltaLog(db, streamId, this.id, leaseMs, lakeTable);
      if (!state) break;
      this.held.add(keyOf(streamId, lakeTable));
      const version = state.version + 1;
      const key = logKey(table.prefix, version);
      const found: boolean = look && (await store.size(key)) !== null;
      const outcome: Outcome = found ? await this.adopt(table, version, await store.get(key)) : await this.writeNext(table, state);
      look = outcome === 'raced';
      if (outcome === 'done') break;
      if (outcome === 'raced') continue;
      written++;
      this.deps.onCommit?.(table.stream, lakeTable, version, outcome.adds);
      const interval = this.deps.checkpointInterval;
      // Also right after a version that removed files: a compaction's reader then reads one checkpoint holding
      // the few files left, not the commits that added and removed the many (measured in BENCHMARKS.md).
      if (this.deps.checkpoint && interval > 0 && version > 0 && (version % interval === 0 || outcome.removes > 0)) {
        await this.deps.checkpoint(table, version, outcome.schemaVersion ?? state.schemaVersion, this.id);
      }
    }
    return written;
  }

  /**
   * Puts and records the next version. `done`: nothing to write, or the lease was lost; `raced`: another
   * writer put that version meanwhile (it is adopted at the next turn).
   */
  private async writeNext(table: TableRef, state: DeltaLogState): Promise<Outcome> {
    const { db, store } = this.deps;
    const version = state.version + 1;
    const { adds: files, removes } = await pendingLogChanges(db, table.streamId, MAX_ADDS_PER_COMMIT, table.table);
    const newSchema = table.schemaVersion > state.schemaVersion;
    if (files.length === 0 && removes.length === 0 && version > 0 && !newSchema) return 'done';
    const now = Date.now();
    // A compaction's add replaces files, adding no rows: dataChange false, as for its removes. Only the adds
    // of the removals' groups: files committed together for other reasons (a request's, a batch split by
    // partition) in the same version bring new rows.
    const replacing = new Set(removes.flatMap((file) => (!file.dataChange && file.removeGroup ? [file.removeGroup] : [])));
    const compacted = (file: (typeof files)[number]) => file.commitGroup !== null && replacing.has(file.commitGroup);
    const commit: Commit = {
      commitInfo: {
        timestamp: now,
        operation: version === 0 ? 'CREATE TABLE' : operationOf(files.filter((file) => !compacted(file)).length, removes),
        operationParameters: { mode: 'Append' },
        engineInfo: 'Sluice',
        ...(newSchema ? { sluiceSchemaVersion: table.schemaVersion } : {}),
      },
      adds: files.map((file) => ({ ...addAction(table.prefix, file), dataChange: !compacted(file) })),
      removes: removes.map((file) => removeAction(table.prefix, file)),
    };
    if (version === 0) commit.protocol = PROTOCOL;
    if (newSchema) {
      const columns = await tableColumns(db, table.streamId, table.table, table.schemaVersion);
      commit.metaData = metaData(tableIdSeed(table.streamId, table.table), columns, now, table.hourly);
    }
    if (!(await store.putIfAbsent(logKey(table.prefix, version), serializeCommit(commit)))) return 'raced';
    const recorded = await recordDeltaCommit(db, {
      streamId: table.streamId,
      table: table.table,
      holder: this.id,
      version,
      added: files.map((file) => file.objectKey),
      removed: removes.map((file) => file.objectKey),
      schemaVersion: newSchema ? table.schemaVersion : undefined,
    });
    return recorded ? { adds: files.length, removes: removes.length, schemaVersion: newSchema ? table.schemaVersion : undefined } : 'done';
  }

  /** Records a version found in the store, put by a writer that did not record it. */
  private async adopt(table: TableRef, version: number, entry: Uint8Array): Promise<Outcome> {
    const { addPaths, removePaths, schemaVersion } = parseCommit(entry);
    const added = addPaths.map((path) => objectKeyOfPath(table.prefix, path));
    const removed = removePaths.map((path) => objectKeyOfPath(table.prefix, path));
    this.deps.log.info(
      { stream: table.stream, table: table.table, version, adds: added.length, removes: removed.length },
      'recording a Delta log version found in the store',
    );
    const recorded = await recordDeltaCommit(this.deps.db, {
      streamId: table.streamId,
      table: table.table,
      holder: this.id,
      version,
      added,
      removed,
      schemaVersion,
    });
    return recorded ? { adds: added.length, removes: removed.length, schemaVersion } : 'done';
  }
}

/** What a commit does, for its commitInfo: appends rows, only compacts, or only drops partitions. */
function operationOf(appends: number, removes: readonly { dataChange: boolean }[]): 'WRITE' | 'OPTIMIZE' | 'DELETE' {
  if (appends > 0 || removes.length === 0) return 'WRITE';
  return removes.some((file) => file.dataChange) ? 'DELETE' : 'OPTIMIZE';
}

/**
 * The tables behind their logs (as writer keys): a stream's rows with committed files that no log entry
 * adds yet, removed files it still holds, a new schema version, or no log at all; its quarantine when it
 * has files not yet in its log.
 */
async function tablesBehind(db: Db): Promise<string[]> {
  const rows = await db.$queryRaw<{ id: string; table: LakeTable }[]>`
    SELECT s."id", 'data' AS "table" FROM "Stream" s
    LEFT JOIN "DeltaLog" l ON l."streamId" = s."id" AND l."lakeTable" = 'data'
    WHERE l."streamId" IS NULL OR l."schemaVersion" < s."currentVersion"
       OR EXISTS (SELECT 1 FROM "DataFile" f WHERE f."streamId" = s."id" AND f."lakeTable" = 'data' AND f."deltaVersion" IS NULL
                  AND f."state" = 'committed')
       OR EXISTS (SELECT 1 FROM "DataFile" f WHERE f."streamId" = s."id" AND f."lakeTable" = 'data' AND f."state" = 'removed'
                  AND f."removedVersion" IS NULL AND f."deltaVersion" IS NOT NULL)
    UNION ALL
    SELECT DISTINCT f."streamId", 'quarantine' FROM "DataFile" f
    WHERE f."lakeTable" = 'quarantine'
      AND ((f."deltaVersion" IS NULL AND f."state" = 'committed')
           OR (f."state" = 'removed' AND f."removedVersion" IS NULL AND f."deltaVersion" IS NOT NULL))`;
  return rows.map((row) => keyOf(row.id, row.table));
}
