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
  const body = (await response.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
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

/** A small reader of the Prometheus text format (enough for counters, gauges and histograms). */
export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!.replace(/\\(.)/g, '$1');
    samples.push({ name: match[1]!, labels, value: Number(match[4]) });
  }
  return samples;
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
  const response = await fetch(`${env().INGEST_URL}/metrics`, { cache: 'no-store', signal: AbortSignal.timeout(5000) });
  const samples = parsePrometheusText(await response.text());
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
    for (const s of samples) if (s.name === 'sluice_request_duration_seconds_bucket' && s.labels.route === INGEST_ROUTE) buckets.set(s.labels.le!, (buckets.get(s.labels.le!) ?? 0) + s.value);
    for (const s of previous.samples) if (s.name === 'sluice_request_duration_seconds_bucket' && s.labels.route === INGEST_ROUTE) buckets.set(s.labels.le!, (buckets.get(s.labels.le!) ?? 0) - s.value);
    p95 = quantileFromBuckets([...buckets].map(([le, count]) => ({ le: le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), count })), 0.95);
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
