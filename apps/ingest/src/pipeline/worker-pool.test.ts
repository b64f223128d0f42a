/**
 * Parse sessions and encode jobs over real worker threads: aborting a session gives back the body bytes
 * still in the worker; body reading is held back while the encoder is behind.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Column } from '@sluice/shared';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse, parseOptions } from '../test/parse-helpers';
import { BLOCK_BYTES, WorkerPool } from './worker-pool';

const columns: Column[] = [
  { name: 'id', type: 'int64', nullable: false },
  { name: 'text', type: 'string', nullable: true },
];

describe('WorkerPool parse sessions', () => {
  const pool = new WorkerPool(2);
  // The workers do not keep the process alive (a server does): this timer does, while the tests run.
  const alive = setInterval(() => {}, 1000);
  after(async () => {
    clearInterval(alive);
    await pool.close();
  });

  it('is ready once every worker has loaded (each says so when its modules are in)', { timeout: 30_000 }, async () => {
    await pool.ready();
  });

  it('gives back the body bytes still in the workers when a session is aborted', async () => {
    let consumed = 0;
    const session = pool.openSession('csv', parseOptions(columns), {
      onProgress: () => {},
      onConsumed: (bytes) => (consumed += bytes),
    });
    const block = pool.block();
    block.fill(0x61); // one long unfinished line
    await session.write(block);
    session.abort();
    assert.equal(consumed, BLOCK_BYTES);
    await sleep(200); // the worker's own report of those bytes, if any, is not counted again
    assert.equal(consumed, BLOCK_BYTES);
  });

  it('holds body reading back while the encoder has more than two batches in hand, and lets it go once it has caught up', async () => {
    const body = `id,text\n${Array.from({ length: 50_000 }, (_, i) => `${i},row ${i} of the batch`).join('\n')}\n`;
    assert.equal(pool.encoderCaughtUp(), undefined, 'nothing queued: reading goes on at once');
    let encoded = 0;
    const jobs = Array.from({ length: 4 }, () =>
      pool
        .encode({ columns }, parse('csv', body, columns, { chunkRows: 10_000 }).chunks, { stream: 's', schemaVersion: 1, rowGroupRows: 100_000, zstd: 'native' })
        .then((parquet) => {
          encoded++;
          return parquet;
        }),
    );
    const caughtUp = pool.encoderCaughtUp();
    assert.ok(caughtUp, 'four batches queued: reading waits');
    await caughtUp;
    assert.ok(encoded >= 2, `released with ${4 - encoded} batches still queued`);
    for (const parquet of await Promise.all(jobs)) {
      assert.equal(new TextDecoder().decode(parquet.subarray(0, 4)), 'PAR1');
    }
    assert.equal(pool.encoderCaughtUp(), undefined);
  });
});
