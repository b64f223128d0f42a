import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Column } from '@sluice/shared';
import { parse, parseOptions, parseWith, rowsOf } from '../../test/parse-helpers';
import { CsvParser } from './csv-parser';
import { BodyError } from './record-sink';

const people: Column[] = [
  { name: 'id', type: 'int32', nullable: false },
  { name: 'name', type: 'string', nullable: true },
];

describe('CsvParser', () => {
  it('reads RFC 4180 quoting at every chunk boundary', () => {
    const body = 'id,name\r\n1,"comma, inside"\r\n2,"doubled ""quotes"""\r\n3,"new\r\nline"\r\n4,plain\r\n';
    for (const piece of [1, 2, 3, 5, 8, 13, 1 << 16]) {
      const result = parse('csv', body, people, {}, piece);
      assert.deepEqual(
        result.rows,
        [
          { id: 1, name: 'comma, inside' },
          { id: 2, name: 'doubled "quotes"' },
          { id: 3, name: 'new\r\nline' },
          { id: 4, name: 'plain' },
        ],
        `piece size ${piece}`,
      );
      assert.deepEqual(result.errors, []);
    }
  });

  it('counts the line breaks inside quoted fields in the line numbers it reports, at every chunk boundary', () => {
    const body = 'id,name\n1,"a\nb"\nx,"c\r\nd\ne"\n2,"f"\ny,g\n';
    for (const piece of [1, 2, 3, 5, 8, 1 << 16]) {
      const result = parse('csv', body, people, {}, piece);
      assert.deepEqual(
        result.rows,
        [
          { id: 1, name: 'a\nb' },
          { id: 2, name: 'f' },
        ],
        `piece size ${piece}`,
      );
      assert.deepEqual(
        result.errors.map((error) => [error.line, error.column]),
        [
          [4, 'id'],
          [8, 'id'],
        ],
        `piece size ${piece}`,
      );
    }
  });

  it('skips a UTF-8 BOM, accepts LF and a missing final newline, and keeps multi-byte text', () => {
    const result = parse('csv', '\uFEFFid,name\n1,Zoë\n2,東京', people, {}, 1);
    assert.deepEqual(result.rows, [
      { id: 1, name: 'Zoë' },
      { id: 2, name: '東京' },
    ]);
  });

  it('maps columns by header name, ignores unknown columns and fills absent nullable ones with null', () => {
    const columns: Column[] = [...people, { name: 'note', type: 'string', nullable: true }];
    const result = parse('csv', 'extra,name,id\nx,Ann,7\n', columns);
    assert.deepEqual(result.rows, [{ id: 7, name: 'Ann', note: null }]);
  });

  it('treats empty unquoted fields as null, and "" as an empty string only in string columns', () => {
    const columns: Column[] = [
      { name: 's', type: 'string', nullable: true },
      { name: 'n', type: 'int32', nullable: true },
    ];
    const result = parse('csv', 's,n\n,\n"",""\n', columns);
    assert.deepEqual(result.rows, [
      { s: null, n: null },
      { s: '', n: null },
    ]);
  });

  it('ignores blank lines but counts them in line numbers', () => {
    const result = parse('csv', 'id,name\n\n1,a\n\nx,b\n', people);
    assert.deepEqual(result.rows, [{ id: 1, name: 'a' }]);
    assert.equal(result.errors[0]?.line, 5);
  });

  it('rejects bad rows with their line, column and reason, and keeps their neighbours', () => {
    const body = [
      'id,name',
      '1,ok',
      '2,too,many',
      '3',
      '99999999999,big',
      ',missing id',
      '"4","after"quote',
      '5,"multi',
      'line"',
      'abc,not a number',
      '6,ok',
    ].join('\n');
    const result = parse('csv', body, people, {}, 3);
    assert.deepEqual(result.rows, [
      { id: 1, name: 'ok' },
      { id: 5, name: 'multi\nline' },
      { id: 6, name: 'ok' },
    ]);
    assert.deepEqual(
      result.errors.map((e) => [e.line, e.column, e.code]),
      [
        [3, null, 'row.field_count'],
        [4, null, 'row.field_count'],
        [5, 'id', 'row.invalid_value'],
        [6, 'id', 'row.missing_column'],
        [7, 'name', 'row.malformed_quote'],
        [10, 'id', 'row.invalid_value'],
      ],
    );
    assert.equal(result.errors[0]?.message, 'expected 2 fields as in the header, found 3');
    assert.equal(result.errors[2]?.message, '"99999999999" is not an integer between -2147483648 and 2147483647');
    assert.equal(result.accepted, 3);
    assert.equal(result.rejected, 6);
  });

  it('rejects a record that ends inside quotes at the end of the body, keeping the rows before it', () => {
    const result = parse('csv', 'id,name\n1,a\n2,"never closed\n3,c\n', people, {}, 4);
    assert.deepEqual(result.rows, [{ id: 1, name: 'a' }]);
    assert.deepEqual(
      result.errors.map((e) => [e.line, e.code]),
      [[3, 'row.unterminated_quote']],
    );
  });

  it('rejects lines that are not UTF-8 and keeps the others', () => {
    const body = Buffer.concat([Buffer.from('id,name\n1,a\n2,'), Buffer.from([0xc3, 0x28]), Buffer.from('\n3,c\n')]);
    const result = parse('csv', body, people);
    assert.deepEqual(result.rows, [
      { id: 1, name: 'a' },
      { id: 3, name: 'c' },
    ]);
    assert.deepEqual(
      result.errors.map((e) => [e.line, e.code]),
      [[3, 'row.invalid_utf8']],
    );
  });

  it('enforces MAX_LINE_BYTES at its edge, line break included, without holding the long line', () => {
    const limit = 32;
    const exact = `1,${'a'.repeat(limit - 3)}\n`; // 32 bytes with its LF
    const over = `2,${'b'.repeat(limit - 2)}\n`; // 33 bytes
    const huge = `3,"${'c'.repeat(limit * 10)}\n${'d'.repeat(limit * 10)}"\n`; // quoted newline inside
    for (const piece of [1, 7, 1 << 16]) {
      const result = parse('csv', `id,name\n${exact}${over}${huge}4,e\n`, people, { maxLineBytes: limit }, piece);
      assert.deepEqual(
        result.rows.map((r) => r.id),
        [1, 4],
        `piece size ${piece}`,
      );
      assert.deepEqual(
        result.errors.map((e) => [e.line, e.code]),
        [
          [3, 'row.line_too_long'],
          [4, 'row.line_too_long'],
        ],
        `piece size ${piece}`,
      );
    }
  });

  it('enforces MAX_FIELDS at its edge', () => {
    const columns: Column[] = [
      { name: 'a', type: 'string', nullable: true },
      { name: 'b', type: 'string', nullable: true },
      { name: 'c', type: 'string', nullable: true },
    ];
    const ok = parse('csv', 'a,b,c\n1,2,3\n', columns, { maxFields: 3 });
    assert.equal(ok.accepted, 1);
    const rows = parse('csv', 'a,b\n1,2,3,4\n', columns.slice(0, 2), { maxFields: 3 });
    assert.deepEqual(
      rows.errors.map((e) => e.code),
      ['row.field_count'],
    );
    assert.throws(() => parse('csv', 'a,b,c,d\n', columns, { maxFields: 3 }), /more than 3 fields/);
  });

  it('reports the first maxReportedErrors rejected rows and counts all of them', () => {
    const body = `id,name\n${Array.from({ length: 150 }, (_, i) => `bad${i},x`).join('\n')}\n1,ok\n`;
    const result = parse('csv', body, people, { maxReportedErrors: 100 }, 997);
    assert.equal(result.rejected, 150);
    assert.equal(result.errors.length, 100);
    assert.deepEqual([result.errors[0]?.line, result.errors[99]?.line], [2, 101]);
    assert.deepEqual(result.rows, [{ id: 1, name: 'ok' }]);
  });

  it('skips a BOM only at the start of the body', () => {
    const bom = '\uFEFF';
    // The last record, held until the end of the body, itself starts with U+FEFF.
    const result = parse('csv', `${bom}name,id\n${bom}x,1`, people, {}, 11);
    assert.equal(result.accepted, 1);
    // Raw bytes: a TextDecoder (as Arrow's reader uses) would hide a leading U+FEFF.
    const name = result.chunks[0]!.columns[1]!;
    assert.deepEqual([...name.values], [0xef, 0xbb, 0xbf, 0x78]);
  });

  it('uses the stream delimiter', () => {
    assert.deepEqual(parse('csv', 'id;name\n1;a,b\n', people, { delimiter: ';' }).rows, [{ id: 1, name: 'a,b' }]);
    assert.deepEqual(parse('csv', 'id\tname\n1\t"x\ty"\n', people, { delimiter: '\t' }).rows, [{ id: 1, name: 'x\ty' }]);
  });

  it('refuses bodies whose header is unusable', () => {
    const bodyError = (body: string, pattern: RegExp, options = {}) =>
      assert.throws(
        () => parse('csv', body, people, options),
        (error: unknown) => error instanceof BodyError && pattern.test(error.message),
      );
    bodyError('', /body is empty/);
    bodyError('id,name,id\n1,a,2\n', /names column "id" twice/);
    bodyError('name\na\n', /lacks required column "id"/);
    bodyError('id,name,extra\n1,a,b\n', /"extra", which is not in the stream's schema/, { unknownColumns: 'reject' });
  });

  it('accepts a header with no rows', () => {
    const result = parse('csv', 'id,name\n', people);
    assert.equal(result.accepted, 0);
    assert.deepEqual(result.errors, []);
  });

  it('copies what it keeps between pushes: a caller may reuse its buffer', () => {
    const body = Buffer.from(`id,name\n${Array.from({ length: 500 }, (_, i) => `${i},name number ${i}`).join('\n')}\n`);
    const parser = new CsvParser(parseOptions(people, { chunkRows: 1000 }));
    const reused = Buffer.alloc(37);
    for (let at = 0; at < body.length; at += reused.length) {
      const n = body.copy(reused, 0, at, at + reused.length);
      parser.push(reused.subarray(0, n));
      reused.fill(0x2c);
    }
    parser.end();
    assert.equal(parser.sink.rowsAccepted, 500);
    assert.equal(parser.sink.rowsRejected, 0);
    const rows = rowsOf(people, parser.sink.takeChunks());
    assert.deepEqual(rows[499], { id: 499, name: 'name number 499' });
  });

  it('keeps records far longer than a piece whole, however many pieces they span', () => {
    // 300 KiB fields: the held part outgrows the carry buffer's first size and its slack.
    const long = (c: string) => `${c.repeat(150_000)}, "quoted" ${c.repeat(150_000)}`;
    const body = `id,name\n1,short\n2,"${long('x').replace(/"/g, '""')}"\n3,"${long('y').replace(/"/g, '""')}"\n4,end\n`;
    for (const piece of [1 << 16, 100_003]) {
      const result = parse('csv', body, people, { chunkRows: 2 }, piece);
      assert.deepEqual(
        result.rows,
        [
          { id: 1, name: 'short' },
          { id: 2, name: long('x') },
          { id: 3, name: long('y') },
          { id: 4, name: 'end' },
        ],
        `piece size ${piece}`,
      );
    }
  });

  it('hands rows over in chunks of the configured size', () => {
    const body = `id,name\n${Array.from({ length: 10 }, (_, i) => `${i},n${i}`).join('\n')}\n`;
    const result = parse('csv', body, people, { chunkRows: 4 });
    assert.deepEqual(
      result.chunks.map((c) => c.rows),
      [4, 4, 2],
    );
    assert.deepEqual(
      result.rows.map((r) => r.id),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
  });

  it('reads every record the same on the fast path as on the general path', () => {
    const typed: Column[] = [
      { name: 'id', type: 'int64', nullable: false },
      { name: 'n', type: 'int32', nullable: true },
      { name: 's', type: 'string', nullable: true },
      { name: 'f', type: 'float64', nullable: true },
      { name: 'b', type: 'boolean', nullable: true },
      { name: 't', type: 'timestamp', nullable: true },
      { name: 'd', type: 'date', nullable: true },
      { name: 'code', type: 'string', nullable: false },
    ];
    // The first three of each list are valid and common; the rest are picked now and then.
    const values: Record<string, string[]> = {
      id: [
        '1',
        '-5',
        '123456789012345',
        '9007199254740993',
        '9223372036854775807',
        '99999999999999999999',
        ' 7',
        '+3',
        '1.5',
        '',
        'x',
        '"12"',
        '-',
        '0012',
      ],
      n: ['1', '-0', '2147483647', '2147483648', '-2147483649', '', '"42"', ' 7 ', '1e3', 'abc', '""', '-'],
      s: ['plain', '"a, b"', '"say ""hi"""', 'Zoë ☃', '""', '', '"multi\nline"', 'a"b', ' spaced ', '"x"y', '""""'],
      f: [
        '1.5',
        '-0',
        '0.1',
        '1e999',
        '-1e-320',
        '123456789012345678',
        '.5',
        '5.',
        'NaN',
        'inf',
        '',
        ' 2.5',
        '"3.5"',
        '1e5',
        '-',
        '12345678.9012345',
        '1234567890123456',
        '-.5',
        '00.5',
        '-12.50',
        '+1.5',
        '.',
        '1.5.5',
        '9.007199254740993',
        '90071992547409.93',
        '0.3000000000000001',
      ],
      b: ['true', 'FALSE', '1', '0', 'yes', 'N', 'maybe', '', ' t', '"true"', 'tru'],
      t: [
        '2024-01-02T03:04:05Z',
        '2024-01-02T03:04:05.123+01:00',
        '1700000000',
        '1700000000123',
        '2024-01-02',
        'soon',
        '',
        '2024-13-01T00:00:00Z',
        '"2024-01-02 03:04:05"',
        ' 1700000000',
      ],
      d: ['2024-02-29', '2024-01-01', '1999-12-31', '2023-02-29', '', '20240101', '"2024-01-01"', ' 2024-01-01'],
      code: ['a', 'b', '"c"', '', '""'],
      extra: ['ignored', '"quoted, ignored"', '', '"x""y"'],
    };
    // Unquoted fields are read four bytes at a time: a stop byte (delimiter, CR, a control byte) at every
    // offset within a word, in strings and in typed fields.
    for (let k = 0; k < 9; k++) {
      const before = 'abcdefghi'.slice(0, k);
      values.s!.push(`${before}\rx`, `${before}\tx`, `${before}\u0001`, `${'é'.repeat(k)}`);
      values.f!.push(`${'1234.5678'.slice(0, k)}\r`);
      values.s!.push(`"${before}""q"`, `"${before}\nq"`, `"${before}"`, `"${before}"x`);
    }
    let seed = 11;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return (seed >>> 16) % n;
    };
    const pick = (list: string[]) => list[next(5) === 0 ? next(list.length) : next(3)]!;
    const headers = [
      ['id', 'n', 's', 'f', 'b', 't', 'd', 'code'],
      ['d', 'extra', 't', 'b', 'code', 'f', 's', 'n', 'id'],
      ['code', 'id', 's', 'n', 'f', 't', 'b'],
    ];
    for (const header of headers) {
      let body = `${header.join(',')}\n`;
      for (let i = 0; i < 2000; i++) {
        const fields = header.map((name) => pick(values[name]!));
        if (next(30) === 0) fields.push('surplus');
        if (next(30) === 0) fields.pop();
        const ending = next(6) === 0 ? '\r\n' : '\n';
        body += fields.join(',') + (next(40) === 0 ? ending + ending : ending);
      }
      body += '1,2,"never closed';
      for (const unknownColumns of ['ignore', 'reject'] as const) {
        if (unknownColumns === 'reject' && header.includes('extra')) continue;
        for (const [piece, maxLineBytes] of [
          [4096, 1 << 20],
          [7, 1 << 20],
          [4096, 60],
        ] as const) {
          const options = parseOptions(typed, { unknownColumns, maxLineBytes, maxReportedErrors: 10_000 });
          const fast = parseWith(new CsvParser(options), body, typed, piece);
          const general = parseWith(new CsvParser(options, false), body, typed, piece);
          const label = `header ${header.join(',')}, pieces of ${piece}, lines up to ${maxLineBytes} bytes`;
          assert.ok(fast.accepted > 200 && general.rejected > 200, `a mix of accepted (${fast.accepted}) and rejected rows: ${label}`);
          assert.deepEqual(fast.errors, general.errors, label);
          assert.deepEqual(fast.rows, general.rows, label);
          assert.equal(fast.accepted, general.accepted, label);
          for (const chunk of fast.chunks) {
            for (const column of chunk.columns) assert.equal(column.length, chunk.rows, `every column has every row: ${label}`);
          }
        }
      }
    }
    // One column: a blank line is no row, not a null.
    const single: Column[] = [{ name: 'only', type: 'string', nullable: true }];
    const blank = parse('csv', 'only\na\n\r\n\nb\n', single);
    assert.deepEqual(blank.rows, [{ only: 'a' }, { only: 'b' }]);
  });
});
