/**
 * `npm test`: the whole suite on a fresh machine. Checks system packages, creates a fresh database,
 * builds, type-checks and lints, starts the servers the tests need on free 127.0.0.1 ports, runs every
 * runner, stops what it started by PID, and ends with one line: `N passed, N failed`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { applyMigrations } from '@sluice/db/migrate';
import { CLICKHOUSE_BINARY, createDatabase, DEFAULT_ADMIN_URL, dropDatabase, run, startClickHouse, startS3rver } from '@sluice/testkit';
import { ensureSystemPackages } from './lib/system-packages';
import { findTestFiles, runNodeTests } from './lib/node-tests';
import { runBrowserJourneys } from './lib/browser-journeys';

const root = path.resolve(import.meta.dirname, '..');
const totals = { passed: 0, failed: 0 };
const cleanups: Array<() => Promise<void>> = [];

function section(title: string) {
  console.log(`\n=== ${title} ===`);
}

/** A step that is not a test runner still counts: one pass or one fail. */
async function check(name: string, step: () => Promise<void>) {
  section(name);
  try {
    await step();
    totals.passed += 1;
  } catch (error) {
    console.error(`${name} failed: ${(error as Error).message}`);
    totals.failed += 1;
  }
}

async function main() {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NEXT_TELEMETRY_DISABLED: '1',
    TURBO_TELEMETRY_DISABLED: '1',
  };
  // What the run and its tests put in the temporary folder (lakes, the servers' data, reports) goes in one
  // folder of its own, removed at the end, after the servers have stopped.
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-test-run-'));
  cleanups.push(async () => fs.rmSync(scratch, { recursive: true, force: true }));
  process.env.TMPDIR = scratch;
  env.TMPDIR = scratch;

  section('system packages');
  await ensureSystemPackages([
    { name: 'clickhouse-server', binary: CLICKHOUSE_BINARY },
    { name: 'prometheus', binary: '/usr/bin/prometheus', aptArgs: ['--no-install-recommends'] },
    { name: 'chromium', binary: '/usr/bin/chromium' },
    { name: 'nginx', binary: '/usr/sbin/nginx' },
    { name: 'python3-requests', binary: '/usr/lib/python3/dist-packages/requests/__init__.py' },
    { name: 'python3-pandas', binary: '/usr/lib/python3/dist-packages/pandas/__init__.py' },
    { name: 'python3-matplotlib', binary: '/usr/lib/python3/dist-packages/matplotlib/__init__.py' },
    { name: 'python3-nbconvert', binary: '/usr/lib/python3/dist-packages/nbconvert/__init__.py' },
    { name: 'python3-ipykernel', binary: '/usr/lib/python3/dist-packages/ipykernel/__init__.py' },
  ]);

  section('database');
  const adminUrl = process.env.DATABASE_URL ?? DEFAULT_ADMIN_URL;
  const databaseUrl = await createDatabase(adminUrl);
  cleanups.push(() => dropDatabase(adminUrl, databaseUrl));
  await applyMigrations({ databaseUrl });
  console.log(`fresh database ${new URL(databaseUrl).pathname.slice(1)}`);
  Object.assign(env, { TEST_DATABASE_URL: databaseUrl, TEST_ADMIN_DATABASE_URL: adminUrl });

  section('servers');
  const s3 = await startS3rver({ dir: fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-s3-')), bucket: 'sluice-test' });
  cleanups.push(() => s3.stop());
  console.log(`s3rver on ${s3.endpoint} (pid-managed), bucket ${s3.bucket}`);
  Object.assign(env, { TEST_S3_ENDPOINT: s3.endpoint, TEST_S3_BUCKET: s3.bucket });
  const clickhouse = await startClickHouse(fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-clickhouse-')));
  cleanups.push(() => clickhouse.stop());
  console.log(`clickhouse-server on ${clickhouse.url}`);
  Object.assign(env, { TEST_CLICKHOUSE_URL: clickhouse.url });

  section('build');
  await run('npx', ['turbo', 'run', 'build', '--output-logs=errors-only'], { cwd: root, env });

  await check('typecheck', () => run('npx', ['turbo', 'run', 'typecheck', '--output-logs=errors-only'], { cwd: root, env }));
  await check('lint and format', () => run('npx', ['biome', 'check', '.'], { cwd: root, env }));

  section('unit and integration tests (node:test)');
  const files = findTestFiles(root, ['packages', 'apps', 'scripts']);
  const result = await runNodeTests(files, { cwd: root, env, reportDir: fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-tap-')) });
  totals.passed += result.passed;
  totals.failed += result.failed;

  section('browser journeys (Playwright, Debian chromium)');
  const e2e = await runBrowserJourneys(root, env, adminUrl);
  totals.passed += e2e.passed;
  totals.failed += e2e.failed;
}

let exitCode = 0;
try {
  await main();
} catch (error) {
  console.error(`\nthe test run could not complete: ${(error as Error).stack ?? error}`);
  totals.failed += 1;
}
for (const cleanup of cleanups.reverse()) {
  await cleanup().catch((error) => console.error(`cleanup: ${(error as Error).message}`));
}
if (totals.failed > 0) exitCode = 1;
console.log(`\n${totals.passed} passed, ${totals.failed} failed`);
process.exit(exitCode);
