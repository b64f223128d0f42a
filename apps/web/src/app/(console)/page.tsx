import { listStreams } from '@sluice/db';
import Link from 'next/link';
import { db } from '../../lib/db';
import { formatBytes, formatNumber, formatTime } from '../../lib/format';
import { verifySession } from '../../lib/dal';

export const dynamic = 'force-dynamic';

export default async function StreamsPage() {
  await verifySession();
  const streams = await listStreams(db());
  const today = new Date();
  today.setUTCHours(0, 0, 0, 0);
  const stats = await db().dataFile.groupBy({
    by: ['streamId'],
    where: { lakeTable: 'data', state: 'committed', createdAt: { gte: today } },
    _sum: { rows: true, bytes: true },
    _count: { _all: true },
  });
  const last = await db().dataFile.groupBy({
    by: ['streamId'],
    where: { lakeTable: 'data', state: 'committed' },
    _max: { createdAt: true },
  });
  return (
    <>
      <header className="page-header">
        <h1>Streams</h1>
        <Link href="/streams/new" className="button primary">
          New stream
        </Link>
      </header>
      {streams.length === 0 ? (
        <div className="empty">
          <p>No streams yet. A stream has a schema; producers send it CSV or JSON Lines.</p>
          <Link href="/streams/new" className="button primary">
            Create your first stream
          </Link>
        </div>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th>Columns</th>
              <th className="num">Rows today</th>
              <th className="num">Files today</th>
              <th className="num">Stored today</th>
              <th>Last ingest</th>
            </tr>
          </thead>
          <tbody>
            {streams.map((stream) => {
              const day = stats.find((s) => s.streamId === stream.id);
              const lastAt = last.find((s) => s.streamId === stream.id)?._max.createdAt;
              return (
                <tr key={stream.id}>
                  <td>
                    <Link href={`/streams/${stream.name}`}>{stream.name}</Link>
                    {stream.description && <div className="muted small">{stream.description}</div>}
                  </td>
                  <td>
                    {stream.schema.columns.length} (v{stream.schemaVersion})
                  </td>
                  <td className="num">{formatNumber(day?._sum.rows ?? 0)}</td>
                  <td className="num">{formatNumber(day?._count._all ?? 0)}</td>
                  <td className="num">{formatBytes(Number(day?._sum.bytes ?? 0))}</td>
                  <td>{lastAt ? formatTime(lastAt) : <span className="muted">never</span>}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </>
  );
}
