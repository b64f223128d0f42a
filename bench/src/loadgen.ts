/**
 * Many small concurrent requests: `producers` loops, each POSTing `rowsPerRequest` rows and waiting for the
 * answer before sending the next, for `seconds`. Reports rows/s, MB/s and request latency percentiles.
 */
import { Agent, request } from 'undici';

export interface LoadResult {
  producers: number;
  requests: number;
  rowsPerSecond: number;
  mbPerSecond: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  errors: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

export async function smallRequests(options: {
  url: string;
  key: string;
  producers: number;
  rowsPerRequest: number;
  seconds: number;
  body: (producer: number, sequence: number) => string;
  /** Extra headers of a request (an Idempotency-Key). */
  headers?: (producer: number, sequence: number) => Record<string, string>;
}): Promise<LoadResult> {
  const agent = new Agent({ connections: options.producers, pipelining: 1 });
  const latencies: number[] = [];
  let rows = 0;
  let bytes = 0;
  let errors = 0;
  const deadline = performance.now() + options.seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: options.producers }, async (_, producer) => {
      for (let sequence = 0; performance.now() < deadline; sequence++) {
        const body = options.body(producer, sequence);
        const sent = performance.now();
        const response = await request(options.url, {
          method: 'POST',
          dispatcher: agent,
          headers: { authorization: `Bearer ${options.key}`, 'content-type': 'text/csv', ...options.headers?.(producer, sequence) },
          body,
        });
        const answer = (await response.body.json()) as { rowsAccepted?: number };
        latencies.push(performance.now() - sent);
        if (response.statusCode === 200) {
          rows += answer.rowsAccepted ?? 0;
          bytes += Buffer.byteLength(body);
        } else {
          errors++;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  await agent.close();
  latencies.sort((a, b) => a - b);
  return {
    producers: options.producers,
    requests: latencies.length,
    rowsPerSecond: Math.round(rows / elapsed),
    mbPerSecond: Number((bytes / 1e6 / elapsed).toFixed(2)),
    p50Ms: Math.round(percentile(latencies, 0.5)),
    p95Ms: Math.round(percentile(latencies, 0.95)),
    p99Ms: Math.round(percentile(latencies, 0.99)),
    errors,
  };
}
