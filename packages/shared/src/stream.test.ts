import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_BATCH, streamDefinitionSchema } from './stream';

describe('streamDefinitionSchema', () => {
  it('fills in documented defaults', () => {
    const stream = streamDefinitionSchema.parse({ name: 'events', schema: { columns: [{ name: 'a', type: 'string' }] } });
    assert.deepEqual(stream.batch, DEFAULT_BATCH);
    assert.equal(stream.rejectMode, 'skip');
    assert.equal(stream.unknownColumns, 'ignore');
    assert.equal(stream.delimiter, ',');
    assert.equal(stream.description, '');
    assert.deepEqual(stream.sinks, {});
  });

  it('rejects names that would be unsafe in object keys and URLs', () => {
    for (const name of ['Events', '9lives', 'a/b', 'a.b', '', 'x'.repeat(64)]) {
      const result = streamDefinitionSchema.safeParse({ name, schema: { columns: [{ name: 'a', type: 'string' }] } });
      assert.equal(result.success, false, `"${name}" should be rejected`);
    }
  });

  it('accepts the tab delimiter and the all-or-nothing policy', () => {
    const stream = streamDefinitionSchema.parse({
      name: 'tsv_feed',
      schema: { columns: [{ name: 'a', type: 'string' }] },
      delimiter: '\t',
      rejectMode: 'all-or-nothing',
    });
    assert.equal(stream.delimiter, '\t');
    assert.equal(stream.rejectMode, 'all-or-nothing');
  });
});
