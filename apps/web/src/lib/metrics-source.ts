/**
 * The numbers behind the metrics charts. From Prometheus when PROMETHEUS_URL is set (rate() and
 * histogram_quantile() over its scrapes); else straight from the ingest service's /metrics, differenced
 * against the previous read (rates over the time between two reads).
 */
import { env } from '../env';

export interface MetricsSnapshot {
  source: 'prometheus' | 'ingest';
  at: number;
  rowsPerSecond: Record<string, number>;
  p95LatencySeconds: number | null;
  queueBytes: number;
  queueLength: number;
  failedUploads: number;
  memoryBytes: number;
}

const INGEST_ROUTE = '/v1/streams/:stream/rows';

async function promQuery(query: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const url = `${env().PROMETHEUS_URL}/api/v1/query?query=${encodeURIComponent(query)}`;
  const response = await fetch(url, { cache: 'no-store', signal: AbortSignal.timeout(5000) });
  const body = (await response.json()) as {
    status: string;
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  if (body.status !== 'success') throw new Error(`Prometheus query failed: ${query}`);
  return body.data.result;
}

async function fromPrometheus(): Promise<MetricsSnapshot> {
  const [rows, p95, queueBytes, queueLength, failed, memory] = await Promise.all([
    promQuery('sum by (stream) (rate(sluice_rows_total{outcome="accepted"}[1m]))'),
    promQuery(`histogram_quantile(0.95, sum by (le) (rate(sluice_request_duration_seconds_bucket{route="${INGEST_ROUTE}"}[1m])))`),
    promQuery('sum(sluice_queue_bytes)'),
    promQuery('sum(sluice_queue_length)'),
    promQuery('sum(sluice_failed_uploads_total)'),
    promQuery('sum(process_resident_memory_bytes{job="sluice-ingest"})'),
  ]);
  const number = (result: { value: [number, string] }[]) => {
    const value = Number(result[0]?.value[1]);
    return Number.isFinite(value) ? value : 0;
  };
  const p95Value = Number(p95[0]?.value[1]);
  return {
    source: 'prometheus',
    at: Date.now(),
    rowsPerSecond: Object.fromEntries(rows.map((r) => [r.metric.stream ?? '?', Number(r.value[1])])),
    p95LatencySeconds: Number.isFinite(p95Value) ? p95Value : null,
    queueBytes: number(queueBytes),
    queueLength: number(queueLength),
    failedUploads: number(failed),
    memoryBytes: number(memory),
  };
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** prom-client's JSON form of a registry (the ingest service's /metrics with Accept: application/json). */
interface MetricJson {
  name: string;
  values: { value: number; labels: Record<string, string | number>; metricName?: string }[];
}

/** One sample per value; a histogram's values are named as in the text format (`_bucket`, `_sum`, `_count`). */
function samplesOf(metrics: MetricJson[]): Sample[] {
  return metrics.flatMap((metric) =>
    metric.values.map((value) => ({
      name: value.metricName ?? metric.name,
      labels: Object.fromEntries(Object.entries(value.labels).map(([label, text]) => [label, String(text)])),
      value: value.value,
    })),
  );
}

const holder = globalThis as unknown as { sluicePreviousScrape?: { at: number; samples: Sample[] } };

function quantileFromBuckets(buckets: { le: number; count: number }[], q: number): number | null {
  const sorted = buckets.sort((a, b) => a.le - b.le);
  const total = sorted[sorted.length - 1]?.count ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let previousLe = 0;
  let previousCount = 0;
  for (const bucket of sorted) {
    if (bucket.count >= rank) {
      if (!Number.isFinite(bucket.le)) return previousLe;
      const inBucket = bucket.count - previousCount;
      return inBucket > 0 ? previousLe + ((bucket.le - previousLe) * (rank - previousCount)) / inBucket : bucket.le;
    }
    previousLe = bucket.le;
    previousCount = bucket.count;
  }
  return null;
}

async function fromIngest(): Promise<MetricsSnapshot> {
  const { INGEST_METRICS_URL, INGEST_URL, METRICS_TOKEN } = env();
  const response = await fetch(INGEST_METRICS_URL ?? `${INGEST_URL}/metrics`, {
    headers: { accept: 'application/json', ...(METRICS_TOKEN ? { authorization: `Bearer ${METRICS_TOKEN}` } : {}) },
    cache: 'no-store',
    signal: AbortSignal.timeout(5000),
  });
  if (!response.ok) throw new Error(`the ingest service answered ${response.status} for its metrics`);
  const samples = samplesOf((await response.json()) as MetricJson[]);
  const at = Date.now();
  const previous = holder.sluicePreviousScrape;
  holder.sluicePreviousScrape = { at, samples };
  const sum = (list: Sample[], name: string, filter: (labels: Record<string, string>) => boolean = () => true) =>
    list.filter((s) => s.name === name && filter(s.labels)).reduce((total, s) => total + s.value, 0);
  const seconds = previous ? (at - previous.at) / 1000 : 0;
  const rowsPerSecond: Record<string, number> = {};
  const streams = new Set(samples.filter((s) => s.name === 'sluice_rows_total').map((s) => s.labels.stream!));
  for (const stream of streams) {
    const accepted = (list: Sample[]) => sum(list, 'sluice_rows_total', (l) => l.stream === stream && l.outcome === 'accepted');
    rowsPerSecond[stream] = previous && seconds > 0 ? Math.max(0, accepted(samples) - accepted(previous.samples)) / seconds : 0;
  }
  let p95: number | null = null;
  if (previous) {
    const buckets = new Map<string, number>();
    for (const s of samples)
      if (s.name === 'sluice_request_duration_seconds_bucket' && s.labels.route === INGEST_ROUTE)
        buckets.set(s.labels.le!, (buckets.get(s.labels.le!) ?? 0) + s.value);
    for (const s of previous.samples)
      if (s.name === 'sluice_request_duration_seconds_bucket' && s.labels.route === INGEST_ROUTE)
        buckets.set(s.labels.le!, (buckets.get(s.labels.le!) ?? 0) - s.value);
    p95 = quantileFromBuckets(
      [...buckets].map(([le, count]) => ({ le: le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), count })),
      0.95,
    );
  }
  return {
    source: 'ingest',
    at,
    rowsPerSecond,
    p95LatencySeconds: p95,
    queueBytes: sum(samples, 'sluice_queue_bytes'),
    queueLength: sum(samples, 'sluice_queue_length'),
    failedUploads: sum(samples, 'sluice_failed_uploads_total'),
    memoryBytes: sum(samples, 'process_resident_memory_bytes'),
  };
}

export function readMetrics(): Promise<MetricsSnapshot> {
  return env().PROMETHEUS_URL ? fromPrometheus() : fromIngest();
}
