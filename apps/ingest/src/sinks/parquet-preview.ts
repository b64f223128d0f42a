/**
 * A look inside a written Parquet file: schema, row groups and the first rows, read with range requests:
 * the footer, each column's offset index, and only the pages that hold the first rows. A file without
 * offset indexes would have its first row group's column chunks read whole, so past a size it is refused.
 */
import { SluiceError, type FilePreviewDto } from '@sluice/shared';
import type { AsyncBuffer } from 'hyparquet';
import { rangeReader, type ObjectStore } from './object-store';

/** Bytes read from the end of the file for the footer; hyparquet reads more when the footer is longer. */
const FOOTER_FETCH_BYTES = 64 * 1024;

export interface PreviewOptions {
  /** The largest file previewed when its first row group has a column chunk without an offset index. */
  maxBytesWithoutIndex: number;
}

export async function previewParquet(
  store: ObjectStore,
  key: string,
  size: number,
  limit: number,
  options: PreviewOptions,
): Promise<FilePreviewDto> {
  // Loaded on first use: previews are rare next to ingest, and the decompressors are not small.
  const [{ parquetMetadataAsync, parquetReadObjects, parquetSchema }, { compressors }] = await Promise.all([
    import('hyparquet'),
    import('hyparquet-compressors'),
  ]);
  const file: AsyncBuffer = rangeReader(store, key, size);
  const metadata = await parquetMetadataAsync(file, { initialFetchSize: FOOTER_FETCH_BYTES });
  const indexed = (metadata.row_groups[0]?.columns ?? []).every(
    (chunk) => chunk.offset_index_offset !== undefined && chunk.offset_index_length,
  );
  if (!indexed && size > options.maxBytesWithoutIndex) {
    throw new SluiceError(
      'preview.too_large',
      `The file has no offset index and is ${size} bytes, over the ${options.maxBytesWithoutIndex} bytes previewed without one (PREVIEW_MAX_BYTES_WITHOUT_INDEX).`,
    );
  }
  const schema = parquetSchema(metadata);
  // useOffsetIndex is off by default in hyparquet's reads: without it every column chunk of the first row
  // group is fetched whole (a 1M-row group is tens of MB) to show a hundred rows.
  const rows = await parquetReadObjects({
    file,
    metadata,
    compressors,
    rowStart: 0,
    rowEnd: Math.min(limit, Number(metadata.num_rows)),
    useOffsetIndex: true,
  });
  const dateColumns = new Set(
    schema.children.filter((child) => describeLogicalType(child.element.logical_type) === 'DATE').map((child) => child.element.name),
  );
  const keyValues = Object.fromEntries((metadata.key_value_metadata ?? []).map((kv) => [kv.key, kv.value ?? '']));
  delete keyValues['ARROW:schema'];
  return {
    key,
    bytes: size,
    rows: Number(metadata.num_rows),
    createdBy: metadata.created_by ?? null,
    metadata: keyValues,
    columns: schema.children.map((child) => ({
      name: child.element.name,
      physicalType: child.element.type ?? 'GROUP',
      logicalType: describeLogicalType(child.element.logical_type),
      nullable: child.element.repetition_type !== 'REQUIRED',
    })),
    rowGroups: metadata.row_groups.map((group, index) => ({
      index,
      rows: Number(group.num_rows),
      bytes: Number(group.total_byte_size),
      compressedBytes: group.columns.reduce((total, column) => total + Number(column.meta_data?.total_compressed_size ?? 0), 0),
    })),
    rowsPreview: rows.map((row) =>
      Object.fromEntries(
        Object.entries(row).map(([name, value]) => {
          const json = toJsonValue(value);
          // Dates come back as midnight UTC instants; show them as the calendar dates they are.
          return [name, dateColumns.has(name) && typeof json === 'string' ? json.slice(0, 10) : json];
        }),
      ),
    ),
  };
}

function describeLogicalType(logical: unknown): string | null {
  if (!logical || typeof logical !== 'object') return null;
  const type = (logical as { type?: string }).type;
  if (type === 'TIMESTAMP') {
    const t = logical as { unit?: string; isAdjustedToUTC?: boolean };
    return `TIMESTAMP(${t.unit ?? '?'},${t.isAdjustedToUTC ? 'UTC' : 'local'})`;
  }
  return type ?? null;
}

function toJsonValue(value: unknown): string | number | boolean | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'string') return value;
  return JSON.stringify(value);
}
