import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Grouped } from './key-ledger';

describe('grouped calls', () => {
  it('sends the first call at once and the calls made meanwhile together, each answered with its own result', async () => {
    const batches: number[][] = [];
    let release: () => void = () => {};
    const grouped = new Grouped<number, number>(async (inputs) => {
      batches.push(inputs);
      if (batches.length === 1) await new Promise<void>((resolve) => (release = resolve));
      return inputs.map((n) => n * 10);
    });
    const first = grouped.call(1);
    const rest = [2, 3, 4].map((n) => grouped.call(n));
    assert.deepEqual(batches, [[1]], 'the first went out alone, without waiting');
    release();
    assert.deepEqual(await Promise.all([first, ...rest]), [10, 20, 30, 40]);
    assert.deepEqual(batches, [[1], [2, 3, 4]]);
  });

  it('a failed batch fails its own calls only; at most maxBatch calls go in one batch', async () => {
    const batches: string[][] = [];
    const grouped = new Grouped<string, string>(async (inputs) => {
      batches.push(inputs);
      if (inputs.includes('bad')) throw new Error('refused');
      return inputs.map((s) => s.toUpperCase());
    }, 2);
    const calls = ['bad', 'a', 'b', 'c'].map((s) => grouped.call(s));
    const settled = await Promise.allSettled(calls);
    assert.deepEqual(
      settled.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)),
      ['refused', 'A', 'B', 'C'],
    );
    assert.deepEqual(batches, [['bad'], ['a', 'b'], ['c']]);
  });
});
