/**
 * A small dataset covering every column type, nulls, extremes and awkward text, with its CSV and NDJSON
 * encodings and the values an independent reader must give back.
 */
import type { Column } from '@sluice/shared';

export const ALL_TYPES: Column[] = [
  { name: 'id', type: 'int64', nullable: false },
  { name: 'label', type: 'string', nullable: true },
  { name: 'qty', type: 'int32', nullable: true },
  { name: 'big', type: 'int64', nullable: true },
  { name: 'price', type: 'float64', nullable: true },
  { name: 'ok', type: 'boolean', nullable: true },
  { name: 'at', type: 'timestamp', nullable: true },
  { name: 'day', type: 'date', nullable: true },
];

export interface TypedRow {
  id: bigint;
  label: string | null;
  qty: number | null;
  big: bigint | null;
  price: number | null;
  ok: boolean | null;
  /** Microseconds since the epoch, UTC. */
  at: bigint | null;
  /** YYYY-MM-DD */
  day: string | null;
}

const LABELS = ['plain', 'comma, inside', 'quote "inside"', 'new\nline', 'Zoë 東京 🚀', '', '  spaced  ', 'tab\there'];

export function typedRows(count: number): TypedRow[] {
  const rows: TypedRow[] = [];
  for (let i = 0; i < count; i++) {
    const n = i % 11;
    rows.push({
      id: BigInt(i + 1),
      label: n === 3 ? null : `${LABELS[i % LABELS.length]}${i}`,
      qty: n === 4 ? null : i % 2 === 0 ? 2147483647 - i : -2147483648 + i,
      big: n === 5 ? null : i % 3 === 0 ? 9223372036854775807n - BigInt(i) : -9007199254740993n - BigInt(i),
      price: n === 6 ? null : i % 5 === 0 ? -0.1 * (i + 1) : i * 1234.5678,
      ok: n === 7 ? null : i % 2 === 0,
      at: n === 8 ? null : 1_700_000_000_000_000n + BigInt(i) * 1_234_567n,
      day: n === 9 ? null : new Date(Date.UTC(2024, 0, 1) + (i % 400) * 86_400_000).toISOString().slice(0, 10),
    });
  }
  return rows;
}

function isoMicros(micros: bigint): string {
  const ms = Number(micros / 1000n);
  const rest = Number(micros % 1000n);
  return new Date(ms).toISOString().replace('Z', `${String(rest).padStart(3, '0')}Z`);
}

/** Timestamps in varied but equivalent spellings: Z, an offset, epoch milliseconds. */
function timestampText(micros: bigint, i: number): string {
  if (i % 3 === 0) return isoMicros(micros);
  if (i % 3 === 1) {
    const shifted = micros + 2n * 3_600_000_000n;
    return isoMicros(shifted).replace('Z', '+02:00');
  }
  return micros % 1000n === 0n ? String(micros / 1000n) : isoMicros(micros);
}

function csvField(value: string): string {
  return /[",\n\r]/.test(value) || value === '' ? `"${value.replaceAll('"', '""')}"` : value;
}

export function toCsv(rows: TypedRow[], lineEnd = '\n'): string {
  const lines = [ALL_TYPES.map((c) => c.name).join(',')];
  rows.forEach((row, i) => {
    lines.push(
      [
        String(row.id),
        row.label === null ? '' : csvField(row.label),
        row.qty === null ? '' : String(row.qty),
        row.big === null ? '' : String(row.big),
        row.price === null ? '' : String(row.price),
        row.ok === null ? '' : i % 4 === 0 ? (row.ok ? 'TRUE' : 'false') : row.ok ? '1' : 'no',
        row.at === null ? '' : timestampText(row.at, i),
        row.day ?? '',
      ].join(','),
    );
  });
  return lines.join(lineEnd) + lineEnd;
}

export function toNdjson(rows: TypedRow[]): string {
  return rows
    .map((row, i) => {
      const object: Record<string, unknown> = {
        id: i % 2 === 0 ? Number(row.id) : String(row.id),
        label: row.label,
        qty: row.qty,
        // Beyond 2^53 a JSON number loses precision: send those as strings, as producers must.
        big: row.big === null ? null : String(row.big),
        price: row.price,
        ok: row.ok,
        at: row.at === null ? null : timestampText(row.at, i),
      };
      if (row.day !== null) object.day = row.day;
      return JSON.stringify(object);
    })
    .join('\n');
}

/** Normalises a DuckDB row (bigint, Date, numbers) to TypedRow for comparison. */
export function fromDuckDb(row: Record<string, unknown>): TypedRow {
  const at = row.at as Date | null;
  const day = row.day as Date | null;
  return {
    id: row.id as bigint,
    label: row.label as string | null,
    qty: row.qty as number | null,
    big: row.big as bigint | null,
    price: row.price as number | null,
    ok: row.ok as boolean | null,
    // DuckDB's JS Date drops sub-millisecond digits; compare microseconds through the epoch_us column.
    at: at === null ? null : (row.at_us as bigint),
    day: day === null ? null : day.toISOString().slice(0, 10),
  };
}
