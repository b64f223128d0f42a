/**
 * How the compactor cuts a partition's small files into files of COMPACTION_TARGET_BYTES, at the target's
 * edge, and how it merges their Delta statistics (bounds it cannot keep exactly are left out).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Column } from '@sluice/shared';
import { runsOf } from './compactor';
import { mergeFileStats } from './file-stats';

describe('runsOf', () => {
  const sizes = (bytes: number[]) => bytes.map((each, index) => ({ index, bytes: each }));
  const indexes = (runs: { index: number }[][]) => runs.map((run) => run.map((file) => file.index));

  it('fills a run up to the target exactly, starts the next past it, and leaves a run of one file alone', () => {
    // 40 + 60 is the target: one run; 1 + 50 + 50 would pass it by one byte: the last file starts a run of its own, left alone.
    assert.deepEqual(indexes(runsOf(sizes([40, 60, 1, 50, 50]), 100)), [
      [0, 1],
      [2, 3],
    ]);
    assert.deepEqual(indexes(runsOf(sizes([40, 61, 30, 30]), 100)), [[1, 2]]);
    assert.deepEqual(indexes(runsOf(sizes([100, 1]), 100)), []);
    assert.deepEqual(indexes(runsOf(sizes([]), 100)), []);
  });
});

describe('mergeFileStats', () => {
  const columns: Column[] = [
    { name: 'id', type: 'int64', nullable: false },
    { name: 'name', type: 'string', nullable: true },
    { name: 'at', type: 'timestamp', nullable: true },
  ];

  it('adds the counts, keeps the least minimum and the greatest maximum (strings as UTF-8 bytes)', () => {
    const merged = mergeFileStats(columns, [
      {
        rows: 2,
        stats:
          '{"numRecords":2,"minValues":{"id":5,"name":"b","at":"2026-12-02T10:00:00.000Z"},"maxValues":{"id":9,"name":"z","at":"2026-12-02T11:00:00.000Z"},"nullCount":{"id":0,"name":1,"at":0}}',
      },
      {
        rows: 3,
        stats:
          '{"numRecords":3,"minValues":{"id":1,"name":"a","at":"2026-12-02T09:00:00.000Z"},"maxValues":{"id":7,"name":"\uff5e","at":"2026-12-02T10:30:00.000Z"},"nullCount":{"id":0,"name":0,"at":2}}',
      },
    ]);
    assert.deepEqual(JSON.parse(merged), {
      numRecords: 5,
      minValues: { id: 1, name: 'a', at: '2026-12-02T09:00:00.000Z' },
      maxValues: { id: 9, name: '\uff5e', at: '2026-12-02T11:00:00.000Z' },
      nullCount: { id: 0, name: 1, at: 2 },
    });
  });

  it('leaves out the bounds of a column a file has none for, or that JSON cannot hold exactly, and counts a file with no statistics by its rows', () => {
    const merged = JSON.parse(
      mergeFileStats(columns, [
        {
          rows: 2,
          stats:
            '{"numRecords":2,"minValues":{"id":9007199254740993,"name":"a"},"maxValues":{"id":9007199254740995,"name":"b"},"nullCount":{"id":0,"name":0,"at":0}}',
        },
        { rows: 4, stats: null },
      ]),
    ) as { numRecords: number; minValues: object; maxValues: object; nullCount: object };
    assert.deepEqual(merged, { numRecords: 6, minValues: {}, maxValues: {}, nullCount: {} });
  });
});
