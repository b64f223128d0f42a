/**
 * The request body's limits on their own, over real streams: the inflation limit at its edge, the idle
 * timeout, and a long body read without holding on to what was read.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { PassThrough, Readable } from 'node:stream';
import { describe, it } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { gzipSync } from 'node:zlib';
import { SluiceError } from '@sluice/shared';
import { INFLATION_FREE_BYTES, requestBody, ZSTD_MAX_WINDOW_BYTES, zstdWindowOf } from './request-body';

const limits = { idleTimeoutMs: 60_000, maxInflationRatio: 100 };

/** A request stand-in: the body is all a request body reader sees of it. */
function asRequest(stream: Readable): IncomingMessage {
  return stream as unknown as IncomingMessage;
}

async function drain(body: AsyncIterable<Uint8Array>): Promise<number> {
  let bytes = 0;
  for await (const piece of body) bytes += piece.byteLength;
  return bytes;
}

async function failure(body: AsyncIterable<Uint8Array>): Promise<SluiceError> {
  try {
    await drain(body);
  } catch (error) {
    assert.ok(error instanceof SluiceError, String(error));
    return error;
  }
  assert.fail('the body was read whole');
}

describe('requestBody', () => {
  it('inflates gzip up to 64 MiB at any ratio, and refuses one byte more past MAX_INFLATION_RATIO', async () => {
    const atLimit = gzipSync(Buffer.alloc(INFLATION_FREE_BYTES));
    assert.ok(atLimit.length * 100 < INFLATION_FREE_BYTES, 'zeros inflate far more than 100-fold');
    assert.equal(await drain(requestBody(asRequest(Readable.from([atLimit])), 'gzip', limits)), INFLATION_FREE_BYTES);

    const past = gzipSync(Buffer.alloc(INFLATION_FREE_BYTES + 1));
    const refused = await failure(requestBody(asRequest(Readable.from([past])), 'gzip', limits));
    assert.equal(refused.code, 'ingest.inflation_too_large');
    assert.equal(refused.status, 413);

    // The same body is taken where the ratio allows it.
    const generous = { ...limits, maxInflationRatio: (INFLATION_FREE_BYTES + 1) / past.length + 1 };
    assert.equal(await drain(requestBody(asRequest(Readable.from([past])), 'gzip', generous)), INFLATION_FREE_BYTES + 1);
  });

  it('inflates zstd as it arrives, with the same limit, and refuses a corrupt frame', async () => {
    const { Encoder } = await import('@toondepauw/node-zstd');
    const atLimit = new Encoder(3).encodeSync(Buffer.alloc(INFLATION_FREE_BYTES));
    assert.equal(await drain(requestBody(asRequest(Readable.from([atLimit])), 'zstd', limits)), INFLATION_FREE_BYTES);
    const past = new Encoder(3).encodeSync(Buffer.alloc(INFLATION_FREE_BYTES + 1));
    const refused = await failure(requestBody(asRequest(Readable.from([past])), 'zstd', limits));
    assert.equal(refused.code, 'ingest.inflation_too_large');
    const text = Buffer.from('id,name\n'.repeat(10_000));
    const pieces = new Encoder(3).encodeSync(text);
    const inflated: Buffer[] = [];
    for await (const piece of requestBody(asRequest(Readable.from([pieces.subarray(0, 7), pieces.subarray(7)])), 'zstd', limits)) {
      inflated.push(Buffer.from(piece));
    }
    assert.ok(Buffer.concat(inflated).equals(text));
    // A frame whose header declares a window past ZSTD_MAX_WINDOW_BYTES is refused before it is inflated.
    // (magic, a descriptor with no single segment, a window descriptor of 2^24 bytes, then anything)
    const long = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, (24 - 10) << 3]), Buffer.alloc(64)]);
    assert.equal(zstdWindowOf(long), ZSTD_MAX_WINDOW_BYTES * 2);
    assert.ok(zstdWindowOf(pieces)! <= ZSTD_MAX_WINDOW_BYTES, 'a frame of zstd level 3 is taken');
    // At the limit the window is taken (the frame, garbage past its header, is then found corrupt).
    const windowAtLimit = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, (23 - 10) << 3]), Buffer.alloc(64)]);
    assert.equal(zstdWindowOf(windowAtLimit), ZSTD_MAX_WINDOW_BYTES);
    assert.equal((await failure(requestBody(asRequest(Readable.from([windowAtLimit])), 'zstd', limits))).code, 'ingest.malformed_body');
    const refusedWindow = await failure(requestBody(asRequest(Readable.from([long])), 'zstd', limits));
    assert.equal(refusedWindow.code, 'ingest.inflation_too_large');
    assert.match(refusedWindow.message, /window is 16777216 bytes/);
    const corrupt = Buffer.from(pieces);
    corrupt[corrupt.length - 5]! ^= 0xff;
    const broken = await failure(requestBody(asRequest(Readable.from([corrupt.subarray(0, corrupt.length - 3)])), 'zstd', limits));
    assert.equal(broken.code, 'ingest.malformed_body');
  });

  it('fails with 408 once the body sends nothing for the idle timeout, not while the reader is busy', async () => {
    const source = new PassThrough();
    const body = requestBody(asRequest(source), 'identity', { ...limits, idleTimeoutMs: 200 });
    source.write('first');
    const started = Date.now();
    let read = 0;
    const error = await (async () => {
      try {
        for await (const piece of body) {
          read += piece.byteLength;
          // Busy with this piece for longer than the timeout: that is the reader's time, not the client's.
          await new Promise((resolve) => setTimeout(resolve, 400));
          if (read === 5) source.write('second');
        }
      } catch (thrown) {
        return thrown as SluiceError;
      }
      return null;
    })();
    assert.equal(read, 11, 'both pieces were read');
    assert.equal(error?.code, 'ingest.body_timeout');
    assert.equal(error?.status, 408);
    assert.ok(Date.now() - started >= 800 + 200, 'the timeout ran only while the reader waited');
  });

  it('holds nothing of what it has read: after 512 MiB through it, at most what the collector has yet to free', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const piece = Buffer.alloc(64 * 1024, 0x61);
    const pieces = (512 * 1024 * 1024) / piece.length;
    const source = Readable.from(
      (function* () {
        for (let i = 0; i < pieces; i++) yield Buffer.from(piece); // a new buffer each, as a socket gives
      })(),
    );
    gc();
    const before = process.memoryUsage();
    let read = 0;
    let peakExternal = 0;
    for await (const chunk of requestBody(asRequest(source), 'identity', limits)) {
      read += chunk.byteLength;
      if (read % (64 * 1024 * 1024) === 0) {
        gc();
        gc();
        peakExternal = Math.max(peakExternal, process.memoryUsage().arrayBuffers - before.arrayBuffers);
      }
    }
    assert.equal(read, pieces * piece.length);
    // What the collector has not yet handed back may be a few dozen MB; a reader that held its pieces held
    // them all (512 MB).
    assert.ok(peakExternal < 128 * 1024 * 1024, `${Math.round(peakExternal / 1024 / 1024)} MB of read pieces still held`);
  });
});
