/**
 * The pool of pipeline workers. A parse session (parse-session.ts) sticks to one worker, since a body is
 * parsed in order, and goes to the least busy one. The first `encoders` workers also encode batches into
 * Parquet (each loads parquet-wasm and the zstd binding once, and keeps the wasm memory an encode grows:
 * measured 30 MB for a 200,000-row batch, never given back); an encode job goes to the encoder with the
 * fewest in hand, so batches of every stream are encoded on every core that has an encoder. Readers wait
 * while the encoders are more than a couple of batches each behind (encoderCaughtUp). A crashed worker
 * fails what it had in hand and is replaced.
 */ import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { StreamSchema } from '@sluice/shared';
import type { CompactOptions } from '../lake/compact-files';
import type { EncodeOptions } from './parquet-encode';
import type { ParsedChunk } from './parse/columns';
import type { ParseOptions } from './parse/record-sink';
import { BodyBlocks } from './body-blocks';
import { ParseSession, type BodyParse, type SessionHandlers } from './parse-session';
import { SegmentedSession } from './segmented-session';
import { chunkTransferList, type EncodedFile, type BodyFormat, type FromWorker, type ToWorker } from './protocol';

/** One worker thread and what it has in hand. */
export interface Slot {
  worker: Worker;
  /** Whether this worker encodes (see WorkerPool). */
  encoder: boolean;
  sessions: number;
  jobs: number;
  /** Settles once the worker has loaded its modules (or failed to). */
  loaded: Promise<void>;
  settleLoaded(error?: Error): void;
}

/**
 * Batches each encoder may have in hand (the one it is encoding and those waiting) before body reading
 * waits (see encoderCaughtUp): while the encoders are behind, reading ahead only holds more rows in memory.
 */
const ENCODE_BACKLOG = 2;

/** The size of the parts an NDJSON body is cut into, to be parsed on several workers at once. */
const PART_BYTES = 2 << 20;

/** The files a batch became (one, or one per event-time partition), and the rows placed by ingest time for want of one. */
export interface Encoded {
  files: EncodedFile[];
  fallbackRows: number;
}

export class WorkerPool {
  private readonly slots: Slot[] = [];
  /** Body blocks, reused: the workers hand them back once parsed. */
  readonly blocks = new BodyBlocks();
  private readonly sessions = new Map<number, ParseSession>();
  private readonly jobs = new Map<number, { slot: Slot; resolve(encoded: Encoded): void; reject(error: Error): void }>();
  /** Compactions in hand: not counted as an encoder's jobs (they do not hold ingest's batches back). */
  private readonly compactions = new Map<number, { resolve(result: { rows: number; bytes: number }): void; reject(error: Error): void }>();
  private backlogWaiters: Array<() => void> = [];
  private nextId = 1;
  private closing = false;
  /** Where the workers' warnings go (the service's log). */
  onWarning: (message: string) => void = () => {};

  private readonly encoders: number;

  /** `size` workers, of which the first `encoders` (at least one, at most all) also encode. */
  constructor(size = os.availableParallelism(), encoders = size) {
    const workers = Math.max(1, size);
    this.encoders = Math.min(workers, Math.max(1, encoders));
    for (let i = 0; i < workers; i++) this.slots.push(this.spawn(i < this.encoders));
  }

  get size(): number {
    return this.slots.length;
  }

  /**
   * Resolves once every worker has loaded its modules (which takes a while on a slow machine), so a
   * server can wait before it takes requests; rejects if one fails to load.
   */
  ready(): Promise<void> {
    return Promise.all(this.slots.map((slot) => slot.loaded)).then(() => undefined);
  }

  /** `encoder`: a worker that encodes batches (it loads the encoder at once). */
  private spawn(encoder: boolean): Slot {
    const worker = new Worker(new URL('./pipeline.worker.mjs', import.meta.url));
    if (encoder) worker.postMessage({ kind: 'warm' } satisfies ToWorker);
    let settleLoaded: Slot['settleLoaded'] = () => {};
    const loaded = new Promise<void>((resolve, reject) => {
      settleLoaded = (error) => (error ? reject(error) : resolve());
    });
    loaded.catch(() => {}); // a replacement worker's failure is reported by its crash, not here
    const slot: Slot = { worker, encoder, sessions: 0, jobs: 0, loaded, settleLoaded };
    worker.on('message', (message: FromWorker) => this.dispatch(slot, message));
    worker.on('error', (error) => this.crashed(slot, error));
    worker.on('exit', (code) => {
      if (!this.closing) this.crashed(slot, new Error(`pipeline worker exited with code ${code}`));
    });
    worker.unref();
    return slot;
  }

  /** A crashed worker fails its sessions and jobs, and is replaced. */
  private crashed(slot: Slot, error: Error) {
    slot.settleLoaded(error);
    const index = this.slots.indexOf(slot);
    if (index < 0) return;
    this.slots[index] = this.spawn(slot.encoder);
    for (const session of this.sessions.values()) {
      if (session.slot === slot) session.fail(error);
    }
    for (const [id, job] of this.jobs) {
      if (job.slot !== slot) continue;
      this.jobs.delete(id);
      job.reject(error);
    }
    this.wakeReaders();
    void slot.worker.terminate();
  }

  private dispatch(slot: Slot, message: FromWorker) {
    if (message.kind === 'loaded') {
      slot.settleLoaded();
      return;
    }
    if (message.kind === 'warning') {
      this.onWarning(message.message);
      return;
    }
    if (message.kind === 'encoded' || message.kind === 'encode-failed') {
      const job = this.jobs.get(message.job);
      if (!job) return;
      this.jobs.delete(message.job);
      slot.jobs--;
      if (message.kind === 'encoded') job.resolve({ files: message.files, fallbackRows: message.fallbackRows });
      else job.reject(new Error(message.message));
      this.wakeReaders();
      return;
    }
    if (message.kind === 'compacted' || message.kind === 'compact-failed') {
      const task = this.compactions.get(message.job);
      this.compactions.delete(message.job);
      if (message.kind === 'compacted') task?.resolve({ rows: message.rows, bytes: message.bytes });
      else task?.reject(new Error(message.message));
      return;
    }
    this.sessions.get(message.session)?.receive(message);
  }

  /** The worker with the fewest sessions and jobs; on a tie, the last one (the first ones encode). */
  private leastBusy(): Slot {
    let best = this.slots[this.slots.length - 1]!;
    for (const slot of this.slots) {
      if (slot.sessions * 2 + slot.jobs < best.sessions * 2 + best.jobs) best = slot;
    }
    return best;
  }

  /**
   * Whether an NDJSON body is cut into parts parsed on several workers at once: when at least two workers
   * do not encode. With fewer, one body's parse already has a worker of its own beside the encoder, and
   * cutting it only adds work: on 2 cores (2 workers, 1 encoding) bench:ingest's 2M-row NDJSON body ran
   * at 0.44-0.46x DuckDB uncut against 0.37-0.39x cut, in 6.3-7.0 against 7.0-8.0 CPU seconds and 246-255
   * against 301-305 MB peak RSS (same run, builds taking turns).
   */
  get splitsNdjson(): boolean {
    return this.slots.length - this.encoders >= 2;
  }

  /**
   * A body's parse: an NDJSON body is cut into parts parsed on several workers (segmented-session.ts) when
   * the pool `splitsNdjson`, unless it resumes a keyed request (whose skipped lines are counted from the
   * body's start); any other body is parsed in one session.
   */
  openBodyParse(format: BodyFormat, options: ParseOptions, handlers: SessionHandlers): BodyParse {
    if (format !== 'ndjson' || !this.splitsNdjson || (options.skipLines?.length ?? 0) > 0) {
      return this.openSession(format, options, handlers);
    }
    const open = (partOptions: ParseOptions, partHandlers: SessionHandlers) =>
      this.openSession(format, partOptions, partHandlers, Number.POSITIVE_INFINITY);
    return new SegmentedSession(open, options, handlers, PART_BYTES, PART_BYTES * (this.slots.length + 1));
  }

  openSession(format: BodyFormat, options: ParseOptions, handlers: SessionHandlers, window = 4 << 20): ParseSession {
    const slot = this.leastBusy();
    const session = new ParseSession(this, slot, this.nextId++, handlers, window);
    slot.sessions++;
    this.sessions.set(session.id, session);
    this.post(slot, { kind: 'open', session: session.id, format, options });
    return session;
  }

  /** The encoder with the fewest batches in hand; on a tie, the one parsing the fewest bodies. */
  private leastBusyEncoder(): Slot {
    let best = this.slots[0]!;
    for (let i = 1; i < this.encoders; i++) {
      const slot = this.slots[i]!;
      if (slot.jobs < best.jobs || (slot.jobs === best.jobs && slot.sessions < best.sessions)) best = slot;
    }
    return best;
  }

  encode(schema: StreamSchema, chunks: ParsedChunk[], options: EncodeOptions): Promise<Encoded> {
    // Transferring hands the chunk buffers to the worker: the batch is encoded once, from there.
    return this.encoderJob((job) => ({ kind: 'encode', job, schema, chunks, options }), chunkTransferList(chunks));
  }

  /** Writes an Arrow IPC stream as a Parquet file, on an encoder (the main thread never loads parquet-wasm). */
  async ipcToParquet(ipc: Uint8Array): Promise<Uint8Array> {
    return (await this.encoderJob((job) => ({ kind: 'ipc-to-parquet', job, ipc }), [ipc.buffer as ArrayBuffer])).files[0]!.parquet;
  }

  /** Rewrites small Parquet files (local paths) as one file at `output`, on an encoder (lake/compact-files.ts). */
  compact(schema: StreamSchema, inputs: string[], output: string, options: CompactOptions): Promise<{ rows: number; bytes: number }> {
    const job = this.nextId++;
    return new Promise((resolve, reject) => {
      this.compactions.set(job, { resolve, reject });
      try {
        this.post(this.leastBusyEncoder(), { kind: 'compact', job, schema, inputs, output, options });
      } catch (error) {
        this.compactions.delete(job);
        reject(error);
      }
    });
  }

  /** A job for the encoder with the fewest in hand, answered with the Parquet bytes it makes. */
  private encoderJob(message: (job: number) => ToWorker, transfer: ArrayBuffer[]): Promise<Encoded> {
    const slot = this.leastBusyEncoder();
    const job = this.nextId++;
    slot.jobs++;
    return new Promise((resolve, reject) => {
      this.jobs.set(job, { slot, resolve, reject });
      try {
        this.post(slot, message(job), transfer);
      } catch (error) {
        // Not posted: the job must not count as queued, or readers would wait for it forever.
        this.jobs.delete(job);
        slot.jobs--;
        this.wakeReaders();
        reject(error);
      }
    });
  }

  /** Resolves once the encoders have at most ENCODE_BACKLOG batches each in hand (at once when that is so now). */
  encoderCaughtUp(): Promise<void> | undefined {
    if (!this.encodersBehind()) return undefined;
    return new Promise((resolve) => this.backlogWaiters.push(resolve));
  }

  /** Batches each encoder has in hand (the one it is encoding and those waiting), in worker order. */
  encodeJobs(): number[] {
    return this.slots.slice(0, this.encoders).map((slot) => slot.jobs);
  }

  private encodersBehind(): boolean {
    let jobs = 0;
    for (let i = 0; i < this.encoders; i++) jobs += this.slots[i]!.jobs;
    return jobs > ENCODE_BACKLOG * this.encoders;
  }

  private wakeReaders() {
    if (this.encodersBehind() || this.backlogWaiters.length === 0) return;
    const waiters = this.backlogWaiters;
    this.backlogWaiters = [];
    for (const wake of waiters) wake();
  }

  /** @internal */
  post(slot: Slot, message: ToWorker, transfer: ArrayBuffer[] = []) {
    slot.worker.postMessage(message, transfer);
  }

  /** @internal */
  release(session: ParseSession) {
    this.sessions.delete(session.id);
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
  }
}
