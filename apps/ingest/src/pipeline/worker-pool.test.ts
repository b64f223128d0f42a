/** Parse sessions over real worker threads: aborting one gives back the body bytes still in the worker. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Column } from '@sluice/shared';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseOptions } from '../test/parse-helpers';
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
});
