import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Column } from '@sluice/shared';
import { parse, parseOptions, parseWith, valuesOf } from '../../test/parse-helpers';
import { NdjsonParser } from './ndjson-parser';
import { BodyError } from './record-sink';

const columns: Column[] = [
  { name: 'id', type: 'int64', nullable: false },
  { name: 'name', type: 'string', nullable: true },
  { name: 'ok', type: 'boolean', nullable: true },
  { name: 'at', type: 'timestamp', nullable: true },
  { name: 'score', type: 'float64', nullable: true },
];

describe('NdjsonParser', () => {
  it('reads only the keys a line has: columns named __proto__, constructor and toString are not inherited', () => {
    const poisoned: Column[] = [
      { name: 'id', type: 'int64', nullable: false },
      { name: '__proto__', type: 'string', nullable: true },
      { name: 'constructor', type: 'int32', nullable: true },
      { name: 'toString', type: 'boolean', nullable: true },
    ];
    // A nested value sends every line down the general path (JSON.parse), where keys are looked up.
    const body = [
      '{"id":1,"extra":{"n":1}}',
      '{"id":2,"__proto__":"p","constructor":7,"toString":true,"extra":{"n":1}}',
      '{"id":3,"toString":null,"extra":{"n":1}}',
    ].join('\n');
    const result = parse('ndjson', body, poisoned);
    assert.deepEqual(result.errors, []);
    assert.deepEqual(valuesOf(poisoned, result.chunks), [
      [1n, null, null, null],
      [2n, 'p', 7, true],
      [3n, null, null, null],
    ]);
  });

  it('maps keys to columns at every chunk boundary and ignores blank lines', () => {
    const body = [
      '{"id":1,"name":"Zoë","ok":true,"at":"2024-01-02T03:04:05Z","score":1.5}',
      '',
      '  {"id":"2","ok":"no","at":1700000000,"extra":{"x":1}}',
      '{"id":3,"name":{"nested":[1,2]},"score":"2.5","at":null}\r',
    ].join('\n');
    for (const piece of [1, 5, 1 << 16]) {
      const result = parse('ndjson', body, columns, {}, piece);
      assert.deepEqual(
        result.rows,
        [
          { id: 1n, name: 'Zoë', ok: true, at: Date.UTC(2024, 0, 2, 3, 4, 5), score: 1.5 },
          { id: 2n, name: null, ok: false, at: 1_700_000_000_000, score: null },
          { id: 3n, name: '{"nested":[1,2]}', ok: null, at: null, score: 2.5 },
        ],
        `piece size ${piece}`,
      );
      assert.deepEqual(result.errors, []);
    }
  });

  it('rejects bad lines with their line number and keeps the rest', () => {
    const body = [
      '{"id":1}',
      '{"id":2,',
      '[1,2]',
      '{"name":"no id"}',
      '{"id":1.5}',
      '{"id":5,"ok":"maybe"}',
      '{"id":6,"at":"soon"}',
      '{"id":7}',
    ].join('\n');
    const result = parse('ndjson', body, columns, {}, 3);
    assert.deepEqual(
      result.rows.map((r) => r.id),
      [1n, 7n],
    );
    assert.deepEqual(
      result.errors.map((e) => [e.line, e.column, e.code]),
      [
        [2, null, 'row.invalid_json'],
        [3, null, 'row.invalid_json'],
        [4, 'id', 'row.missing_column'],
        [5, 'id', 'row.invalid_value'],
        [6, 'ok', 'row.invalid_value'],
        [7, 'at', 'row.invalid_value'],
      ],
    );
  });

  it('rejects unknown keys when the stream says so', () => {
    const result = parse('ndjson', '{"id":1,"nope":2}\n{"id":2}\n', columns, { unknownColumns: 'reject' });
    assert.deepEqual(
      result.errors.map((e) => [e.line, e.column, e.code]),
      [[1, 'nope', 'row.unknown_column']],
    );
    assert.equal(result.accepted, 1);
  });

  it('enforces MAX_LINE_BYTES at its edge without holding the long line', () => {
    const exact = `{"id":1,"name":"${'a'.repeat(11)}"}`; // 29 bytes + LF = 30
    const over = `{"id":2,"name":"${'b'.repeat(12)}"}`; // 31 with LF
    const huge = `{"id":3,"name":"${'c'.repeat(500)}"}`;
    for (const piece of [1, 8, 1 << 16]) {
      const result = parse('ndjson', `${exact}\n${over}\n${huge}\n{"id":4}\n`, columns, { maxLineBytes: 30 }, piece);
      assert.deepEqual(
        result.rows.map((r) => r.id),
        [1n, 4n],
        `piece size ${piece}`,
      );
      assert.deepEqual(
        result.errors.map((e) => [e.line, e.code]),
        [
          [2, 'row.line_too_long'],
          [3, 'row.line_too_long'],
        ],
        `piece size ${piece}`,
      );
    }
  });

  it('keeps lines far longer than a piece whole, however many pieces they span', () => {
    // 300 KiB lines: the held part outgrows the carry buffer's first size and its slack.
    const names = ['a'.repeat(300_000), 'b'.repeat(310_000)];
    const body = `{"id":1}\n${names.map((name, i) => `{"id":${i + 2},"name":"${name}"}`).join('\n')}\n{"id":4}`;
    for (const piece of [1 << 16, 100_003]) {
      const result = parse('ndjson', body, columns, {}, piece);
      assert.deepEqual(
        result.rows.map((r) => [r.id, r.name]),
        [
          [1n, null],
          [2n, names[0]],
          [3n, names[1]],
          [4n, null],
        ],
        `piece size ${piece}`,
      );
      assert.deepEqual(result.errors, []);
    }
  });

  it('rejects invalid UTF-8 lines', () => {
    const body = Buffer.concat([Buffer.from('{"id":1}\n{"id":2,"name":"'), Buffer.from([0xff]), Buffer.from('"}\n{"id":3}\n')]);
    const result = parse('ndjson', body, columns);
    assert.deepEqual(
      result.rows.map((r) => r.id),
      [1n, 3n],
    );
    assert.deepEqual(
      result.errors.map((e) => [e.line, e.code]),
      [[2, 'row.invalid_utf8']],
    );
  });

  it('skips a UTF-8 BOM at the start of the body only', () => {
    for (const piece of [1, 2, 1 << 16]) {
      const result = parse('ndjson', '\uFEFF{"id":1}\n\uFEFF{"id":2}\n{"id":3}', columns, {}, piece);
      assert.deepEqual(
        result.rows.map((r) => r.id),
        [1n, 3n],
        `piece size ${piece}`,
      );
      assert.deepEqual(
        result.errors.map((e) => [e.line, e.code]),
        [[2, 'row.invalid_json']],
        `piece size ${piece}`,
      );
    }
  });

  it('refuses an empty body', () => {
    assert.throws(() => parse('ndjson', '\n\n', columns), BodyError);
  });

  it('reads every line the same on the fast path as through JSON.parse', () => {
    const typed: Column[] = [
      { name: 'id', type: 'int64', nullable: false },
      { name: 'n', type: 'int32', nullable: true },
      { name: 's', type: 'string', nullable: true },
      { name: 'f', type: 'float64', nullable: true },
      { name: 'b', type: 'boolean', nullable: true },
      { name: 't', type: 'timestamp', nullable: true },
      { name: 'd', type: 'date', nullable: true },
    ];
    const values: Record<string, string[]> = {
      n: ['1', '-0', '2147483647', '2147483648', '-2147483649', '1.0', '1e3', '"42"', '" 7 "', '""', 'null', 'true', '[1]', '01'],
      s: [
        '"plain"',
        '"Zoë ☃"',
        '"a\\"b"',
        '"tab\\there"',
        '"\\u00e9"',
        '"\\ud800"',
        '""',
        '1.50',
        '-0',
        'true',
        'false',
        'null',
        '{"x":[1, 2]}',
        '"bad\\q"',
      ],
      f: ['1.5', '-0', '0.1', '1e999', '-1e-320', '123456789012345678', '"2.5"', '"NaN"', '"1e5"', '1.', '.5', '-', 'nul', '""'],
      b: ['true', 'false', '1', '0', '2', '"YES"', '"n"', '"maybe"', 'null', 'tru'],
      t: ['1700000000', '1700000000123', '1.5', '"2024-01-02T03:04:05+01:00"', '"2024-01-02"', '"soon"', '-1', '1e20', '"1700000000"'],
      d: ['"2024-02-29"', '""', 'null', '"2023-02-29"', '20240101'],
      id: ['1', '9007199254740993', '"9223372036854775807"', '-5', '1.5', 'null', '"x"'],
    };
    // Strings read four bytes at a time: a quote, an escape or a raw control character (not JSON) at every
    // offset within a word, and multi-byte text of every length up to two words.
    for (let k = 0; k < 9; k++) {
      const before = 'abcdefghi'.slice(0, k);
      values.s!.push(`"${before}\\"q"`, `"${before}\\\\"`, `"${before}\tx"`, `"${before}\rx"`, `"${'é'.repeat(k)}"`);
    }
    // Mostly one of the first three values of each list (valid ones), sometimes any.
    const pick = (list: string[]) => list[next(4) === 0 ? next(list.length) : next(3)]!;
    const lines: string[] = [];
    let seed = 7;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return (seed >>> 16) % n;
    };
    for (let i = 0; i < 3000; i++) {
      const keys = Object.keys(values).filter(() => next(5) > 0);
      if (next(4) === 0) keys.reverse();
      const pairs = keys.map((key) => `"${key}":${pick(values[key]!)}`);
      if (next(10) === 0) pairs.push('"extra":{"deep":1}');
      if (next(10) === 0) pairs.push('"extra2":"ignored"');
      if (next(20) === 0) pairs.push(pairs[0] ?? '"id":3');
      const sep = next(6) === 0 ? ' , ' : ',';
      lines.push(next(8) === 0 ? ` { ${pairs.join(sep)} } ` : `{${pairs.join(sep)}}`);
      if (next(30) === 0) lines.push(next(2) === 0 ? '' : ' \t');
      if (next(10) === 0) lines[lines.length - 1] += '\r';
    }
    // Numbers at the edges of the one-pass reading, each on an otherwise valid line.
    for (const pair of [
      '"n":01',
      '"id":01',
      '"n":1.5',
      '"n":2.0',
      '"n":1E2',
      '"n":-2147483649',
      '"f":1e5',
      '"f":1.',
      '"f":-0.5',
      '"f":0.1234567890123456',
      '"t":1700000000.5',
      '"t":-0',
    ]) {
      lines.push(pair.startsWith('"id"') ? `{${pair}}` : `{"id":1,${pair}}`);
    }
    lines.push('{}', '{"id":1,}', '{"id":1 "n":2}', '{"id":1}}', '{"id" : 2 }', '{"i\\u0064":3}', '[{"id":1}]', 'true', '{"id":1} x');
    const body = `${lines.join('\n')}\n{"id":4}`;
    for (const unknownColumns of ['ignore', 'reject'] as const) {
      for (const [piece, maxLineBytes] of [
        [4096, 1 << 20],
        [7, 1 << 20],
        [4096, 90],
      ] as const) {
        const options = parseOptions(typed, { unknownColumns, maxLineBytes, maxReportedErrors: 10_000 });
        const fast = parseWith(new NdjsonParser(options), body, typed, piece);
        const slow = parseWith(new NdjsonParser(options, false), body, typed, piece);
        const label = `${unknownColumns}, pieces of ${piece}, lines up to ${maxLineBytes} bytes`;
        assert.ok(fast.accepted > 500 && slow.rejected > 500, `a mix of accepted (${fast.accepted}) and rejected rows: ${label}`);
        assert.deepEqual(fast.errors, slow.errors, label);
        assert.deepEqual(fast.rows, slow.rows, label);
        assert.equal(fast.accepted, slow.accepted, label);
      }
    }
  });
});
