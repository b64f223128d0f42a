import type { FilePreviewDto } from '@sluice/shared';
import Link from 'next/link';
import { verifySession } from '../../../../../lib/dal';
import { ingestJson } from '../../../../../lib/ingest';
import { formatBytes, formatNumber } from '../../../../../lib/format';

export const dynamic = 'force-dynamic';

export default async function PreviewPage({
  params,
  searchParams,
}: {
  params: Promise<{ name: string }>;
  searchParams: Promise<{ key?: string }>;
}) {
  await verifySession();
  const { name } = await params;
  const { key } = await searchParams;
  if (!key) return <p className="error">No file was chosen.</p>;
  let preview: FilePreviewDto;
  try {
    preview = await ingestJson<FilePreviewDto>(
      `/v1/streams/${encodeURIComponent(name)}/files/preview?key=${encodeURIComponent(key)}&limit=100`,
    );
  } catch (error) {
    return (
      <p role="alert" className="error">
        The file could not be read: {(error as Error).message}
      </p>
    );
  }
  return (
    <>
      <header className="page-header">
        <div>
          <p className="muted small">
            <Link href={`/streams/${name}`}>{name}</Link> / file
          </p>
          <h1 className="break">{preview.key.split('/').pop()}</h1>
          <p className="muted small break">{preview.key}</p>
        </div>
      </header>
      <section className="cards">
        <div className="card">
          <div className="muted small">Rows</div>
          <div>{formatNumber(preview.rows)}</div>
        </div>
        <div className="card">
          <div className="muted small">Size</div>
          <div>{formatBytes(preview.bytes)}</div>
        </div>
        <div className="card">
          <div className="muted small">Schema version</div>
          <div>{preview.metadata['sluice.schema_version'] ?? '?'}</div>
        </div>
      </section>
      <h2>Schema</h2>
      <table>
        <thead>
          <tr>
            <th>Column</th>
            <th>Physical type</th>
            <th>Logical type</th>
            <th>Nullable</th>
          </tr>
        </thead>
        <tbody>
          {preview.columns.map((column) => (
            <tr key={column.name}>
              <td>{column.name}</td>
              <td>{column.physicalType}</td>
              <td>{column.logicalType ?? '—'}</td>
              <td>{column.nullable ? 'yes' : 'no'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Row groups</h2>
      <table>
        <thead>
          <tr>
            <th className="num">#</th>
            <th className="num">Rows</th>
            <th className="num">Uncompressed</th>
            <th className="num">Compressed</th>
          </tr>
        </thead>
        <tbody>
          {preview.rowGroups.map((group) => (
            <tr key={group.index}>
              <td className="num">{group.index}</td>
              <td className="num">{formatNumber(group.rows)}</td>
              <td className="num">{formatBytes(group.bytes)}</td>
              <td className="num">{formatBytes(group.compressedBytes)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>First {preview.rowsPreview.length} rows</h2>
      <div className="scroll">
        <table data-testid="preview-rows">
          <thead>
            <tr>
              {preview.columns.map((column) => (
                <th key={column.name}>{column.name}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {preview.rowsPreview.map((row, index) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: rows of a file have no other identity
              <tr key={index}>
                {preview.columns.map((column) => (
                  <td key={column.name}>{row[column.name] === null ? <span className="muted">null</span> : String(row[column.name])}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
