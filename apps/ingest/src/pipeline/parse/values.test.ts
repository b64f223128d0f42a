import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Column, ColumnType } from '@sluice/shared';
import { prng } from '@sluice/testkit';
import { parse } from '../../test/parse-helpers';
import { daysFromCivil, parseTimestamp } from './values';

/** Reads each text as a one-column CSV value; returns the stored value, or 'rejected'. */
function read(type: ColumnType, texts: string[], allowNonFinite = false): unknown[] {
  const columns: Column[] = [{ name: 'v', type, nullable: true }];
  const body = `v\n${texts.map((t) => `"${t}"`).join('\n')}\n`;
  const result = parse('csv', body, columns, { allowNonFinite });
  const rejectedLines = new Set(result.errors.map((e) => e.line));
  let next = 0;
  return texts.map((_, i) => (rejectedLines.has(i + 2) ? 'rejected' : result.rows[next++]?.v));
}

const ts = (text: string) => parseTimestamp(Buffer.from(text), 0, Buffer.byteLength(text));

describe('value rules', () => {
  it('range-checks int32', () => {
    assert.deepEqual(read('int32', ['0', '-2147483648', '2147483647', '2147483648', '+7', ' 8 ', '1.0', '0x10', '-']), [
      0,
      -2147483648,
      2147483647,
      'rejected',
      7,
      8,
      'rejected',
      'rejected',
      'rejected',
    ]);
  });

  it('range-checks int64 exactly beyond 2^53', () => {
    assert.deepEqual(read('int64', ['9223372036854775807', '-9223372036854775808', '9223372036854775808', '12']), [
      9223372036854775807n,
      -9223372036854775808n,
      'rejected',
      12n,
    ]);
  });

  it('reads float64 and refuses NaN and infinities unless the stream allows them', () => {
    assert.deepEqual(read('float64', ['1.5', '-0.25', '1e-3', '.5', '3', '1e999', 'NaN', 'inf', 'abc', '1,5']), [
      1.5,
      -0.25,
      0.001,
      0.5,
      3,
      'rejected',
      'rejected',
      'rejected',
      'rejected',
      'rejected',
    ]);
    const allowed = read('float64', ['NaN', '-Infinity', '1e999'], true);
    assert.ok(Number.isNaN(allowed[0]));
    assert.deepEqual(allowed.slice(1), [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY]);
    assert.equal(read('float64', ['0.1'])[0], 0.1);
    assert.equal(read('float64', ['123456789.123456789'])[0], Number('123456789.123456789'));
  });

  it('reads booleans in any case', () => {
    assert.deepEqual(read('boolean', ['true', 'FALSE', '1', '0', 't', 'F', 'Yes', 'no', 'maybe', '2']), [
      true,
      false,
      true,
      false,
      true,
      false,
      true,
      false,
      'rejected',
      'rejected',
    ]);
    assert.deepEqual(read('boolean', ['Y', 'n', 'NO', 'yES', 'TrUe', 'fAlSe', 'tru', 'yess', 'on', '\x10', '\x11', 'T\x00', '']), [
      true,
      false,
      false,
      true,
      true,
      false,
      'rejected',
      'rejected',
      'rejected',
      'rejected',
      'rejected',
      'rejected',
      null,
    ]);
  });

  it('reads dates and refuses impossible ones', () => {
    const day = 86_400_000;
    assert.deepEqual(read('date', ['1970-01-01', '2024-02-29', '2023-02-29', '2024-13-01', '2024-1-1']), [
      0,
      daysFromCivil(2024, 2, 29) * day,
      'rejected',
      'rejected',
      'rejected',
    ]);
    assert.equal(daysFromCivil(2000, 3, 1), 11017);
    assert.equal(daysFromCivil(1969, 12, 31), -1);
  });

  it('reads dates the same inside and outside the looked-up years (1900-2199)', () => {
    const day = 86_400_000;
    const dates: [string, number | 'rejected'][] = [
      ['1899-12-31', daysFromCivil(1899, 12, 31)],
      ['1900-01-01', daysFromCivil(1900, 1, 1)],
      ['1900-02-29', 'rejected'],
      ['2000-02-29', daysFromCivil(2000, 2, 29)],
      ['2100-02-29', 'rejected'],
      ['2199-12-31', daysFromCivil(2199, 12, 31)],
      ['2200-01-01', daysFromCivil(2200, 1, 1)],
      ['2400-02-29', daysFromCivil(2400, 2, 29)],
      ['2300-02-29', 'rejected'],
      ['0001-01-01', daysFromCivil(1, 1, 1)],
      ['2024-04-31', 'rejected'],
      ['2024-04-30', daysFromCivil(2024, 4, 30)],
    ];
    const expected = dates.map(([, days]) => (days === 'rejected' ? days : days * day));
    assert.deepEqual(
      read(
        'date',
        dates.map(([text]) => text),
      ),
      expected,
    );
    // Timestamps share the date rules.
    assert.equal(ts('1899-12-31T23:59:59Z'), Date.UTC(1899, 11, 31, 23, 59, 59) * 1000);
    assert.equal(ts('2200-01-01T00:00:00Z'), Date.UTC(2200, 0, 1) * 1000);
    assert.ok(Number.isNaN(ts('2100-02-29T00:00:00Z')));
  });

  it('normalises ISO-8601 timestamps to UTC microseconds', () => {
    const base = Date.UTC(2024, 0, 2, 3, 4, 5) * 1000;
    assert.equal(ts('2024-01-02T03:04:05Z'), base);
    assert.equal(ts('2024-01-02 03:04:05'), base);
    assert.equal(ts('2024-01-02T03:04:05.5Z'), base + 500_000);
    assert.equal(ts('2024-01-02T03:04:05.123456789Z'), base + 123_456);
    // Any number of fraction digits; past the sixth they are dropped, never rounded up.
    const fractions = ['1', '12', '123', '1234', '12345', '123456', '1234567', '9999999999'];
    assert.deepEqual(
      fractions.map((digits) => ts(`2024-01-02T03:04:05.${digits}Z`) - base),
      [100_000, 120_000, 123_000, 123_400, 123_450, 123_456, 123_456, 999_999],
    );
    assert.equal(ts('2024-01-02T03:04:05,25Z'), base + 250_000);
    assert.ok(Number.isNaN(ts('2024-01-02T03:04:05.Z')));
    assert.equal(ts('2024-01-02T05:04:05+02:00'), base);
    assert.equal(ts('2024-01-02T00:04:05-0300'), base);
    assert.equal(ts('2024-01-02T04:04:05+01'), base);
    assert.equal(ts('2024-01-02T03:04Z'), base - 5_000_000);
    assert.equal(ts('2024-01-02'), Date.UTC(2024, 0, 2) * 1000);
    for (const bad of ['2024-01-02T25:00:00Z', '2024-01-02T03:04:05+2', '2024-01-02X03:04', 'yesterday', '']) {
      assert.ok(Number.isNaN(ts(bad)), bad);
    }
  });

  it('reads the common timestamp shape (read at fixed places) by the same rules as any other', () => {
    // YYYY-MM-DDTHH:MM:SS[.sss|.ssssss]Z with every field around its limits, and a stray byte now and then.
    const next = prng(7);
    const pick = (low: number, high: number) => low + Math.floor(next() * (high - low + 1));
    const pad = (value: number, width: number) => String(value).padStart(width, '0');
    let valid = 0;
    for (let i = 0; i < 20_000; i++) {
      const [year, month, day] = [pick(1890, 2210), pick(0, 13), pick(0, 32)];
      const [hour, minute, second] = [pick(0, 25), pick(0, 61), pick(0, 61)];
      const digits = [0, 3, 6][pick(0, 2)]!;
      const fraction = pick(0, 10 ** digits - 1);
      let text = `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}T${pad(hour, 2)}:${pad(minute, 2)}:${pad(second, 2)}${digits ? `.${pad(fraction, digits)}` : ''}Z`;
      let stray = false;
      if (next() < 0.1) {
        const at = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22][pick(0, digits ? 16 : 13)]!;
        text = text.slice(0, at) + '/:a '[pick(0, 3)] + text.slice(at + 1);
        stray = true;
      }
      const inMonth = month >= 1 && month <= 12 && day >= 1 && day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
      const ok = !stray && inMonth && hour <= 23 && minute <= 59 && second <= 60;
      const expected = ok
        ? Date.UTC(year, month - 1, day, hour, minute) * 1000 + second * 1_000_000 + fraction * 10 ** (6 - digits)
        : Number.NaN;
      assert.ok(Object.is(ts(text), expected), `${text}: ${ts(text)}, expected ${expected}`);
      if (ok) valid++;
    }
    assert.ok(valid > 5_000, `${valid} valid timestamps among the generated`);
  });

  it('reads epoch seconds and milliseconds', () => {
    assert.equal(ts('1700000000'), 1_700_000_000_000_000);
    assert.equal(ts('1700000000.25'), 1_700_000_000_250_000);
    assert.equal(ts('1700000000123'), 1_700_000_000_123_000);
    assert.equal(ts('-86400'), -86_400_000_000);
  });
});
