/**
 * One NDJSON body parsed by several workers at once. The body is cut at line feeds into parts of about
 * `partBytes`; each part is parsed by a session of its own on the least busy worker, and the parts' rows
 * and row errors are handed on in body order, their line numbers counted from the body's start. A part's
 * results wait, parsed, until the parts before it are done: at most `window` body bytes are in the
 * workers at once, so what waits stays small.
 *
 * NDJSON only: a line feed always ends a line there. In CSV a line feed may lie inside quotes, and only
 * the parser knows (a stray quote is text to it), so a CSV body stays on one worker.
 */
import { LF } from './parse/bytes';
import type { ParsedChunk } from './parse/columns';
import type { ParseOptions, QuarantinedRow, RowError } from './parse/record-sink';
import { BodyParseError, type BodyParse, type ParseSession, type ParseSummary, type SessionHandlers } from './parse-session';

/** One part of the body and its results not yet handed on. */
interface Part {
  session: ParseSession;
  bytes: number;
  waiting: { chunks: ParsedChunk[]; errors: RowError[]; quarantined: QuarantinedRow[] }[];
  summary: ParseSummary | null;
}

export type OpenSession = (options: ParseOptions, handlers: SessionHandlers) => ParseSession;

export class SegmentedSession implements BodyParse {
  /** Parts not yet handed on whole, in body order: the first one's results go straight on. */
  private readonly parts: Part[] = [];
  private current: Part | null = null;
  /** Lines of the parts handed on whole. */
  private linesBefore = 0;
  private readonly total: ParseSummary = { accepted: 0, rejected: 0, skipped: 0, lines: 0 };
  private inFlight = 0;
  private waiter: (() => void) | null = null;
  private failure: Error | null = null;
  private ended = false;
  private opened = 0;
  private finished: { resolve(summary: ParseSummary): void; reject(error: Error): void } | null = null;

  constructor(
    private readonly open: OpenSession,
    private readonly options: ParseOptions,
    private readonly handlers: SessionHandlers,
    private readonly partBytes: number,
    private readonly window: number,
  ) {}

  /** Takes a block (the caller gives up its whole buffer); resolves when the window has room again. */
  async write(bytes: Uint8Array): Promise<void> {
    if (this.failure) {
      this.handlers.onBodyParsed(bytes.byteLength);
      throw this.failure;
    }
    const part = (this.current ??= this.openPart());
    const lf = part.bytes + bytes.byteLength >= this.partBytes ? bytes.lastIndexOf(LF) : -1;
    if (lf < 0) {
      this.send(part, bytes);
    } else {
      // The part ends with the block's last line feed; what follows starts the next part.
      const rest = lf + 1 < bytes.byteLength ? bytes.slice(lf + 1) : null;
      this.send(part, bytes.subarray(0, lf + 1));
      this.endPart(part);
      this.current = null;
      if (rest) this.send((this.current = this.openPart()), rest);
    }
    while (this.inFlight > this.window && !this.failure) {
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
    if (this.failure) throw this.failure;
  }

  end(): Promise<ParseSummary> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.finished = { resolve, reject };
      this.ended = true;
      if (this.current) this.endPart(this.current);
      this.current = null;
      this.handOn();
    });
  }

  abort(): void {
    for (const part of this.parts) part.session.abort();
    this.parts.length = 0;
    this.current = null;
    this.failure ??= new Error('aborted');
  }

  private openPart(): Part {
    const part: Part = { session: null as unknown as ParseSession, bytes: 0, waiting: [], summary: null };
    part.session = this.open(
      { ...this.options, part: this.opened++ === 0 ? 'first' : 'later' },
      {
        onRows: (chunks, errors, quarantined) => {
          if (this.failure) return;
          if (part === this.parts[0]) this.deliver(chunks, errors, quarantined);
          else part.waiting.push({ chunks, errors, quarantined });
        },
        onBodyParsed: (bytes) => {
          this.inFlight -= bytes;
          this.handlers.onBodyParsed(bytes);
          this.wake();
        },
      },
    );
    this.parts.push(part);
    return part;
  }

  private send(part: Part, bytes: Uint8Array) {
    part.bytes += bytes.byteLength;
    this.inFlight += bytes.byteLength;
    part.session.write(bytes).catch((error: Error) => this.fail(error));
  }

  private endPart(part: Part) {
    part.session.end().then(
      (summary) => {
        part.summary = summary;
        this.handOn();
      },
      (error: Error) => this.fail(error),
    );
  }

  /** Hands on the results of every part that is first in line and done, then those waiting behind. */
  private handOn() {
    if (this.failure) return;
    while (this.parts[0]?.summary) {
      const done = this.parts.shift()!;
      this.linesBefore += done.summary!.lines;
      this.total.accepted += done.summary!.accepted;
      this.total.rejected += done.summary!.rejected;
      this.total.skipped += done.summary!.skipped;
      const next = this.parts[0];
      if (!next) break;
      for (const { chunks, errors, quarantined } of next.waiting.splice(0)) this.deliver(chunks, errors, quarantined);
    }
    if (!this.ended || this.parts.length > 0) return;
    this.total.lines = this.linesBefore;
    if (this.total.accepted + this.total.rejected === 0) {
      this.fail(new BodyParseError('the body is empty: send one JSON object per line', 1, null));
      return;
    }
    this.finished?.resolve(this.total);
  }

  private deliver(chunks: ParsedChunk[], errors: RowError[], quarantined: QuarantinedRow[]) {
    const offset = this.linesBefore;
    if (offset > 0) {
      for (const chunk of chunks) {
        chunk.fromLine += offset;
        chunk.toLine += offset;
      }
      for (const error of errors) error.line += offset;
      for (const row of quarantined) row.line += offset;
    }
    this.handlers.onRows(chunks, errors, quarantined);
  }

  private fail(error: Error) {
    if (this.failure) return;
    this.failure = error;
    for (const part of this.parts) part.session.abort();
    this.parts.length = 0;
    this.wake();
    this.finished?.reject(error);
  }

  private wake() {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }
}
