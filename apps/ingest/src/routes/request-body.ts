/**
 * An ingest request's body as an async iterable of byte pieces, with the limits that protect the service
 * from hostile or broken clients: gzip and zstd bodies are inflated as they arrive, and refused once they
 * inflate past MAX_INFLATION_RATIO (a compression bomb); a body that sends nothing for
 * INGEST_IDLE_TIMEOUT_MS is cut off (408).
 *
 * Leaving the iteration early (a refusal part-way) never destroys the request: its socket must stay up
 * for the error answer, and the refusal drains what is left of the body (see ingest.route.ts).
 */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { SluiceError } from '@sluice/shared';
import { Decompress } from 'fzstd';

/** How a body is compressed (its Content-Encoding). */
export type BodyEncoding = 'identity' | 'gzip' | 'zstd';

export interface BodyLimits {
  idleTimeoutMs: number;
  maxInflationRatio: number;
}

/** Inflation below this many bytes is never refused, whatever the ratio: small, very regular bodies compress well. */
export const INFLATION_FREE_BYTES = 64 * 1024 * 1024;

export function requestBody(raw: IncomingMessage, encoding: BodyEncoding, limits: BodyLimits): AsyncIterable<Uint8Array> {
  const source =
    encoding === 'gzip'
      ? inflated(raw, limits.maxInflationRatio)
      : encoding === 'zstd'
        ? zstdInflated(raw, limits.maxInflationRatio)
        : pieces(raw);
  return idleLimited(source, limits.idleTimeoutMs);
}

function inflationTooLarge(name: string, maxRatio: number, compressed: number, inflatedBytes: number): SluiceError {
  return new SluiceError(
    'ingest.inflation_too_large',
    `The ${name} body inflates more than ${maxRatio} times (MAX_INFLATION_RATIO): ${compressed} bytes became over ${inflatedBytes}.`,
  );
}

const ZSTD_STEP = 1024;
/**
 * The largest zstd window taken. The decoder keeps a buffer of the window's size per request and moves it
 * for every block (128 KiB), so a frame declaring a window of gigabytes (a few bytes of hostile body) would
 * pin that much memory outside the byte budget. zstd's levels up to 19 use at most 8 MiB; `--long` and
 * `--ultra` frames are refused (413).
 */
export const ZSTD_MAX_WINDOW_BYTES = 8 * 1024 * 1024;

/** The window a zstd frame header declares (RFC 8878 3.1.1.1), or null when `bytes` do not start a frame yet. */
export function zstdWindowOf(bytes: Uint8Array): number | null {
  if (bytes.length < 6 || bytes[0] !== 0x28 || bytes[1] !== 0xb5 || bytes[2] !== 0x2f || bytes[3] !== 0xfd) return null;
  const descriptor = bytes[4]!;
  const singleSegment = (descriptor >> 5) & 1;
  if (!singleSegment) {
    const window = bytes[5]!;
    const base = 2 ** (10 + (window >> 3));
    return base + (base / 8) * (window & 7);
  }
  // A single segment: the window is the frame's content size, after the dictionary id.
  const dictionaryBytes = [0, 1, 2, 4][descriptor & 3]!;
  const sizeBytes = [1, 2, 4, 8][descriptor >> 6]!;
  const at = 5 + dictionaryBytes;
  if (bytes.length < at + sizeBytes) return null;
  let size = 0;
  for (let i = sizeBytes - 1; i >= 0; i--) size = size * 256 + bytes[at + i]!;
  return sizeBytes === 2 ? size + 256 : size;
}

/**
 * A zstd body, inflated piece by piece (fzstd: Node 20's zlib has no zstd). Each compressed piece's
 * output is yielded before the next piece is read, so the socket is read no faster than the rows go.
 */
function zstdInflated(raw: IncomingMessage, maxRatio: number): AsyncIterable<Uint8Array> {
  return (async function* () {
    let compressed = 0;
    let inflatedBytes = 0;
    let out: Uint8Array[] = [];
    const decompress = new Decompress((data) => {
      out.push(data);
    });
    const flush = function* () {
      const ready = out;
      out = [];
      for (const piece of ready) {
        inflatedBytes += piece.byteLength;
        if (inflatedBytes > INFLATION_FREE_BYTES && inflatedBytes > compressed * maxRatio) {
          throw inflationTooLarge('zstd', maxRatio, compressed, inflatedBytes);
        }
        yield piece;
      }
    };
    const push = (piece: Uint8Array, final: boolean) => {
      try {
        decompress.push(piece, final);
      } catch (error) {
        throw new SluiceError('ingest.malformed_body', `The zstd body is truncated or corrupt (${(error as Error).message}).`);
      }
      // The window of the frame being read (a later frame's too): fzstd keeps it as its state's `w`.
      const window = (decompress as unknown as { s?: { w?: Uint8Array } }).s?.w?.length ?? 0;
      if (window > ZSTD_MAX_WINDOW_BYTES) throw windowTooLarge(window);
    };
    const windowTooLarge = (window: number) =>
      new SluiceError(
        'ingest.inflation_too_large',
        `The zstd body's window is ${window} bytes, more than the ${ZSTD_MAX_WINDOW_BYTES} taken: compress without --long or --ultra.`,
      );
    let head: Uint8Array | null = new Uint8Array(0);
    for await (const piece of pieces(raw)) {
      // The first frame's window, read from its header before the decoder allocates it.
      if (head !== null) {
        head = Buffer.concat([head, piece.subarray(0, 32)]);
        const window = zstdWindowOf(head);
        if (window !== null && window > ZSTD_MAX_WINDOW_BYTES) throw windowTooLarge(window);
        if (window !== null || head.length >= 32) head = null;
      }
      // A KiB at a time: a zstd block of one repeated byte inflates 4 bytes into 128 KiB, so what one push
      // may inflate before the ratio is checked is bounded by what it is given (1 KiB: 32 MiB at most).
      for (let at = 0; at < piece.byteLength; at += ZSTD_STEP) {
        const step = piece.subarray(at, at + ZSTD_STEP);
        compressed += step.byteLength;
        push(step, false);
        yield* flush();
      }
    }
    push(new Uint8Array(0), true);
    yield* flush();
  })();
}

/** The stream's pieces, without destroying it when the reader stops early. */
function pieces(stream: Readable): AsyncIterable<Uint8Array> {
  return stream.iterator({ destroyOnReturn: false }) as AsyncIterable<Uint8Array>;
}

function inflated(raw: IncomingMessage, maxRatio: number): AsyncIterable<Uint8Array> {
  const gunzip = createGunzip();
  let compressed = 0;
  raw.on('data', (piece: Buffer) => {
    compressed += piece.length;
  });
  raw.on('error', (error) => gunzip.destroy(error));
  raw.pipe(gunzip);
  return (async function* () {
    let inflatedBytes = 0;
    try {
      for await (const piece of gunzip) {
        inflatedBytes += (piece as Buffer).length;
        if (inflatedBytes > INFLATION_FREE_BYTES && inflatedBytes > compressed * maxRatio) {
          throw inflationTooLarge('gzip', maxRatio, compressed, inflatedBytes);
        }
        yield piece as Uint8Array;
      }
    } catch (error) {
      if (error instanceof SluiceError) throw error;
      if (
        (error as NodeJS.ErrnoException).code?.startsWith('Z_') ||
        /unexpected end of file|incorrect header/i.test((error as Error).message)
      ) {
        throw new SluiceError('ingest.malformed_body', `The gzip body is truncated or corrupt (${(error as Error).message}).`);
      }
      throw error;
    } finally {
      // The inflater goes; the request stays (unpiped when the inflater closes) for the refusal's drain.
      gunzip.destroy();
    }
  })();
}

/** Fails the read when the source gives nothing for `ms` while it is being waited for (not while the reader is busy). */
export function idleLimited<T>(source: AsyncIterable<T>, ms: number): AsyncIterable<T> {
  return (async function* () {
    const iterator = source[Symbol.asyncIterator]();
    // One timer for the whole body, refreshed before each wait; when it fires while the reader is busy
    // with a piece (or waiting for room in the budget), it only starts over. Each wait is a promise of its
    // own: racing every read against one long-lived promise would pile a reaction (holding its piece) on
    // that promise per read, for the whole body.
    let rejectWait: ((error: Error) => void) | null = null;
    let timedOut = false;
    const timer = setTimeout(() => {
      if (!rejectWait) {
        timer.refresh();
        return;
      }
      timedOut = true;
      rejectWait(new SluiceError('ingest.body_timeout', `The body sent nothing for ${ms} ms (INGEST_IDLE_TIMEOUT_MS).`));
    }, ms);
    const wait = () => {
      timer.refresh();
      return new Promise<IteratorResult<T>>((resolve, reject) => {
        rejectWait = reject;
        iterator.next().then(resolve, reject);
      }).finally(() => {
        rejectWait = null;
      });
    };
    try {
      for (let next = await wait(); !next.done; next = await wait()) yield next.value;
    } finally {
      clearTimeout(timer);
      // Not after a time-out: the source's pending read would hold the return back until the client
      // sends again or its socket closes (the answer closes it).
      if (timedOut) void iterator.return?.()?.catch(() => {});
      else await iterator.return?.();
    }
  })();
}

/**
 * After a refusal (429, 413, 401 ...) the rest of the body is still on its way. Reading and discarding it
 * before answering lets the producer finish sending and read the answer on a connection that stays open;
 * answering first and closing would reset a client still writing (a broken pipe, the answer lost). Past
 * LINGER_BYTES or LINGER_MS the drain stops: the answer then closes the connection (see app.ts) rather
 * than read gigabytes, or wait on a client that has gone quiet or trickles, for nothing.
 */
const LINGER_BYTES = 16 * 1024 * 1024;
const LINGER_MS = 2000;

export function drainRefusedBody(body: IncomingMessage): Promise<void> {
  if (body.complete || body.destroyed) return Promise.resolve();
  const declared = Number(body.headers['content-length'] ?? Number.NaN);
  if (declared > LINGER_BYTES) return Promise.resolve();
  return new Promise<void>((resolve) => {
    let discarded = 0;
    const done = () => {
      clearTimeout(deadline);
      body.off('data', discard);
      body.pause();
      resolve();
    };
    const deadline = setTimeout(done, LINGER_MS);
    const discard = (piece: Buffer) => {
      discarded += piece.length;
      if (discarded > LINGER_BYTES) done();
    };
    body.on('data', discard);
    body.once('end', done);
    body.once('close', done);
    body.resume();
  });
}
