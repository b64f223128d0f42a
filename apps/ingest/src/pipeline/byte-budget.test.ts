import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ByteBudget } from './byte-budget';

describe('ByteBudget', () => {
  it('holds rows up to half the budget, and never makes a request wait for held rows alone', async () => {
    let pressure = 0;
    const budget = new ByteBudget({ max: 100, highWater: 80, onPressure: () => pressure++ });
    assert.equal(budget.holdLimit, 50);
    assert.equal(budget.hold(30), true);
    assert.equal(budget.hold(20), true, 'up to the limit');
    assert.equal(budget.hold(1), false, 'past it: nothing counted');
    assert.deepEqual([budget.used, budget.held], [50, 50]);

    // 60 more do not fit, but only held rows are in the budget: waiting could not help.
    await budget.reserve(60);
    assert.equal(budget.used, 110);

    // With drainable bytes in the budget, a request waits for them, and asks for a flush.
    assert.equal(pressure, 0);
    let admitted = false;
    const waiting = budget.reserve(10).then(() => (admitted = true));
    await Promise.resolve();
    assert.equal(admitted, false);
    assert.ok(pressure > 0);
    budget.release(60);
    await waiting;
    assert.equal(budget.used, 60);

    // Held rows that go to a batch become drainable; dropped ones are released too.
    budget.handOver(30);
    budget.releaseHeld(20);
    budget.release(40); // the 30 now in a batch, drained, and the 10 reserved above
    assert.deepEqual([budget.used, budget.held], [0, 0]);
  });

  it("resizes a batch's bytes to its file's, and reports every change", () => {
    const seen: number[] = [];
    const budget = new ByteBudget({ max: 100, highWater: 80, onChange: (used) => seen.push(used) });
    budget.take(40);
    budget.resize(40, 15);
    budget.release(15);
    assert.deepEqual(seen, [40, 15, 0]);
    assert.equal(budget.admits(), true);
  });
});
