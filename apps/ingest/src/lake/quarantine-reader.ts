/**
 * Reads a stream's quarantine table back, newest rows first, for the API and the console: page by page
 * (a cursor names the file and how many of its rows were returned), filtered by code and request, or
 * every matching row at once as CSV or NDJSON lines for a download. Files are read whole (a quarantine
 * file holds at most a few MiB of rows), one at a time.
 */
import { quarantineFiles, type Db } from '@sluice/db';
import { SluiceError, type QuarantinePageDto, type QuarantineRowDto } from '@sluice/shared';
import { rangeReader, type ObjectStore } from '../sinks/object-store';

export interface QuarantineFilter {
  code?: string;
  request?: string;
}

export async function readQuarantinePage(
  db: Db,
  store: ObjectStore,
  stream: string,
  options: QuarantineFilter & { limit: number; cursor?: string },
): Promise<QuarantinePageDto> {
  const [fromId, skipText] = options.cursor ? options.cursor.split('.') : [undefined, '0'];
  const skip = Number(skipText);
  if (options.cursor && (!fromId || !Number.isSafeInteger(skip) || skip < 0)) {
    throw new SluiceError('request.invalid', 'The cursor is not one this API gave.');
  }
  const { files, totalRows } = await quarantineFiles(db, stream, { fromId });
  const rows: QuarantineRowDto[] = [];
  for (const [index, file] of files.entries()) {
    const fileRows = await readFile(store, file.objectKey, file.bytes);
    const start = index === 0 ? skip : 0;
    for (let at = start; at < fileRows.length; at++) {
      const row = fileRows[at]!;
      if (!matches(row, options)) continue;
      if (rows.length === options.limit) return { rows, totalRows, nextCursor: `${file.id}.${at}` };
      rows.push(row);
    }
  }
  return { rows, totalRows, nextCursor: null };
}

/** Every matching row, newest first, as lines of CSV (with a header) or NDJSON, a file at a time. */
export async function* quarantineLines(
  db: Db,
  store: ObjectStore,
  stream: string,
  filter: QuarantineFilter,
  format: 'csv' | 'ndjson',
): AsyncGenerator<string> {
  if (format === 'csv') yield `${CSV_COLUMNS.join(',')}\n`;
  let fromId: string | undefined;
  for (;;) {
    const { files } = await quarantineFiles(db, stream, { fromId, limit: 101 });
    const page = fromId ? files.slice(1) : files;
    if (page.length === 0) return;
    for (const file of page) {
      const lines: string[] = [];
      for (const row of await readFile(store, file.objectKey, file.bytes)) {
        if (!matches(row, filter)) continue;
        lines.push(format === 'csv' ? `${CSV_COLUMNS.map((name) => csvField(row[name])).join(',')}\n` : `${JSON.stringify(row)}\n`);
      }
      if (lines.length > 0) yield lines.join('');
    }
    fromId = page[page.length - 1]!.id;
  }
}

const CSV_COLUMNS = ['rejectedAt', 'requestId', 'keyId', 'line', 'column', 'code', 'message', 'raw'] as const;

function csvField(value: string | number | null): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function matches(row: QuarantineRowDto, filter: QuarantineFilter): boolean {
  return (!filter.code || row.code === filter.code) && (!filter.request || row.requestId === filter.request);
}

/** A quarantine file's rows, newest first. */
async function readFile(store: ObjectStore, key: string, size: number): Promise<QuarantineRowDto[]> {
  const [{ parquetReadObjects }, { compressors }] = await Promise.all([import('hyparquet'), import('hyparquet-compressors')]);
  const rows = await parquetReadObjects({ file: rangeReader(store, key, size), compressors });
  return rows
    .map(
      (row): QuarantineRowDto => ({
        requestId: String(row.request_id),
        keyId: (row.key_id as string | null) ?? null,
        line: Number(row.line),
        column: (row.column_name as string | null) ?? null,
        code: String(row.code),
        message: String(row.message),
        raw: (row.raw as string | null) ?? null,
        rejectedAt: toIso(row.rejected_at),
      }),
    )
    .reverse();
}

function toIso(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return new Date(Number(value / 1000n)).toISOString();
  return new Date(Number(value)).toISOString();
}
