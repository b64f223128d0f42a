/** Rewrites BENCHMARKS.md from a results file: `npx tsx bench/report.ts bench/results/bench-<date>.json`. */
import fs from 'node:fs';
import path from 'node:path';
import { benchmarksMarkdown } from './src/report';

const file = process.argv[2];
if (!file) throw new Error('usage: npx tsx bench/report.ts bench/results/bench-<date>.json');
const day = /bench-(\d{4}-\d{2}-\d{2})/.exec(file)?.[1] ?? new Date().toISOString().slice(0, 10);
fs.writeFileSync(
  path.resolve(import.meta.dirname, '..', 'BENCHMARKS.md'),
  benchmarksMarkdown(JSON.parse(fs.readFileSync(file, 'utf8')), day),
);
console.log('BENCHMARKS.md written');
