/**
 * Deterministic benchmark datasets: the same seed and row count always give the same bytes.
 * "mixed": 8 columns (ints, floats, booleans, ISO timestamps, strings with quoted commas and quotes).
 * "wide": 50 columns cycling through every type.
 */
import type { Column } from '@sluice/shared';
import { prng } from '@sluice/testkit';

export type Shape = 'mixed' | 'wide';

const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliett', 'kilo', 'lima'];
const CATEGORIES = ['books', 'games', 'garden', 'music', 'sports', 'tools', 'toys', 'travel'];
const BASE_TIME = Date.UTC(2024, 0, 1);

export function columnsFor(shape: Shape): Column[] {
  if (shape === 'mixed') {
    return [
      { name: 'id', type: 'int64', nullable: false },
      { name: 'user_id', type: 'int32', nullable: false },
      { name: 'name', type: 'string', nullable: true },
      { name: 'amount', type: 'float64', nullable: true },
      { name: 'active', type: 'boolean', nullable: true },
      { name: 'created_at', type: 'timestamp', nullable: false },
      { name: 'category', type: 'string', nullable: true },
      { name: 'comment', type: 'string', nullable: true },
    ];
  }
  const types = ['int64', 'string', 'float64', 'int32', 'boolean', 'timestamp', 'date'] as const;
  return Array.from({ length: 50 }, (_, i) => ({ name: `c${i}`, type: types[i % types.length]!, nullable: true }));
}

/** One row's values, as typed JS values (null for missing). */
export type Row = (string | number | boolean | null)[];

export function* rows(shape: Shape, count: number, seed: number): Generator<Row> {
  const random = prng(seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  for (let i = 0; i < count; i++) {
    if (shape === 'mixed') {
      const comment = random() < 0.3 ? `${pick(WORDS)}, ${pick(WORDS)} said "${pick(WORDS)}"` : `${pick(WORDS)} ${pick(WORDS)}`;
      yield [
        i + 1,
        Math.floor(random() * 1_000_000),
        `${pick(WORDS)}_${Math.floor(random() * 10_000)}`,
        Math.round(random() * 1_000_000) / 100,
        random() < 0.5,
        new Date(BASE_TIME + Math.floor(random() * 31_536_000_000)).toISOString(),
        pick(CATEGORIES),
        comment,
      ];
    } else {
      const row: Row = [];
      for (let c = 0; c < 50; c++) {
        switch (c % 7) {
          case 0:
            row.push(i * 50 + c);
            break;
          case 1:
            row.push(pick(WORDS));
            break;
          case 2:
            row.push(Math.round(random() * 100_000) / 100);
            break;
          case 3:
            row.push(Math.floor(random() * 100_000));
            break;
          case 4:
            row.push(random() < 0.5);
            break;
          case 5:
            row.push(new Date(BASE_TIME + Math.floor(random() * 31_536_000_000)).toISOString());
            break;
          default:
            row.push(new Date(BASE_TIME + Math.floor(random() * 365) * 86_400_000).toISOString().slice(0, 10));
        }
      }
      yield row;
    }
  }
}

function csvField(value: string | number | boolean | null): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvHeader(columns: Column[]): string {
  return `${columns.map((c) => c.name).join(',')}\n`;
}

export function csvLine(row: Row): string {
  return `${row.map(csvField).join(',')}\n`;
}

/** The CSV body of one small request of the load generator: `count` rows of producer and sequence's own. */
export function smallCsvBody(shape: Shape, count: number, producer: number, sequence: number): string {
  let text = csvHeader(columnsFor(shape));
  for (const row of rows(shape, count, producer * 100_000 + sequence)) text += csvLine(row);
  return text;
}

export function ndjsonLine(columns: Column[], row: Row): string {
  const object: Record<string, unknown> = {};
  columns.forEach((column, index) => {
    object[column.name] = row[index];
  });
  return `${JSON.stringify(object)}\n`;
}
