/**
 * Infers a stream schema from a sample of CSV or NDJSON: the console offers it when an operator drops
 * a file, to be edited before saving. Each column gets the narrowest type every sampled value fits.
 */
import type { Column, ColumnType } from './schema';
import { IDENTIFIER_PATTERN } from './schema';

const INT = /^[-+]?\d+$/;
const FLOAT = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const BOOL = /^(true|false|t|f|yes|no|y|n)$/i;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([zZ]|[+-]\d{2}(:?\d{2})?)?$/;

function typeOf(value: string): ColumnType {
  const text = value.trim();
  if (INT.test(text)) {
    const n = Number(text);
    return n >= -2147483648 && n <= 2147483647 ? 'int32' : 'int64';
  }
  if (FLOAT.test(text)) return 'float64';
  if (BOOL.test(text)) return 'boolean';
  if (DATE.test(text)) return 'date';
  if (TIMESTAMP.test(text)) return 'timestamp';
  return 'string';
}

/** The narrowest type that holds both. */
function widen(a: ColumnType | null, b: ColumnType): ColumnType {
  if (a === null || a === b) return b;
  const numeric = ['int32', 'int64', 'float64'];
  if (numeric.includes(a) && numeric.includes(b)) return numeric[Math.max(numeric.indexOf(a), numeric.indexOf(b))] as ColumnType;
  if ((a === 'date' && b === 'timestamp') || (a === 'timestamp' && b === 'date')) return 'timestamp';
  return 'string';
}

/** A header name made into a valid column identifier. */
export function toIdentifier(name: string, index: number): string {
  let id = name
    .trim()
    .replace(/[^A-Za-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 63);
  if (!id) id = `column_${index + 1}`;
  if (!IDENTIFIER_PATTERN.test(id)) id = `c_${id}`.slice(0, 63);
  return id;
}

/** Splits CSV text into records (quotes, doubled quotes, newlines inside quotes). The last line may be cut. */
function csvRecords(text: string, delimiter: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === delimiter) {
      record.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      record.push(field);
      records.push(record);
      record = [];
      field = '';
    } else field += c;
  }
  return records; // an unterminated last record is dropped: the sample may end mid-line
}

export interface InferredSchema {
  columns: Column[];
  /** Header names as found, for display next to the identifiers made from them. */
  sourceNames: string[];
  sampledRows: number;
}

export function inferSchema(sample: string, format: 'csv' | 'ndjson', delimiter = ','): InferredSchema {
  const text = sample.replace(/^\uFEFF/, '');
  let names: string[] = [];
  let rows: (string | null)[][] = [];
  if (format === 'csv') {
    const records = csvRecords(text, delimiter).filter((r) => !(r.length === 1 && r[0] === ''));
    names = records[0] ?? [];
    rows = records.slice(1).map((r) => r.map((v) => (v === '' ? null : v)));
  } else {
    const objects: Record<string, unknown>[] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        const value = JSON.parse(line);
        if (value && typeof value === 'object' && !Array.isArray(value)) objects.push(value);
      } catch {
        // A cut last line, or a bad one: the sample is a guide, not the data.
      }
    }
    for (const object of objects) for (const key of Object.keys(object)) if (!names.includes(key)) names.push(key);
    rows = objects.map((object) =>
      names.map((name) => {
        const value = object[name];
        if (value === null || value === undefined) return null;
        return typeof value === 'object' ? JSON.stringify(value) : String(value);
      }),
    );
  }
  const types: (ColumnType | null)[] = names.map(() => null);
  const nulls = names.map(() => false);
  for (const row of rows) {
    names.forEach((_, i) => {
      const value = row[i];
      if (value === null || value === undefined) nulls[i] = true;
      else types[i] = widen(types[i] ?? null, typeOf(value));
    });
  }
  const used = new Set<string>();
  const columns = names.map((name, i) => {
    let id = toIdentifier(name, i);
    while (used.has(id.toLowerCase())) id = `${id}_${i + 1}`.slice(0, 63);
    used.add(id.toLowerCase());
    return { name: id, type: types[i] ?? 'string', nullable: Boolean(nulls[i]) || rows.length === 0 };
  });
  return { columns, sourceNames: names, sampledRows: rows.length };
}
