import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inferSchema } from './infer';

describe('inferSchema', () => {
  it('infers the narrowest type per CSV column and nullability from empty fields', () => {
    const sample =
      'id,Big Number,price,ok,day,at,name\n1,3000000000,1.5,true,2024-01-01,2024-01-01T00:00:00Z,"a, b"\n2,4,2,no,2024-01-02,2024-01-02 10:00,\n3,5';
    const result = inferSchema(sample, 'csv');
    assert.deepEqual(result.columns, [
      { name: 'id', type: 'int32', nullable: false },
      { name: 'Big_Number', type: 'int64', nullable: false },
      { name: 'price', type: 'float64', nullable: false },
      { name: 'ok', type: 'boolean', nullable: false },
      { name: 'day', type: 'date', nullable: false },
      { name: 'at', type: 'timestamp', nullable: false },
      { name: 'name', type: 'string', nullable: true },
    ]);
    assert.equal(result.sampledRows, 2, 'the cut last line is not sampled');
  });

  it('infers from NDJSON keys, widening mixed values', () => {
    const sample = '{"id":1,"v":1,"tags":["a"]}\n{"id":2,"v":2.5,"extra":null}\n{"id":3,';
    const result = inferSchema(sample, 'ndjson');
    assert.deepEqual(result.columns, [
      { name: 'id', type: 'int32', nullable: false },
      { name: 'v', type: 'float64', nullable: false },
      { name: 'tags', type: 'string', nullable: true },
      { name: 'extra', type: 'string', nullable: true },
    ]);
  });

  it('makes unusable header names into identifiers', () => {
    const result = inferSchema('1st,,a b,a_b\nx,y,z,w\n', 'csv');
    assert.deepEqual(
      result.columns.map((c) => c.name),
      ['c_1st', 'column_2', 'a_b', 'a_b_4'],
    );
  });
});
