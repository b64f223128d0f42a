/**
 * Groups parsed chunks of one stream (and schema version) into batches and flushes a batch when it
 * reaches maxRows or maxBytes, when its first row is maxAgeMs old, or when asked (request end, memory
 * pressure, shutdown). Each flush becomes one Parquet file. Requests whose rows are in a batch are told
 * about its commit, so they can answer only once their rows are durable.
 */
import type { LineSpanRecord } from '@sluice/db';
import type { BatchSettings } from '@sluice/shared';
import type { BatchOwner, CommittedFile } from './batch-owner';
import type { ParsedChunk } from './parse/columns';

export type FlushReason = 'rows' | 'bytes' | 'age' | 'request_end' | 'pressure' | 'shutdown';

export interface Batch {
  chunks: ParsedChunk[];
  rows: number;
  bytes: number;
  /** The body lines of keyed requests it holds, recorded when its file is committed. */
  spans: LineSpanRecord[];
}

export class Batcher {
  private chunks: ParsedChunk[] = [];
  private chunkOwners: BatchOwner[] = [];
  private rows = 0;
  private bytes = 0;
  private owners = new Set<BatchOwner>();
  private timer: NodeJS.Timeout | null = null;
  /** When the age timer fires (epoch ms). */
  private deadline = 0;
  /** How long a flushed batch takes to be committed (a moving average, ms): waiting producers are answered by then. */
  private commitMs = 0;
  /** Requests whose bodies are still adding rows to this batcher. */
  private writers = 0;

  constructor(
    private readonly settings: BatchSettings,
    private readonly commit: (batch: Batch, reason: FlushReason) => Promise<CommittedFile[]>,
  ) {}

  get pendingRows(): number {
    return this.rows;
  }

  get pendingBytes(): number {
    return this.bytes;
  }

  /** Whether these rows and bytes would all join the batch now open (no flush before the last of them). */
  fits(rows: number, bytes: number): boolean {
    return this.rows + rows <= this.settings.maxRows && this.bytes + bytes <= this.settings.maxBytes;
  }

  /** Whether a request's body is still adding rows here (then a batch is worth waiting for). */
  get writing(): boolean {
    return this.writers > 0;
  }

  /** A request's body starts adding rows here, until its `stopWriting`. */
  startWriting(): void {
    this.writers++;
  }

  stopWriting(): void {
    this.writers--;
  }

  append(chunk: ParsedChunk, owner: BatchOwner): void {
    if (chunk.rows === 0) return;
    if (this.rows === 0) this.schedule(Date.now() + this.settings.maxAgeMs);
    this.chunks.push(chunk);
    this.chunkOwners.push(owner);
    this.rows += chunk.rows;
    this.bytes += chunk.bytes;
    if (!this.owners.has(owner)) {
      this.owners.add(owner);
      owner.joined();
    }
    if (this.rows >= this.settings.maxRows) this.flush('rows');
    else if (this.bytes >= this.settings.maxBytes) this.flush('bytes');
  }

  /**
   * The owner's body has ended and it waits for its rows. The batch is flushed early enough for the answer
   * to come within maxAgeMs of when the request began: at that time less the time commits have been taking
   * (encode, upload and manifest, queueing included). Rows of bodies still arriving age from when they
   * joined the batch instead, so a long body fills batches up to maxRows / maxBytes rather than being
   * flushed chunk by chunk.
   */
  ended(owner: BatchOwner): void {
    if (this.owners.has(owner)) this.schedule(owner.startedAt + this.settings.maxAgeMs - this.commitMs);
  }

  private schedule(at: number): void {
    if (this.timer && at >= this.deadline) return;
    if (this.timer) clearTimeout(this.timer);
    this.deadline = at;
    this.timer = setTimeout(() => this.flush('age'), Math.max(0, at - Date.now()));
  }

  /**
   * Takes an owner's rows back out of the batch not yet flushed (its request failed part-way); returns
   * the bytes released. Rows already flushed stay stored.
   */
  withdraw(owner: BatchOwner): number {
    if (!this.owners.has(owner)) return 0;
    let released = 0;
    const keep: ParsedChunk[] = [];
    const keepOwners: BatchOwner[] = [];
    this.chunks.forEach((chunk, index) => {
      if (this.chunkOwners[index] === owner) {
        released += chunk.bytes;
        this.rows -= chunk.rows;
        this.bytes -= chunk.bytes;
      } else {
        keep.push(chunk);
        keepOwners.push(this.chunkOwners[index]!);
      }
    });
    this.chunks = keep;
    this.chunkOwners = keepOwners;
    this.owners.delete(owner);
    owner.left();
    if (this.rows === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    return released;
  }

  flush(reason: FlushReason): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.rows === 0) return;
    const batch: Batch = { chunks: this.chunks, rows: this.rows, bytes: this.bytes, spans: keyedSpans(this.chunks, this.chunkOwners) };
    const owners = this.owners;
    this.chunks = [];
    this.chunkOwners = [];
    this.rows = 0;
    this.bytes = 0;
    this.owners = new Set();
    const flushedAt = Date.now();
    const committed = this.commit(batch, reason);
    committed.then(
      () => (this.commitMs = this.commitMs === 0 ? Date.now() - flushedAt : 0.8 * this.commitMs + 0.2 * (Date.now() - flushedAt)),
      () => {},
    );
    for (const owner of owners) owner.flushed(committed);
  }
}

/** The line spans of keyed requests' chunks, those of one request that follow each other joined. */
function keyedSpans(chunks: ParsedChunk[], owners: BatchOwner[]): LineSpanRecord[] {
  const spans: LineSpanRecord[] = [];
  const last = new Map<string, LineSpanRecord>();
  chunks.forEach((chunk, index) => {
    const keyed = owners[index]!.keyed;
    if (keyed === null) return;
    const id = keyed.id;
    const previous = last.get(id);
    if (previous && previous.toLine + 1 === chunk.fromLine) {
      previous.toLine = chunk.toLine;
      return;
    }
    const span = { idempotencyKeyId: id, holder: keyed.holder, fromLine: chunk.fromLine, toLine: chunk.toLine };
    spans.push(span);
    last.set(id, span);
  });
  return spans;
}
