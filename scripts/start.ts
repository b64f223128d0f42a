/**
 * `npm start`: the whole product on one machine. Builds what is out of date, starts the embedded
 * database when DATABASE_URL is unset, applies migrations, then runs the ingest service and the console
 * until Ctrl-C / SIGTERM, which stops every process it started.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createDb } from '@sluice/db';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '@sluice/db/embedded-postgres';
import { applyMigrations } from '@sluice/db/migrate';
import { portInUse, run, spawnService, waitForHttp, type Service } from '@sluice/testkit';
import { NODE_FLAGS, serviceEnv } from '../apps/ingest/runtime.mjs';

const root = path.resolve(import.meta.dirname, '..');
const env = process.env;
const ingestPort = Number(env.INGEST_PORT ?? 8080);
const flightPort = Number(env.FLIGHT_PORT ?? 8815);
const webPort = Number(env.WEB_PORT ?? 3000);
const dataDir = path.resolve(root, env.SLUICE_DATA_DIR ?? 'data');
const embeddedPort = Number(env.EMBEDDED_PG_PORT ?? 54329);

const services: Service[] = [];
let embedded: EmbeddedPostgres | undefined;
let stopping: Promise<void> | undefined;

function log(message: string) {
  console.log(`[sluice] ${message}`);
}

async function stopAll(exitCode: number): Promise<never> {
  stopping ??= (async () => {
    log('stopping');
    await Promise.all(services.map((service) => service.stop()));
    await embedded?.stop().catch((error) => log(`embedded database: ${error.message}`));
    log('stopped');
  })();
  await stopping;
  process.exit(exitCode);
}

process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));
// If whatever started us dies without passing a signal on (a killed shell or npm), we are orphaned:
// stop rather than leave servers running that nobody can stop.
const parentPid = process.ppid;
setInterval(() => {
  if (process.ppid !== parentPid) void stopAll(0);
}, 1000).unref();

async function main() {
  for (const [name, port] of [
    ['INGEST_PORT', ingestPort],
    ['FLIGHT_PORT', flightPort],
    ['WEB_PORT', webPort],
  ] as const) {
    if (name === 'FLIGHT_PORT' && env.FLIGHT === 'off') continue;
    if (await portInUse(port)) throw new Error(`${name} ${port} is already in use; set ${name} to a free port.`);
  }

  const buildEnv = { ...env, NEXT_TELEMETRY_DISABLED: '1', TURBO_TELEMETRY_DISABLED: '1' };
  log('building (cached when nothing changed)');
  await run('npx', ['turbo', 'run', 'build', '--output-logs=errors-only', '--log-prefix=none'], {
    cwd: root,
    env: buildEnv,
  });

  let databaseUrl = env.DATABASE_URL;
  if (!databaseUrl) {
    fs.mkdirSync(dataDir, { recursive: true });
    embedded = await startEmbeddedPostgres({ dataDir: path.join(dataDir, 'pg'), port: embeddedPort });
    databaseUrl = embedded.url;
    log(`embedded Postgres on 127.0.0.1:${embeddedPort} (data in ${path.join(dataDir, 'pg')})`);
  }

  const { applied } = await applyMigrations({ databaseUrl });
  log(applied.length ? `applied migrations: ${applied.join(', ')}` : 'database schema is up to date');

  const consoleEnv: Record<string, string> = {
    SLUICE_SESSION_SECRET: env.SLUICE_SESSION_SECRET ?? sessionSecret(),
  };
  // First run with nobody to sign in and no configured account: whoever reaches the setup page first
  // would become the operator. Only someone who can read this output may.
  if (!env.SLUICE_SETUP_TOKEN && !env.SLUICE_ADMIN_EMAIL && !(await operatorExists(databaseUrl))) {
    consoleEnv.SLUICE_SETUP_TOKEN = randomBytes(18).toString('base64url');
    log(`no operator account yet: the setup page asks for this one-time token: ${consoleEnv.SLUICE_SETUP_TOKEN}`);
  }

  const common = {
    ...buildEnv,
    DATABASE_URL: databaseUrl,
    // The console reaches the ingest service with the admin token; without one configured, this run
    // makes its own (set SLUICE_ADMIN_TOKEN to use the admin API from scripts too).
    SLUICE_ADMIN_TOKEN: env.SLUICE_ADMIN_TOKEN ?? randomBytes(24).toString('hex'),
    // The embedded database answers one query at a time: keep pools small.
    DATABASE_POOL_MAX: env.DATABASE_POOL_MAX ?? (embedded ? '3' : '10'),
  };
  const onExit = (name: string) => (code: number | null) => {
    if (!stopping) {
      log(`${name} exited unexpectedly (${code}); stopping everything`);
      void stopAll(1);
    }
  };

  // The built service (plain JavaScript), with its Node flags and allocator settings (apps/ingest/runtime.mjs).
  const ingest = spawnService('ingest', process.execPath, [...NODE_FLAGS, 'dist/server.mjs'], {
    cwd: path.join(root, 'apps/ingest'),
    env: serviceEnv({
      ...common,
      INGEST_PORT: String(ingestPort),
      FLIGHT_PORT: String(flightPort),
      LAKE_DIR: env.LAKE_DIR ?? path.join(dataDir, 'lake'),
    }),
    onExit: onExit('ingest'),
  });
  services.push(ingest);

  // The next binary itself, not an npx wrapper: stopping a wrapper would leave next-server running.
  const web = spawnService(
    'web',
    path.join(root, 'node_modules/.bin/next'),
    ['start', '-p', String(webPort), '-H', env.WEB_HOST ?? '127.0.0.1'],
    {
      cwd: path.join(root, 'apps/web'),
      env: { ...common, ...consoleEnv, INGEST_URL: env.INGEST_URL ?? `http://127.0.0.1:${ingestPort}` },
      onExit: onExit('web'),
    },
  );
  services.push(web);

  await waitForHttp(`http://127.0.0.1:${ingestPort}/healthz`, { timeoutMs: 60_000, exited: () => ingest.exited });
  await waitForHttp(`http://127.0.0.1:${webPort}/healthz`, { timeoutMs: 60_000, exited: () => web.exited });
  log(`ingest API  http://127.0.0.1:${ingestPort}`);
  log(`console     http://127.0.0.1:${webPort}`);
  log('press Ctrl-C to stop');
}

/**
 * The console requires a session secret in production (next start). Without SLUICE_SESSION_SECRET, one
 * is made on the first run and kept in the data folder, so sessions survive a restart.
 */
function sessionSecret(): string {
  const file = path.join(dataDir, 'session-secret');
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
  }
  return fs.readFileSync(file, 'utf8').trim();
}

async function operatorExists(databaseUrl: string): Promise<boolean> {
  const db = createDb(databaseUrl, { maxConnections: 1 });
  try {
    return (await db.operator.count()) > 0;
  } finally {
    await db.$disconnect();
  }
}

main().catch(async (error) => {
  console.error(`[sluice] ${error instanceof Error ? error.message : String(error)}`);
  await stopAll(1);
});
