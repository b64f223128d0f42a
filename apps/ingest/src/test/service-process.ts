/**
 * The ingest service as a process of its own, for tests that kill it: the built service (dist/server.mjs,
 * started as in production) when it is newer than every source it bundles, else the sources through tsx,
 * so that a checkout whose dist/ is stale still tests the code it holds.
 */
import fs from 'node:fs';
import path from 'node:path';
import { freePort, signalGroup, spawnService, waitForHttp, type Service } from '@sluice/testkit';
import { NODE_FLAGS, serviceEnv } from '../../runtime.mjs';
import { ADMIN_TOKEN, testDatabaseUrl } from './harness';

const app = path.resolve(import.meta.dirname, '../..');
const dist = path.join(app, 'dist/server.mjs');
const sources = [path.join(app, 'src'), path.resolve(app, '../../packages/shared/src'), path.resolve(app, '../../packages/db/src')];

function newestIn(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestIn(full) : fs.statSync(full).mtimeMs);
  }
  return newest;
}

/** Node's arguments for the service: dist/server.mjs when it is fresh, else src/server.ts through tsx. */
export function serviceArgs(): string[] {
  const built = fs.existsSync(dist) ? fs.statSync(dist).mtimeMs : 0;
  const fresh = built > 0 && sources.every((dir) => newestIn(dir) <= built);
  return fresh ? [...NODE_FLAGS, dist] : [...NODE_FLAGS, '--import', 'tsx', 'src/server.ts'];
}

export interface ServiceProcess {
  url: string;
  /** Where its Arrow Flight endpoint listens (host:port). */
  flightAddress: string;
  service: Service;
  /** Admin API call with the admin token. */
  admin(method: string, route: string, body?: unknown): Promise<Response>;
  /** SIGKILL to the process group (no shutdown of any kind); resolves once the process is gone. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the service on a free port with the test run's database, the admin token and `env` (LAKE_DIR or
 * S3_*: the store is the caller's choice; S3_* and ClickHouse settings of this process are not passed on).
 */
export async function startServiceProcess(env: Record<string, string>): Promise<ServiceProcess> {
  const [port, flightPort] = [await freePort(), await freePort()];
  const service = spawnService('ingest', process.execPath, serviceArgs(), {
    cwd: app,
    env: serviceEnv({
      ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(S3_|CLICKHOUSE_|LAKE_DIR$)/.test(name))),
      DATABASE_URL: testDatabaseUrl(),
      INGEST_PORT: String(port),
      FLIGHT_PORT: String(flightPort),
      SLUICE_ADMIN_TOKEN: ADMIN_TOKEN,
      LOG_LEVEL: 'warn',
      // As in harness.ts: the run's database is shared by suites with lakes of their own.
      DELTA_LOG: 'off',
      COMPACTION: 'off',
      ...env,
    }),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/healthz`, { timeoutMs: 60_000, exited: () => service.exited });
  } catch (error) {
    await service.stop();
    throw error;
  }
  return {
    url,
    flightAddress: `127.0.0.1:${flightPort}`,
    service,
    admin: (method, route, body) =>
      fetch(`${url}${route}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      }),
    async kill() {
      if (service.exited || service.child.pid === undefined) return;
      const gone = new Promise<void>((resolve) => service.child.once('exit', () => resolve()));
      signalGroup(service.child.pid, 'SIGKILL');
      await gone;
    },
    stop: () => service.stop(),
  };
}
