/**
 * Delta checkpoints: every DELTA_CHECKPOINT_INTERVAL versions, the table's whole state at a version in
 * one Parquet file (`<version>.checkpoint.parquet`: the protocol, the latest metaData and an add per
 * file, one action per row) and `_last_checkpoint` pointing at it, so a reader of a long log reads the
 * checkpoint and the commits after it instead of every commit. The state comes from the manifest (the
 * files whose Delta version is at most the checkpoint's), not from reading the log back. The Parquet file
 * is written on an encoder worker, from an Arrow IPC stream built here.
 */
import { activeLogFiles, recordDeltaCheckpoint, type Db } from '@sluice/db';
import { Bool, Field, Int32, Int64, List, Map_, Struct, Table, tableToIPC, Utf8, vectorFromArray, type DataType } from 'apache-arrow';
import type { ObjectStore } from '../sinks/object-store';
import { addAction, checkpointKey, lastCheckpointKey, metaData, PROTOCOL } from './delta-actions';
import type { TableRef } from './delta-log-writer';
import { tableColumns, tableIdSeed } from './lake-tables';

const utf8 = () => new Utf8();
const stringMap = () =>
  new Map_<Utf8, Utf8>(
    new Field(
      'key_value',
      new Struct<{ key: Utf8; value: Utf8 }>([new Field('key', new Utf8(), false), new Field('value', new Utf8(), true)]),
      false,
    ),
  );
const struct = (fields: [string, DataType][]) => new Struct(fields.map(([name, type]) => new Field(name, type, true)));

const PROTOCOL_TYPE = struct([
  ['minReaderVersion', new Int32()],
  ['minWriterVersion', new Int32()],
]);
const METADATA_TYPE = struct([
  ['id', utf8()],
  [
    'format',
    struct([
      ['provider', utf8()],
      ['options', stringMap()],
    ]),
  ],
  ['schemaString', utf8()],
  ['partitionColumns', new List(new Field('element', new Utf8(), true))],
  ['configuration', stringMap()],
  ['createdTime', new Int64()],
]);
const ADD_TYPE = struct([
  ['path', utf8()],
  ['partitionValues', stringMap()],
  ['size', new Int64()],
  ['modificationTime', new Int64()],
  ['dataChange', new Bool()],
  ['stats', utf8()],
]);

export interface CheckpointDeps {
  db: Db;
  store: ObjectStore;
  /** Writes an Arrow IPC stream as Parquet (WorkerPool.ipcToParquet). */
  toParquet: (ipc: Uint8Array) => Promise<Uint8Array>;
}

/** Writes the checkpoint of `version` for the table whose log `holder` writes; returns its actions. */
export async function writeCheckpoint(
  deps: CheckpointDeps,
  lake: TableRef,
  version: number,
  schemaVersion: number,
  holder: string,
): Promise<number> {
  const { db, store } = deps;
  const files = await activeLogFiles(db, lake.streamId, version, lake.table);
  const columns = await tableColumns(db, lake.streamId, lake.table, schemaVersion);
  const meta = metaData(tableIdSeed(lake.streamId, lake.table), columns, Date.now(), lake.hourly);
  const rows = 2 + files.length;
  const at = (row: number, value: unknown) => Array.from({ length: rows }, (_, i) => (i === row ? value : null));
  const adds = [null, null, ...files.map((file) => addAction(lake.prefix, file))];
  const table = new Table({
    protocol: vectorFromArray(at(0, PROTOCOL), PROTOCOL_TYPE),
    metaData: vectorFromArray(
      at(1, {
        ...meta,
        format: { provider: meta.format.provider, options: new Map(Object.entries(meta.format.options)) },
        configuration: new Map(Object.entries(meta.configuration)),
        createdTime: BigInt(meta.createdTime),
      }),
      METADATA_TYPE,
    ),
    add: vectorFromArray(
      adds.map((add) =>
        add === null
          ? null
          : {
              ...add,
              partitionValues: new Map(Object.entries(add.partitionValues)),
              size: BigInt(add.size),
              modificationTime: BigInt(add.modificationTime),
            },
      ),
      ADD_TYPE,
    ),
  });
  const parquet = await deps.toParquet(tableToIPC(table, 'stream'));
  await store.put(checkpointKey(lake.prefix, version), parquet);
  await store.put(lastCheckpointKey(lake.prefix), Buffer.from(JSON.stringify({ version, size: rows })));
  await recordDeltaCheckpoint(db, lake.streamId, holder, version, lake.table);
  return rows;
}
