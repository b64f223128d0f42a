/** BENCHMARKS.md and its charts (plain SVG, no plotting library) from a results object. */
import fs from 'node:fs';
import path from 'node:path';

export function lineChartSvg(options: {
  title: string;
  xLabel: string;
  yLabel: string;
  points: { x: number; y: number }[];
  logX?: boolean;
}): string {
  const width = 640;
  const height = 320;
  const pad = { left: 70, right: 20, top: 40, bottom: 50 };
  const xs = options.points.map((p) => (options.logX ? Math.log10(p.x) : p.x));
  const ys = options.points.map((p) => p.y);
  const [xMin, xMax] = [Math.min(...xs), Math.max(...xs)];
  const yMax = Math.max(...ys) * 1.15 || 1;
  const sx = (x: number) => pad.left + ((x - xMin) / (xMax - xMin || 1)) * (width - pad.left - pad.right);
  const sy = (y: number) => height - pad.bottom - (y / yMax) * (height - pad.top - pad.bottom);
  const path = xs.map((x, i) => `${i === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(ys[i]!).toFixed(1)}`).join(' ');
  const ticksY = Array.from({ length: 5 }, (_, i) => (yMax / 4) * i);
  const fmt = (v: number) => (v >= 1e6 ? `${(v / 1e6).toFixed(1)}M` : v >= 1e3 ? `${(v / 1e3).toFixed(0)}k` : v.toFixed(0));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${options.title}</text>
${ticksY.map((t) => `<line x1="${pad.left}" x2="${width - pad.right}" y1="${sy(t)}" y2="${sy(t)}" stroke="#e5e8ec"/><text x="${pad.left - 8}" y="${sy(t) + 4}" text-anchor="end">${fmt(t)}</text>`).join('\n')}
${options.points.map((p, i) => `<text x="${sx(xs[i]!)}" y="${height - pad.bottom + 18}" text-anchor="middle">${fmt(p.x)}</text>`).join('\n')}
<path d="${path}" fill="none" stroke="#0b6bcb" stroke-width="2.5"/>
${options.points.map((p, i) => `<circle cx="${sx(xs[i]!)}" cy="${sy(p.y)}" r="4" fill="#0b6bcb"/>`).join('\n')}
<text x="${width / 2}" y="${height - 12}" text-anchor="middle">${options.xLabel}</text>
<text transform="translate(16 ${height / 2}) rotate(-90)" text-anchor="middle">${options.yLabel}</text>
</svg>
`;
}

export function writeFile(file: string, text: string) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}

/**
 * Where BENCHMARKS.md's hand-written part starts (figures from other commands: bench:ingest, bench:encode,
 * the cost model): everything from this line on is kept when `npm run bench` rewrites the file.
 */
export const HAND_WRITTEN_MARKER = '<!-- Below: figures from other commands, written by hand; npm run bench keeps them. -->';

/** The hand-written part of an existing BENCHMARKS.md (from the marker on), or ''. */
export function handWrittenPart(existing: string): string {
  const at = existing.indexOf(HAND_WRITTEN_MARKER);
  return at < 0 ? '' : existing.slice(at);
}

/** BENCHMARKS.md from a results object written by run.ts. */
// biome-ignore lint/suspicious/noExplicitAny: the results JSON is read back untyped
export function benchmarksMarkdown(r: Record<string, any>, day: string): string {
  const n = (v: number) => new Intl.NumberFormat('en-US').format(v);
  const single = r.singleRequest as any[];
  const lines = [
    '# Benchmarks',
    '',
    `Measured ${day} on ${r.machine.cpus} cores (${r.machine.model}), ${r.machine.memoryGb} GiB, Node ${r.machine.node}, one run of`,
    '`npm run bench` (results: `bench/results/bench-' + day + '.json`). The service runs as `npm start` runs it (built, local-folder',
    'sink unless said otherwise); the other tools convert the same files on the same machine in the same run.',
    '',
    '## One large request (chunked), end to end into the sink',
    '',
    '| dataset | rows | file MB | Sluice rows/s | MB/s | peak RSS MB | CPU s | DuckDB 1 thread rows/s | DuckDB 2 threads rows/s | Sluice / DuckDB 1 | Sluice / DuckDB 2 |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...single.map(
      (s) =>
        `| ${s.dataset} | ${n(s.rows)} | ${s.fileMb} | ${n(s.rowsPerSecond)} | ${s.mbPerSecond} | ${s.peakRssMb} | ${s.cpuSeconds} | ${n(s.duckdb1RowsPerSecond)} | ${n(s.duckdb2RowsPerSecond)} | ${(s.rowsPerSecond / s.duckdb1RowsPerSecond).toFixed(2)} | ${s.ratioToDuckdb2} |`,
    ),
    r.s3
      ? `| ${r.s3.dataset}, into S3 (s3rver) | ${n(r.s3.rows)} | | ${n(r.s3.rowsPerSecond)} | ${r.s3.mbPerSecond} | ${r.s3.peakRssMb} | ${r.s3.cpuSeconds} | | | | |`
      : '',
    '',
    '## pandas and parquetjs-lite, same files',
    '',
    '| tool | dataset | rows/s | peak RSS MB | Sluice is … x faster | note |',
    '|---|---|---:|---:|---:|---|',
    ...single
      .filter((s) => s.pandas?.seconds)
      .map(
        (s) =>
          `| pandas ${s.pandas.pandas} | ${s.dataset} | ${n(Math.round(s.rows / s.pandas.seconds))} | ${Math.round(s.pandas.peakRssMb)} | ${(s.rowsPerSecond / (s.rows / s.pandas.seconds)).toFixed(2)} | ${s.pandas.wroteParquet ? 'read + to_parquet' : 'read only: Debian has no Parquet engine for pandas, so this is a lower bound of its cost'} |`,
      ),
    `| parquetjs-lite | mixed, ${n(r.parquetjsLite.rows)} rows | ${n(r.parquetjsLite.rowsPerSecond)} | | ${(single[0].rowsPerSecond / r.parquetjsLite.rowsPerSecond).toFixed(1)} | ${r.parquetjsLite.note} |`,
    '',
    `## Many small requests (${r.smallRequests.rowsPerRequest} rows each, answered when durable; batch age ${r.smallRequests.batchMaxAgeMs} ms)`,
    '',
    '| producers | requests | rows/s | MB/s | p50 ms | p95 ms | p99 ms | errors | peak RSS MB | CPU s |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...r.smallRequests.levels.map(
      (l: any) =>
        `| ${l.producers} | ${n(l.requests)} | ${n(l.rowsPerSecond)} | ${l.mbPerSecond} | ${l.p50Ms} | ${l.p95Ms} | ${l.p99Ms} | ${l.errors} | ${l.peakRssMb} | ${l.cpuSeconds} |`,
    ),
    '',
    '## Growth: memory stays flat as the body grows',
    '',
    '| rows | rows/s | peak RSS MB |',
    '|---:|---:|---:|',
    ...r.growth.map((g: any) => `| ${n(g.rows)} | ${n(g.rowsPerSecond)} | ${g.peakRssMb} |`),
    '',
    '![throughput](bench/results/throughput-vs-size.svg)',
    '![memory](bench/results/memory-vs-size.svg)',
    '',
    '## Reading the figures',
    '',
    '- DuckDB (C++, vectorised, its own CSV and JSON readers) is the ceiling. Sluice parses in JavaScript on worker',
    '  threads and encodes with parquet-wasm, over HTTP, and answers only once the files are durable.',
    "- pandas' CSV figure is `read_csv` alone (no Parquet engine on Debian): writing Parquet would add to its time and",
    '  memory, so Sluice is compared with less than pandas really costs. Its NDJSON reader is slow and holds everything.',
    '- Small requests are answered when their rows are durable. Rows of small requests are grouped into files until',
    "  the stream's batch age (1 s by default), so a lone producer sending small requests one after another waits",
    '  about that long per request; many producers share batches. The 10,000-row growth point is such a request.',
    '- Peak RSS is the whole service process: the main thread and its two worker threads (parsing and Parquet',
    "  encoding), with the byte budget's default of 64 MiB of rows in flight.",
    '- Each large request here is one run, the first of its dataset, on a machine whose speed drifts: its code is',
    '  still being compiled as it runs, and DuckDB runs minutes apart. `npm run bench:ingest` gives the figures to',
    '  hold against the targets: warmed up, Sluice and DuckDB taking turns, medians and the ratio of each pair.',
    '',
    '## Reproduce',
    '',
    '```sh',
    'npm ci && npm run bench            # the whole suite (datasets are generated into bench/data, seed 42)',
    'npm run bench:ingest               # the quick one: 2M rows CSV + NDJSON vs DuckDB, and 5x the body',
    'npx tsx bench/generate.ts --rows 2000000 --shape mixed --format csv   # a dataset on its own',
    '```',
    '',
  ];
  return lines.filter((line, i, all) => !(line === '' && all[i - 1] === '')).join('\n');
}
