/** Admission on its own: each refusal at its edge, with its reason counted and Retry-After set. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SluiceError } from '@sluice/shared';
import { Admission, type RefusalReason } from './admission';
import { ByteBudget } from './byte-budget';

function setup(overrides: { draining?: boolean } = {}) {
  const budget = new ByteBudget({ max: 100, highWater: 80 });
  const refused: RefusalReason[] = [];
  const admission = new Admission({
    budget,
    maxRequests: 3,
    maxRequestsPerHolder: 2,
    retryAfterSeconds: 7,
    draining: () => overrides.draining ?? false,
    onRefused: (reason) => refused.push(reason),
  });
  return { budget, admission, refused };
}

function refusal(attempt: () => unknown): SluiceError {
  try {
    attempt();
  } catch (error) {
    assert.ok(error instanceof SluiceError);
    return error;
  }
  assert.fail('admitted');
}

describe('Admission', () => {
  it('takes up to the per-holder and total caps, refuses the next, and takes again once one leaves', () => {
    const { admission, refused } = setup();
    const a1 = admission.admit('a');
    admission.admit('a');
    const third = refusal(() => admission.admit('a'));
    assert.equal(third.code, 'ingest.too_many_requests');
    assert.equal(third.status, 429);
    assert.equal(third.headers['retry-after'], '7');
    admission.admit('b');
    assert.equal(refusal(() => admission.admit('c')).code, 'ingest.too_many_requests', 'the fourth in all');
    a1.leave();
    a1.leave(); // leaving twice counts once
    admission.admit('c');
    assert.equal(admission.inFlight, 3);
    assert.deepEqual(refused, ['too_many_requests', 'too_many_requests']);
  });

  it('refuses at the budget high-water mark and while shutting down', () => {
    const { admission, budget, refused } = setup();
    budget.take(79);
    admission.admit('a').leave();
    budget.take(1);
    assert.equal(refusal(() => admission.admit('a')).code, 'ingest.busy');
    const draining = setup({ draining: true });
    assert.equal(refusal(() => draining.admission.admit('a')).status, 503);
    assert.deepEqual([...refused, ...draining.refused], ['busy', 'shutting_down']);
  });
});
