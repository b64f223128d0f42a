import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkAdditiveChange, validateStreamSchema, type StreamSchema } from './schema';

describe('validateStreamSchema', () => {
  it('accepts every column type and defaults nullable to true', () => {
    const result = validateStreamSchema({
      columns: [
        { name: 'id', type: 'int64', nullable: false },
        { name: 'name', type: 'string' },
        { name: 'n32', type: 'int32' },
        { name: 'price', type: 'float64' },
        { name: 'ok', type: 'boolean' },
        { name: 'at', type: 'timestamp' },
        { name: 'day', type: 'date' },
      ],
    });
    assert.equal(result.ok, true);
    assert.ok(result.ok);
    assert.deepEqual(
      result.schema.columns.map((c) => c.nullable),
      [false, true, true, true, true, true, true],
    );
  });

  it('rejects an empty column list', () => {
    const result = validateStreamSchema({ columns: [] });
    assert.deepEqual(result, { ok: false, issues: ['columns: a schema needs at least one column'] });
  });

  it('names the column with an unknown type', () => {
    const result = validateStreamSchema({ columns: [{ name: 'a', type: 'decimal' }] });
    assert.equal(result.ok, false);
    assert.ok(!result.ok);
    assert.match(result.issues[0] ?? '', /^columns\[0\]\.type: column type must be one of string, int32/);
  });

  it('rejects names that are not identifiers', () => {
    for (const name of ['', '1abc', 'has space', 'dash-ed', 'x'.repeat(64)]) {
      const result = validateStreamSchema({ columns: [{ name, type: 'string' }] });
      assert.equal(result.ok, false, `"${name}" should be rejected`);
    }
  });

  it('reserves the _sluice prefix (any case) for the columns Sluice adds, and takes names that only resemble it', () => {
    for (const name of ['_sluice_file', '_sluice', '_SLUICE_x']) {
      const result = validateStreamSchema({ columns: [{ name, type: 'string' }] });
      assert.equal(result.ok, false, `"${name}" should be rejected`);
      assert.match(JSON.stringify(result), /reserved/);
    }
    for (const name of ['sluice_file', '_sluic', 'x_sluice']) {
      assert.equal(validateStreamSchema({ columns: [{ name, type: 'string' }] }).ok, true, `"${name}" should be taken`);
    }
  });

  it('reserves dt and hour (any case), the partition columns of the lake', () => {
    for (const name of ['dt', 'hour', 'DT', 'Hour']) {
      const result = validateStreamSchema({ columns: [{ name, type: 'string' }] });
      assert.equal(result.ok, false, `"${name}" should be rejected`);
      assert.match(JSON.stringify(result), /partitions/);
    }
    for (const name of ['dt2', 'hours', 'event_dt']) {
      assert.equal(validateStreamSchema({ columns: [{ name, type: 'string' }] }).ok, true, `"${name}" should be taken`);
    }
  });

  it('rejects duplicate names, case-insensitively, and says which', () => {
    const result = validateStreamSchema({
      columns: [
        { name: 'id', type: 'int32' },
        { name: 'ID', type: 'string' },
      ],
    });
    assert.deepEqual(result, {
      ok: false,
      issues: ['columns[1].name: duplicate column name "ID" (same as column 1, names are case-insensitive)'],
    });
  });

  it('rejects input that is not an object', () => {
    assert.equal(validateStreamSchema(null).ok, false);
    assert.equal(validateStreamSchema({ columns: 'id' }).ok, false);
  });
});

describe('checkAdditiveChange', () => {
  const v1: StreamSchema = { columns: [{ name: 'id', type: 'int64', nullable: false }] };

  it('allows appending nullable columns', () => {
    assert.deepEqual(checkAdditiveChange(v1, { columns: [...v1.columns, { name: 'note', type: 'string', nullable: true }] }), []);
  });

  it('refuses removals, renames, type and nullability changes, required additions and no-ops', () => {
    assert.deepEqual(checkAdditiveChange(v1, { columns: [{ name: 'x', type: 'int64', nullable: true }] }), [
      'column 1 must stay "id" (found "x")',
    ]);
    assert.deepEqual(checkAdditiveChange(v1, { columns: [{ name: 'id', type: 'string', nullable: false }] }), [
      'column "id" cannot change type from int64 to string',
    ]);
    assert.deepEqual(checkAdditiveChange(v1, { columns: [{ name: 'id', type: 'int64', nullable: true }] }), [
      'column "id" cannot change nullability',
    ]);
    assert.deepEqual(checkAdditiveChange(v1, { columns: [...v1.columns, { name: 'n', type: 'int32', nullable: false }] }), [
      'new column "n" must be nullable',
    ]);
    assert.deepEqual(checkAdditiveChange(v1, v1), ['the new version adds no column']);
    assert.deepEqual(checkAdditiveChange({ columns: [...v1.columns, { name: 'a', type: 'string', nullable: true }] }, v1), [
      'columns cannot be removed',
    ]);
  });
});
