/** The batcher's flush rules, on its own with real (short) timers: rows, age, and the age of a waiting request. */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { BatchOwner } from './batch-owner';
import { Batcher, type Batch, type FlushReason } from './batcher';
import type { ParsedChunk } from './parse/columns';

const chunk = (rows: number): ParsedChunk => ({ rows, columns: [], buffer: new ArrayBuffer(0), bytes: rows * 10, fromLine: 0, toLine: 0 });

function recorder(maxRows: number, maxAgeMs: number, commitMs = 0) {
  const flushes: { rows: number; reason: FlushReason; at: number }[] = [];
  const batcher = new Batcher({ maxRows, maxBytes: 1 << 30, maxAgeMs }, async (batch: Batch, reason) => {
    flushes.push({ rows: batch.rows, reason, at: Date.now() });
    if (commitMs > 0) await sleep(commitMs);
    return [{ id: `f${flushes.length}`, key: `file-${flushes.length}`, rows: batch.rows, bytes: batch.bytes }];
  });
  return { batcher, flushes };
}

// Timings leave wide margins (a busy machine fires timers late); each bound still tells the rule from its absence.
describe('Batcher', () => {
  it('fills batches from a long body instead of flushing each chunk once the request is older than maxAgeMs', async () => {
    const { batcher, flushes } = recorder(1000, 400);
    const owner = new BatchOwner();
    await sleep(500); // the request has been sending for longer than maxAgeMs
    for (let i = 0; i < 8; i++) {
      batcher.append(chunk(100), owner);
      await sleep(5);
    }
    assert.equal(flushes.length, 0, 'no flush while the batch is younger than maxAgeMs');
    for (let i = 0; i < 2; i++) batcher.append(chunk(100), owner);
    assert.deepEqual(
      flushes.map((f) => [f.rows, f.reason]),
      [[1000, 'rows']],
    );
    const joined = Date.now();
    batcher.append(chunk(100), owner);
    await sleep(600);
    assert.deepEqual(
      flushes.map((f) => [f.rows, f.reason]),
      [
        [1000, 'rows'],
        [100, 'age'],
      ],
    );
    assert.ok(flushes[1]!.at - joined >= 395, 'the age counts from when the rows joined the batch');
  });

  it('flushes at once when a request whose start is older than maxAgeMs ends', async () => {
    const { batcher, flushes } = recorder(1000, 300);
    const owner = new BatchOwner();
    await sleep(350);
    batcher.append(chunk(10), owner);
    const ended = Date.now();
    batcher.ended(owner);
    assert.equal((await owner.settled()).length, 1);
    assert.deepEqual(
      flushes.map((f) => [f.rows, f.reason]),
      [[10, 'age']],
    );
    assert.ok(flushes[0]!.at - ended < 150, `flushed ${flushes[0]!.at - ended} ms after the request ended`);
  });

  it('answers a small request within maxAgeMs of its start, not of its last rows', async () => {
    const { batcher, flushes } = recorder(1000, 400);
    const owner = new BatchOwner();
    await sleep(150); // parsing and transfer took a while
    batcher.append(chunk(10), owner);
    batcher.ended(owner);
    await owner.settled();
    const elapsed = flushes[0]!.at - owner.startedAt;
    assert.ok(elapsed >= 395 && elapsed < 530, `flushed ${elapsed} ms after the request began`);
  });

  it('flushes a waiting request early by the time commits take, so it is answered within maxAgeMs', async () => {
    const { batcher, flushes } = recorder(1000, 600, 200);
    const first = new BatchOwner();
    batcher.append(chunk(10), first);
    batcher.ended(first);
    await first.settled(); // flushed at 600 ms, committed 200 ms later
    const second = new BatchOwner();
    batcher.append(chunk(10), second);
    batcher.ended(second);
    await second.settled();
    const answeredAfter = Date.now() - second.startedAt;
    const flushedAfter = flushes[1]!.at - second.startedAt;
    assert.ok(flushedAfter >= 390 && flushedAfter < 560, `flushed ${flushedAfter} ms after the request began`);
    assert.ok(answeredAfter < 760, `answered ${answeredAfter} ms after the request began`);
  });
});
