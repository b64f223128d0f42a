/**
 * The stream page's quarantine: how many rejected rows the stream's quarantine table holds, the latest ones
 * (filtered by code or request, paged with "Older"), and downloads of the matching rows to fix and send again.
 */
import type { QuarantinePageDto } from '@sluice/shared';
import Link from 'next/link';
import { ingestJson } from '../lib/ingest';
import { formatNumber, formatTime } from '../lib/format';

export interface QuarantineFilter {
  code?: string;
  request?: string;
  cursor?: string;
}

export async function QuarantineSection({ stream, filter }: { stream: string; filter: QuarantineFilter }) {
  const query = new URLSearchParams({ limit: '20' });
  for (const [name, value] of Object.entries(filter)) if (value) query.set(name, value);
  let page: QuarantinePageDto;
  try {
    page = await ingestJson<QuarantinePageDto>(`/v1/streams/${encodeURIComponent(stream)}/quarantine?${query}`);
  } catch (error) {
    return (
      <section aria-label="Quarantine">
        <h2>Quarantine</h2>
        <p className="error">The quarantine could not be read: {(error as Error).message}</p>
      </section>
    );
  }
  const download = (format: 'csv' | 'ndjson') => {
    const params = new URLSearchParams({ format });
    if (filter.code) params.set('code', filter.code);
    if (filter.request) params.set('request', filter.request);
    return `/streams/${encodeURIComponent(stream)}/quarantine/download?${params}`;
  };
  const older = new URLSearchParams();
  if (filter.code) older.set('code', filter.code);
  if (filter.request) older.set('request', filter.request);
  if (page.nextCursor) older.set('cursor', page.nextCursor);
  return (
    <section aria-label="Quarantine">
      <h2>Quarantine</h2>
      <p>
        {formatNumber(page.totalRows)} rejected row(s) stored in <code>_quarantine/{stream}/</code>, with their lines as sent.
      </p>
      <form className="row" method="get" action={`/streams/${encodeURIComponent(stream)}`}>
        <label>
          Code <input name="code" defaultValue={filter.code ?? ''} placeholder="row.invalid_value" />
        </label>
        <label>
          Request <input name="request" defaultValue={filter.request ?? ''} placeholder="request id" />
        </label>
        <button type="submit">Filter</button>
        <a href={download('csv')} download>
          Download CSV
        </a>
        <a href={download('ndjson')} download>
          Download NDJSON
        </a>
      </form>
      {page.rows.length === 0 ? (
        <p className="empty">No rejected rows{filter.code || filter.request ? ' match the filter' : ''}.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Rejected</th>
              <th>Request</th>
              <th className="num">Line</th>
              <th>Column</th>
              <th>Code</th>
              <th>Message</th>
              <th>Line as sent</th>
            </tr>
          </thead>
          <tbody>
            {page.rows.map((row) => (
              <tr key={`${row.requestId}:${row.line}`}>
                <td>{formatTime(row.rejectedAt)}</td>
                <td className="break">{row.requestId}</td>
                <td className="num">{row.line}</td>
                <td>{row.column}</td>
                <td>{row.code}</td>
                <td className="break">{row.message}</td>
                <td className="break">
                  <code>{row.raw === null ? '(too long to keep)' : row.raw.slice(0, 200)}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {page.nextCursor && <Link href={`/streams/${encodeURIComponent(stream)}?${older}#quarantine`}>Older rejected rows</Link>}
    </section>
  );
}
