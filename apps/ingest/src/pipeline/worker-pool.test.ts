/**
 * Parse sessions and encode jobs over real worker threads: aborting a session gives back the body bytes
 * still in the worker; body reading is held back while the encoder is behind.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Column } from '@sluice/shared';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse, parseOptions } from '../test/parse-helpers';
import { BodyParseError } from './parse-session';
import { BLOCK_BYTES } from './body-blocks';
import { WorkerPool } from './worker-pool';

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
      onRows: () => {},
      onBodyParsed: (bytes) => (consumed += bytes),
    });
    const block = pool.blocks.take();
    block.fill(0x61); // one long unfinished line
    await session.write(block);
    session.abort();
    assert.equal(consumed, BLOCK_BYTES);
    await sleep(200); // the worker's own report of those bytes, if any, is not counted again
    assert.equal(consumed, BLOCK_BYTES);
  });

  it('a parser that throws (a fault forced with options no route sends) fails its session as internal; the sessions beside it go on', async () => {
    const encoder = new TextEncoder();
    const owned = (text: string) => {
      const bytes = new Uint8Array(encoder.encode(text).length);
      bytes.set(encoder.encode(text));
      return bytes;
    };
    // One healthy session on each worker, part-way through its body.
    const healthy = [0, 1].map(() => {
      let rows = 0;
      const session = pool.openSession('csv', parseOptions(columns), {
        onRows: (chunks) => {
          for (const chunk of chunks) rows += chunk.rows;
        },
        onBodyParsed: () => {},
      });
      return { session, rows: () => rows };
    });
    for (const { session } of healthy) await session.write(owned('id,text\n1,a\n'));
    // The CSV parser's constructor throws on columns that are not an array: the worker's 'open' handler
    // must report that on its session, not die with every other session it parses.
    const broken = pool.openSession(
      'csv',
      { ...parseOptions(columns), columns: null as unknown as Column[] },
      { onRows: () => {}, onBodyParsed: () => {} },
    );
    const failure = await broken.end().then(
      () => null,
      (error: Error) => error,
    );
    assert.ok(failure, 'the broken session fails');
    assert.ok(!(failure instanceof BodyParseError), 'an internal failure, not a fault of the body (400)');
    for (const { session, rows } of healthy) {
      await session.write(owned('2,b\n'));
      const summary = await session.end();
      assert.deepEqual([summary.accepted, summary.rejected], [2, 0]);
      assert.equal(rows(), 2);
    }
  });

  it('spreads batches over every encoder, holds body reading back while they have more than two each in hand, and lets it go once they have caught up', async () => {
    const body = `id,text\n${Array.from({ length: 50_000 }, (_, i) => `${i},row ${i} of the batch`).join('\n')}\n`;
    assert.equal(pool.encoderCaughtUp(), undefined, 'nothing queued: reading goes on at once');
    let encoded = 0;
    const jobs = Array.from({ length: 6 }, () =>
      pool
        .encode({ columns }, parse('csv', body, columns, { chunkRows: 10_000 }).chunks, {
          stream: 's',
          schemaVersion: 1,
          rowGroupRows: 100_000,
          zstd: 'native',
        })
        .then((parquet) => {
          encoded++;
          return parquet;
        }),
    );
    assert.deepEqual(pool.encodeJobs(), [3, 3], 'each encoder has three');
    const caughtUp = pool.encoderCaughtUp();
    assert.ok(caughtUp, 'six batches queued on two encoders: reading waits');
    await caughtUp;
    assert.ok(encoded >= 2, `released with ${6 - encoded} batches still queued`);
    for (const { files } of await Promise.all(jobs)) {
      assert.equal(files.length, 1);
      assert.equal(new TextDecoder().decode(files[0]!.parquet.subarray(0, 4)), 'PAR1');
    }
    assert.equal(pool.encoderCaughtUp(), undefined);
  });
});
