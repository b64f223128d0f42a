/** Where Parquet files go: a local folder or an S3-compatible bucket, behind one small interface. */

export interface StoredObject {
  key: string;
  size: number;
}

export interface ObjectStore {
  readonly kind: 'local' | 's3';
  /** A human description without secrets, for logs and /readyz. */
  readonly location: string;
  /** Stores the object atomically: it appears whole under `key`, or not at all. Idempotent for a key. */
  put(key: string, body: Uint8Array): Promise<void>;
  /**
   * Stores the object only if no object has its key: false when one has (and it is left as it was). The
   * Delta log's commits are written so, where the store can (the local folder; S3 with conditional
   * writes, which servers without them ignore: there the log writer's lease alone keeps writers apart).
   */
  putIfAbsent(key: string, body: Uint8Array): Promise<boolean>;
  /** Stores a local file's content as the object, streaming it (never whole in memory), atomically as `put`. */
  putFile(key: string, file: string): Promise<void>;
  /** Reads bytes [start, end) of an object; the whole object when no range is given. */
  get(key: string, range?: { start: number; end: number }): Promise<Uint8Array>;
  /** The object's size, or null when it does not exist. */
  size(key: string): Promise<number | null>;
  list(prefix: string): Promise<StoredObject[]>;
  /** Removes an object; removing one that is not there is no error. */
  delete(key: string): Promise<void>;
  /** Throws when the store cannot be reached. */
  check(): Promise<void>;
  /** Releases connections, if the store holds any. */
  close?(): void;
}

/** `<stream>/dt=YYYY-MM-DD/hour=HH/<sortable unique id>.parquet` (by ingest time unless `partition` says), in UTC. */
export function objectKeyFor(stream: string, id: string, at: Date, partition = partitionOf(at, 'hour')): string {
  return `${stream}/${partition}/${id}.parquet`;
}

/** The partition folder of an instant: `dt=YYYY-MM-DD/hour=HH`, or `dt=YYYY-MM-DD` by day. */
export function partitionOf(at: Date, granularity: 'day' | 'hour'): string {
  const iso = at.toISOString();
  return granularity === 'hour' ? `dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}` : `dt=${iso.slice(0, 10)}`;
}

/** A stored object as a random-access file (what Parquet readers want): each slice is a range read. */
export function rangeReader(store: ObjectStore, key: string, size: number) {
  return {
    byteLength: size,
    slice: async (start: number, end?: number): Promise<ArrayBuffer> => {
      const bytes = await store.get(key, { start, end: end ?? size });
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    },
  };
}
