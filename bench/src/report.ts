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
