'use client';
/** Live charts, refreshed every 2 s: rows/s by stream, p95 latency, queue, failed uploads, memory. */
import { useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { MetricsSnapshot } from '../lib/metrics-source';
import { formatBytes } from '../lib/format';

const WINDOW = 90;
const COLORS = ['#0b6bcb', '#1d7a46', '#c2352b', '#8a5cf6', '#d97706', '#0891b2'];

type Point = { t: string } & Record<string, number | null | string>;

function Chart({ title, points, keys, format }: { title: string; points: Point[]; keys: string[]; format?: (v: number) => string }) {
  return (
    <figure className="chart" aria-label={title}>
      <figcaption>{title}</figcaption>
      <ResponsiveContainer width="100%" height={200}>
        <LineChart data={points} margin={{ top: 8, right: 16, bottom: 0, left: 8 }}>
          <CartesianGrid stroke="#e5e8ec" />
          <XAxis dataKey="t" tick={{ fontSize: 11 }} minTickGap={40} />
          <YAxis tick={{ fontSize: 11 }} tickFormatter={format} width={70} />
          <Tooltip formatter={(value) => (format && typeof value === 'number' ? format(value) : String(value))} />
          {keys.length > 1 && <Legend />}
          {keys.map((key, i) => (
            <Line key={key} dataKey={key} stroke={COLORS[i % COLORS.length]} dot={false} isAnimationActive={false} strokeWidth={2} />
          ))}
        </LineChart>
      </ResponsiveContainer>
    </figure>
  );
}

export function MetricsCharts() {
  const { data, error } = useQuery<MetricsSnapshot>({
    queryKey: ['metrics'],
    queryFn: async () => {
      const response = await fetch('/api/metrics', { cache: 'no-store' });
      const body = await response.json();
      if (!response.ok) throw new Error(body.error?.message ?? `status ${response.status}`);
      return body;
    },
    refetchInterval: 2000,
  });
  const [history, setHistory] = useState<MetricsSnapshot[]>([]);
  useEffect(() => {
    if (data) setHistory((previous) => (previous.at(-1)?.at === data.at ? previous : [...previous.slice(-WINDOW + 1), data]));
  }, [data]);

  const streams = [...new Set(history.flatMap((s) => Object.keys(s.rowsPerSecond)))];
  const points = history.map((s) => {
    const point: Point = { t: new Date(s.at).toISOString().slice(11, 19) };
    for (const stream of streams) point[stream] = Math.round(s.rowsPerSecond[stream] ?? 0);
    point.p95 = s.p95LatencySeconds === null ? null : Math.round(s.p95LatencySeconds * 1000);
    point.queueBytes = s.queueBytes;
    point.queueLength = s.queueLength;
    point.failedUploads = s.failedUploads;
    point.memory = s.memoryBytes;
    return point;
  });
  const latest = history.at(-1);
  const totalRate = latest ? Object.values(latest.rowsPerSecond).reduce((a, b) => a + b, 0) : 0;

  return (
    <div className="stack">
      {error && (
        <p role="alert" className="error">
          {(error as Error).message}
        </p>
      )}
      <section className="cards">
        <div className="card">
          <div className="muted small">Rows/s (all streams)</div>
          <div data-testid="rows-per-second">{Math.round(totalRate)}</div>
        </div>
        <div className="card">
          <div className="muted small">p95 ingest latency</div>
          <div>{latest?.p95LatencySeconds == null ? '—' : `${Math.round(latest.p95LatencySeconds * 1000)} ms`}</div>
        </div>
        <div className="card">
          <div className="muted small">Queue</div>
          <div>{latest ? `${formatBytes(latest.queueBytes)} · ${latest.queueLength} requests` : '—'}</div>
        </div>
        <div className="card">
          <div className="muted small">Ingest memory</div>
          <div>{latest ? formatBytes(latest.memoryBytes) : '—'}</div>
        </div>
      </section>
      <p className="muted small">
        Source: {latest?.source === 'prometheus' ? 'Prometheus' : 'the ingest service’s /metrics'}; refreshed every 2 s.
      </p>
      {streams.length === 0 && history.length > 0 && <p className="empty">No rows received yet.</p>}
      <div className="charts">
        <Chart title="Rows per second, by stream" points={points} keys={streams.length ? streams : ['none']} />
        <Chart title="p95 request latency (ms)" points={points} keys={['p95']} />
        <Chart title="Queue bytes" points={points} keys={['queueBytes']} format={formatBytes} />
        <Chart title="Queue length (requests)" points={points} keys={['queueLength']} />
        <Chart title="Failed uploads (total)" points={points} keys={['failedUploads']} />
        <Chart title="Ingest process memory" points={points} keys={['memory']} format={formatBytes} />
      </div>
    </div>
  );
}
