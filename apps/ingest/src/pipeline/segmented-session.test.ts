/**
 * An NDJSON body parsed by two workers at once gives what one worker gives: the same rows in the same
 * order, the same rejected rows with the same line numbers, and chunks whose line spans tile the body.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Column } from '@sluice/shared';
import { parseOptions, rowsOf } from '../test/parse-helpers';
import type { ParsedChunk } from './parse/columns';
import type { RowError } from './parse/record-sink';
import { BodyParseError, type BodyParse } from './parse-session';
import { SegmentedSession } from './segmented-session';
import { WorkerPool } from './worker-pool';

const columns: Column[] = [
  { name: 'id', type: 'int64', nullable: false },
  { name: 'text', type: 'string', nullable: true },
];

/** ~5 MB: rows, a bad row every 997 lines, blank lines, a BOM first, and no line feed at the end. */
function body(rows: number): Uint8Array {
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) {
    if (i % 997 === 5) lines.push(`{"id":"not a number ${i}"}`);
    else if (i % 1009 === 7) lines.push('');
    else lines.push(JSON.stringify({ id: i, text: `row ${i} ${'x'.repeat(i % 90)}` }));
  }
  const text = new TextEncoder().encode(lines.join('\n'));
  const bytes = new Uint8Array(text.length + 3);
  bytes.set([0xef, 0xbb, 0xbf]);
  bytes.set(text, 3);
  return bytes;
}

async function run(parse: BodyParse, bytes: Uint8Array, block: number) {
  for (let at = 0; at < bytes.length; at += block) await parse.write(bytes.slice(at, at + block));
  return parse.end();
}

describe('SegmentedSession', () => {
  const pool = new WorkerPool(2);
  const alive = setInterval(() => {}, 1000);
  after(async () => {
    clearInterval(alive);
    await pool.close();
  });

  it('parses one NDJSON body on two workers as one worker does', { timeout: 60_000 }, async () => {
    await pool.ready();
    const bytes = body(60_000);
    const collect = () => {
      const out = { chunks: [] as ParsedChunk[], errors: [] as RowError[], parsed: 0 };
      return {
        out,
        handlers: {
          onRows: (chunks: ParsedChunk[], errors: RowError[]) => {
            out.chunks.push(...chunks);
            out.errors.push(...errors);
          },
          onBodyParsed: (n: number) => (out.parsed += n),
        },
      };
    };
    const options = parseOptions(columns, { chunkRows: 4096, maxReportedErrors: 1000 });
    const { out: one, handlers: oneHandlers } = collect();
    const single = await run(pool.openSession('ndjson', options, oneHandlers), bytes, 1 << 20);
    const { out: two, handlers: twoHandlers } = collect();
    const parts = new SegmentedSession(
      (o, h) => pool.openSession('ndjson', o, h, Number.POSITIVE_INFINITY),
      options,
      twoHandlers,
      256 * 1024,
      1 << 20,
    );
    const split = await run(parts, bytes, 100_000);

    assert.deepEqual([split.accepted, split.rejected, split.lines], [single.accepted, single.rejected, single.lines]);
    assert.ok(single.rejected > 50);
    assert.deepEqual(two.errors, one.errors, 'the same rejected rows, lines counted from the body start');
    assert.deepEqual(rowsOf(columns, two.chunks), rowsOf(columns, one.chunks), 'the same rows in the same order');
    assert.equal(two.parsed, bytes.length, 'every body byte counted as parsed');
    assert.ok(two.chunks.length > one.chunks.length, 'it was cut into parts');
    // Spans tile the body: each chunk starts after the one before and ends at its last row's line.
    let next = 1;
    for (const chunk of two.chunks) {
      assert.equal(chunk.fromLine, next);
      assert.ok(chunk.toLine >= chunk.fromLine);
      next = chunk.toLine + 1;
    }
  });

  it('an empty body is an empty body however many parts it is cut into', async () => {
    const blank = new Uint8Array(600_000).fill(0x0a);
    const parts = new SegmentedSession(
      (o, h) => pool.openSession('ndjson', o, h, Number.POSITIVE_INFINITY),
      parseOptions(columns),
      { onRows: () => {}, onBodyParsed: () => {} },
      100_000,
      1 << 20,
    );
    const failure = await run(parts, blank, 65_536).then(
      () => null,
      (error: Error) => error,
    );
    assert.ok(failure instanceof BodyParseError);
    assert.match(failure.message, /empty/);
  });
});
