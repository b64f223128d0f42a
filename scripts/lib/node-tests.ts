/** Runs the *.test.ts files with node's test runner (through tsx) and counts results from its TAP report. */
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';

const SKIP_DIRS = new Set(['node_modules', '.next', 'generated', 'data', '.turbo']);

export function findTestFiles(root: string, dirs: string[]): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    if (!fs.existsSync(dir)) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (SKIP_DIRS.has(entry.name)) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.test.ts')) found.push(path.relative(root, full));
    }
  };
  for (const dir of dirs) walk(path.join(root, dir));
  return found.sort();
}

export async function runNodeTests(
  files: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; reportDir: string; timeoutMs?: number },
): Promise<{ passed: number; failed: number }> {
  const tapFile = path.join(options.reportDir, 'node-tests.tap');
  const args = [
    '--import',
    'tsx',
    '--test',
    `--test-timeout=${options.timeoutMs ?? 300_000}`,
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tapFile}`,
    ...files,
  ];
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, args, { cwd: options.cwd, env: options.env, stdio: 'inherit' });
    child.on('exit', (exitCode) => resolve(exitCode));
  });
  const tap = fs.existsSync(tapFile) ? fs.readFileSync(tapFile, 'utf8') : '';
  const count = (label: string) => Number(tap.match(new RegExp(`^# ${label} (\\d+)$`, 'm'))?.[1] ?? 0);
  const passed = count('pass');
  let failed = count('fail') + count('cancelled');
  // A runner that died without a report, or failed outside any test, must still fail the run.
  if (code !== 0 && failed === 0) failed = 1;
  return { passed, failed };
}
