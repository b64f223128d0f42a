/**
 * Resuming a keyed request: the lines an earlier attempt stored are skipped (checked, counted, not stored
 * again), and every chunk says which lines it covers, whatever the pieces the body arrives in.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Column } from '@sluice/shared';
import { parse } from '../../test/parse-helpers';

const columns: Column[] = [
  { name: 'id', type: 'int64', nullable: false },
  { name: 'name', type: 'string', nullable: true },
];

function csvBody(ids: (number | string)[]): string {
  return `id,name\n${ids.map((id) => `${id},"n ${id}"`).join('\n')}\n`;
}

function ndjsonBody(ids: (number | string)[]): string {
  return ids.map((id) => (typeof id === 'number' ? JSON.stringify({ id, name: `n ${id}` }) : `{"id":"${id}"}`)).join('\n') + '\n';
}

// Row i (1..20) is on line i + 1 in CSV (after the header) and line i in NDJSON; id 7 is bad.
const ids: (number | string)[] = Array.from({ length: 20 }, (_, i) => (i + 1 === 7 ? 'seven' : i + 1));
const bodies = {
  csv: { body: csvBody(ids), lineOf: (id: number) => id + 1 },
  ndjson: { body: ndjsonBody(ids), lineOf: (id: number) => id },
};

describe('skipLines and chunk line spans', () => {
  for (const format of ['csv', 'ndjson'] as const) {
    const { body, lineOf } = bodies[format];

    it(`${format}: chunks tile the body's lines, whatever the piece size`, () => {
      for (const piece of [1, 7, 1 << 16]) {
        const { chunks, accepted, rejected } = parse(format, body, columns, { chunkRows: 4 }, piece);
        assert.equal(accepted, 19);
        assert.equal(rejected, 1);
        const spans = chunks.map((chunk) => [chunk.fromLine, chunk.toLine]);
        // CSV's first chunk starts at line 1 (the header); the bad row (id 7) lies inside the second span.
        assert.deepEqual(spans, [
          [1, lineOf(4)],
          [lineOf(4) + 1, lineOf(9)],
          [lineOf(9) + 1, lineOf(13)],
          [lineOf(13) + 1, lineOf(17)],
          [lineOf(17) + 1, lineOf(20)],
        ]);
      }
    });

    it(`${format}: skips the rows of the lines given, still checking and counting them`, () => {
      const skipLines: [number, number][] = [
        [1, lineOf(9)],
        [lineOf(15), lineOf(16)],
      ];
      for (const piece of [1, 5, 1 << 16]) {
        const { rows, chunks, accepted, rejected, errors } = parse(format, body, columns, { chunkRows: 4, skipLines }, piece);
        assert.deepEqual(
          rows.map((row) => Number(row.id)),
          [10, 11, 12, 13, 14, 17, 18, 19, 20],
        );
        assert.equal(accepted, 19, 'skipped rows count as accepted: they are stored');
        assert.equal(rejected, 1);
        assert.equal(errors[0]?.line, lineOf(7), 'a bad row in skipped lines is reported again');
        const stored = new Set<number>();
        for (const chunk of chunks) for (let line = chunk.fromLine; line <= chunk.toLine; line++) stored.add(line);
        for (let id = 10; id <= 20; id++) assert.ok(stored.has(lineOf(id)), `line of row ${id} is in a chunk's span`);
      }
    });
  }
});
