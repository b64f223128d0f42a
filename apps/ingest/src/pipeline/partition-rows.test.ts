/**
 * Splitting a batch by event time: each row in the partition of its own time, the first and last instants
 * a `dt=` folder can name kept, null and out-of-range times placed by ingest time and counted, every
 * column's values (strings, booleans, nulls) carried over as they were; a chunk whose rows share one
 * partition is passed on as it is.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Column } from '@sluice/shared';
import { Table } from 'apache-arrow';
import { parse } from '../test/parse-helpers';
import { toRecordBatches } from './arrow-batch';
import { splitByPartition } from './partition-rows';

const COLUMNS: Column[] = [
  { name: 'id', type: 'int64', nullable: false },
  { name: 'name', type: 'string', nullable: true },
  { name: 'ok', type: 'boolean', nullable: true },
  { name: 'at', type: 'timestamp', nullable: true },
  { name: 'amount', type: 'float64', nullable: true },
];

/** id, name, ok, at (text as sent), amount; and the partition each row belongs in. */
const ROWS: [number, string, string, string, string, string][] = [
  [1, 'ann', 'true', '2026-12-02T10:15:00Z', '1.5', 'dt=2026-12-02/hour=10'],
  [2, '', 'false', '2026-12-02T10:59:59.999999Z', '', 'dt=2026-12-02/hour=10'],
  [3, 'cy, quoted', '', '2026-12-02T11:00:00Z', '3', 'dt=2026-12-02/hour=11'],
  [4, 'dee', 'true', '', '4', 'dt=2026-12-02/hour=12'],
  // The last instant a dt= folder can name, and one before the first (year 0); the first is row 9.
  [5, 'eve', 'false', '9999-12-31T23:59:59Z', '5', 'dt=9999-12-31/hour=23'],
  [6, 'fay', 'true', '0000-12-31T23:59:59Z', '6', 'dt=2026-12-02/hour=12'],
  [7, 'gus', '', '2026-12-02T11:30:00Z', '7', 'dt=2026-12-02/hour=11'],
  [8, 'hal', 'true', '2026-12-02T11:45:00Z', '8', 'dt=2026-12-02/hour=11'],
  [9, 'ida', 'false', '0001-01-01T00:00:00Z', '9', 'dt=0001-01-01/hour=00'],
];
const INGEST_AT = Date.UTC(2026, 11, 2, 12, 30);

function csv(rows: typeof ROWS): string {
  const field = (text: string) => (text.includes(',') ? `"${text}"` : text);
  return `id,name,ok,at,amount\n${rows.map(([id, name, ok, at, amount]) => [id, field(name), ok, at, amount].join(',')).join('\n')}\n`;
}

describe('splitByPartition', () => {
  it('puts each row in the partition of its own time, with every value as it was', () => {
    // Chunks of two rows: rows 7 and 8 (the fourth chunk) share one partition, so their chunk is passed on uncopied.
    const { chunks, errors } = parse('csv', csv(ROWS), COLUMNS, { chunkRows: 2 });
    assert.deepEqual(errors, []);
    const { parts, fallback } = splitByPartition(chunks, { column: 3, type: 'timestamp', granularity: 'hour' }, INGEST_AT);
    assert.equal(fallback, 2, 'the null time and the one in year 0');
    const expected = new Map<string, number[]>();
    for (const [id, , , , , partition] of ROWS) expected.set(partition, [...(expected.get(partition) ?? []), id]);
    assert.deepEqual(
      parts.map((part) => [part.partition, part.rows]),
      [...expected].map(([partition, ids]) => [partition, ids.length]),
    );
    assert.ok(
      parts.some((part) => part.chunks.includes(chunks[3]!)),
      'the chunk of rows 7 and 8 is not copied',
    );

    for (const part of parts) {
      const table = new Table(toRecordBatches({ columns: COLUMNS }, part.chunks).batches);
      const got = table.toArray().map((row) => {
        const value = row.toJSON() as { id: bigint; name: string | null; ok: boolean | null; amount: number | null };
        return [Number(value.id), value.name, value.ok, value.amount];
      });
      const want = ROWS.filter((row) => row[5] === part.partition).map(([id, name, ok, , amount]) => [
        id,
        name === '' ? null : name,
        ok === '' ? null : ok === 'true',
        amount === '' ? null : Number(amount),
      ]);
      assert.deepEqual(got, want, part.partition);
    }
  });

  it('by day, a date column: one partition per date, no hour', () => {
    const columns: Column[] = [
      { name: 'id', type: 'int64', nullable: false },
      { name: 'day', type: 'date', nullable: true },
    ];
    const { chunks } = parse('csv', 'id,day\n1,2024-02-29\n2,\n3,2024-03-01\n4,2024-02-29\n', columns);
    const { parts, fallback } = splitByPartition(chunks, { column: 1, type: 'date', granularity: 'day' }, INGEST_AT);
    assert.equal(fallback, 1);
    assert.deepEqual(
      parts.map((part) => [part.partition, part.rows]),
      [
        ['dt=2024-02-29', 2],
        ['dt=2026-12-02', 1],
        ['dt=2024-03-01', 1],
      ],
    );
  });
});
