/**
 * Runs the Playwright journeys against the whole product, started as `npm start` starts it (on a fresh
 * database and free ports), and counts results from Playwright's JSON report.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createDatabase, dropDatabase, freePort, spawnService, waitForHttp } from '@sluice/testkit';

export async function runBrowserJourneys(
  root: string,
  env: NodeJS.ProcessEnv,
  adminUrl: string,
): Promise<{ passed: number; failed: number }> {
  const databaseUrl = await createDatabase(adminUrl, 'sluice_e2e');
  const [ingestPort, webPort] = await Promise.all([freePort(), freePort()]);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-e2e-'));
  const adminToken = randomBytes(24).toString('hex');
  const setupToken = randomBytes(18).toString('hex');
  const product = spawnService('npm start', process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: root,
    env: {
      ...env,
      DATABASE_URL: databaseUrl,
      INGEST_PORT: String(ingestPort),
      FLIGHT: 'off',
      WEB_PORT: String(webPort),
      SLUICE_DATA_DIR: dataDir,
      SLUICE_ADMIN_TOKEN: adminToken,
      SLUICE_SETUP_TOKEN: setupToken,
      // The journeys give each test its own client address (X-Forwarded-For), so that sign-in
      // throttling in one test does not reach the others, and ask for https (X-Forwarded-Proto).
      SLUICE_TRUST_PROXY: '1',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const report = path.join(dataDir, 'playwright.json');
  try {
    await waitForHttp(`http://127.0.0.1:${ingestPort}/healthz`, { timeoutMs: 120_000, exited: () => product.exited });
    await waitForHttp(`http://127.0.0.1:${webPort}/healthz`, { timeoutMs: 120_000, exited: () => product.exited });
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(path.join(root, 'node_modules/.bin/playwright'), ['test', '-c', 'e2e/playwright.config.ts'], {
        cwd: root,
        env: {
          ...env,
          E2E_BASE_URL: `http://127.0.0.1:${webPort}`,
          E2E_INGEST_URL: `http://127.0.0.1:${ingestPort}`,
          E2E_JSON_REPORT: report,
          E2E_ADMIN_TOKEN: adminToken,
          E2E_SETUP_TOKEN: setupToken,
          E2E_DATABASE_URL: databaseUrl,
        },
        stdio: 'inherit',
      });
      child.on('exit', resolve);
    });
    const stats = fs.existsSync(report)
      ? (JSON.parse(fs.readFileSync(report, 'utf8')) as { stats: { expected: number; unexpected: number; flaky: number } }).stats
      : null;
    if (!stats) return { passed: 0, failed: 1 };
    const failed = stats.unexpected + (code !== 0 && stats.unexpected === 0 ? 1 : 0);
    console.log(`screenshots: e2e/test-results/screenshots/`);
    return { passed: stats.expected + stats.flaky, failed };
  } finally {
    await product.stop();
    await dropDatabase(adminUrl, databaseUrl).catch(() => {});
  }
}
