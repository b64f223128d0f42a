/**
 * Runs the built ingest service as its own process for benchmarks (production settings, local-folder
 * sink, a fresh database), and measures it: peak RSS from /proc, CPU seconds from /proc/<pid>/stat.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { applyMigrations } from '@sluice/db/migrate';
import { createDatabase, DEFAULT_ADMIN_URL, dropDatabase, freePort, spawnService, waitForHttp, type Service } from '@sluice/testkit';
import { NODE_FLAGS, serviceEnv } from '../../apps/ingest/runtime.mjs';

export const ADMIN_TOKEN = 'bench-admin-token-0123456789';
const root = path.resolve(import.meta.dirname, '../..');

export interface RunningService {
  url: string;
  /** Its Arrow Flight endpoint (host:port). */
  flightAddress: string;
  pid: number;
  lake: string;
  stop(): Promise<void>;
}

export async function startService(env: Record<string, string> = {}): Promise<RunningService> {
  const adminUrl = process.env.DATABASE_URL ?? DEFAULT_ADMIN_URL;
  const databaseUrl = await createDatabase(adminUrl, 'sluice_bench');
  await applyMigrations({ databaseUrl });
  const port = await freePort();
  const flightPort = await freePort();
  const lake = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-lake-'));
  // BENCH_NODE_ARGS adds Node options to the service, to look inside a run (`--cpu-prof`, `--trace-gc`).
  const extra = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  // BENCH_DIST runs another build of the service (a folder beside apps/ingest/dist), for A/B comparisons.
  const entry = path.join(process.env.BENCH_DIST ?? 'dist', 'server.mjs');
  // Flags and allocator settings as the service runs with them (apps/ingest/runtime.mjs); MALLOC_* set in
  // this environment win, to compare.
  const service: Service = spawnService('ingest', process.execPath, [...extra, ...NODE_FLAGS, entry], {
    cwd: path.join(root, 'apps/ingest'),
    env: serviceEnv({
      ...process.env,
      DATABASE_URL: databaseUrl,
      INGEST_PORT: String(port),
      FLIGHT_PORT: String(flightPort),
      LAKE_DIR: lake,
      SLUICE_ADMIN_TOKEN: ADMIN_TOKEN,
      LOG_LEVEL: 'warn',
      ...env,
    }),
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/healthz`, { timeoutMs: 30_000, exited: () => service.exited });
  return {
    url,
    flightAddress: `127.0.0.1:${flightPort}`,
    pid: service.child.pid!,
    lake,
    async stop() {
      await service.stop();
      fs.rmSync(lake, { recursive: true, force: true });
      await dropDatabase(adminUrl, databaseUrl);
    },
  };
}

export async function admin(url: string, method: string, route: string, body?: unknown): Promise<any> {
  const response = await fetch(`${url}${route}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${await response.text()}`);
  return response.json();
}

export function rssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

export function cpuSeconds(pid: number, tid?: number): number {
  const fields = fs
    .readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8')
    .split(') ')[1]!
    .split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks (100 Hz)
}

/** Samples a process's RSS until stopped; returns the peak. */
export function sampleRss(pid: number, intervalMs = 25) {
  let peak = rssBytes(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssBytes(pid));
    } catch {
      // The process ended.
    }
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}

/**
 * One request's figures: wall seconds, the service's peak RSS (bytes) and CPU seconds while it ran, in all
 * and on its main thread (HTTP, the batcher, uploads and the manifest; the rest is the pipeline workers
 * parsing and encoding, and V8's and libuv's helper threads).
 */
export interface RequestSample {
  seconds: number;
  peakRss: number;
  cpu: number;
  mainThreadCpu: number;
}

/**
 * POSTs a file to a stream (postFile) and measures the service meanwhile; throws unless every one of
 * `rows` rows was accepted.
 */
const CONTENT_TYPES = { csv: 'text/csv', ndjson: 'application/x-ndjson', arrow: 'application/vnd.apache.arrow.stream' };

export function measuredPost(
  service: RunningService,
  stream: string,
  key: string,
  file: string,
  format: 'csv' | 'ndjson' | 'arrow',
  rows: number,
  headers: Record<string, string> = {},
): Promise<RequestSample> {
  return measured(service, rows, () => postFile(`${service.url}/v1/streams/${stream}/rows`, key, file, CONTENT_TYPES[format], headers));
}

/** One ingest call (`send`: an HTTP request, a Flight DoPut) with the service's time, peak RSS and CPU. */
export async function measured(
  service: RunningService,
  rows: number,
  send: () => Promise<{ status: number; body: any }>,
): Promise<RequestSample> {
  const cpuBefore = cpuSeconds(service.pid);
  const mainBefore = cpuSeconds(service.pid, service.pid);
  const sampler = sampleRss(service.pid);
  const started = performance.now();
  const response = await send();
  const seconds = (performance.now() - started) / 1000;
  const peakRss = sampler.stop();
  if (response.status !== 200 || response.body.rowsAccepted !== rows) {
    throw new Error(`ingest failed: ${response.status} ${JSON.stringify(response.body).slice(0, 300)}`);
  }
  return { seconds, peakRss, cpu: cpuSeconds(service.pid) - cpuBefore, mainThreadCpu: cpuSeconds(service.pid, service.pid) - mainBefore };
}

/**
 * POSTs a file as one chunked request, streamed from disk through a few read buffers used over and over.
 * The producer shares this machine's two cores with the service: a read stream's new buffer per read
 * cost it ~0.2-0.3 CPU seconds per 2M rows, taken from the service being measured.
 */
export function postFile(
  url: string,
  key: string,
  file: string,
  contentType: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${url.replace(/\/$/, '')}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': contentType, 'transfer-encoding': 'chunked', ...headers },
    });
    const fd = fs.openSync(file, 'r');
    let open = true;
    const close = () => {
      if (open) fs.closeSync(fd);
      open = false;
    };
    request.on('response', (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (piece) => (text += piece));
      response.on('end', () => {
        close(); // an answer before the body's end (413, 429) ends the upload
        resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) });
      });
    });
    request.on('close', close);
    request.on('error', (error) => {
      close();
      reject(error);
    });
    const buffers = Array.from({ length: 4 }, () => Buffer.allocUnsafe(1 << 20));
    // A buffer is read into again only once the socket has taken what was written from it.
    const writing = buffers.map(() => false);
    let next = 0;
    let stalled = false;
    const pump = () => {
      stalled = false;
      while (open && !writing[next]) {
        const index = next;
        const buffer = buffers[index]!;
        const length = fs.readSync(fd, buffer, 0, buffer.length, null);
        if (length === 0) {
          close();
          request.end();
          return;
        }
        writing[index] = true;
        next = (next + 1) % buffers.length;
        request.write(buffer.subarray(0, length), () => {
          writing[index] = false;
          if (stalled && index === next) pump();
        });
      }
      stalled = true;
    };
    pump();
  });
}
