/**
 * `npm run start:ingest` / `npm run start:web`: one ingest replica or one console replica, with the
 * environment given, for process managers and containers. Unlike `npm start` it builds nothing, starts no
 * database and applies no migrations (unless SLUICE_MIGRATE=1): DATABASE_URL is required, and the build
 * (`npm run build`) comes first. SIGTERM and SIGINT go to the replica, and this process exits as it exits.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { applyMigrations } from '@sluice/db/migrate';
import { NODE_FLAGS, serviceEnv } from '../apps/ingest/runtime.mjs';

const root = path.resolve(import.meta.dirname, '..');
const which = process.argv[2];
const env = process.env;

function fail(message: string): never {
  console.error(`[sluice ${which}] ${message}`);
  process.exit(1);
}

if (which !== 'ingest' && which !== 'web') fail('usage: start-one.ts ingest|web');
if (!env.DATABASE_URL) fail('DATABASE_URL is required: one replica runs on the shared Postgres (npm start runs an embedded one)');

if (env.SLUICE_MIGRATE === '1') {
  const { applied } = await applyMigrations({ databaseUrl: env.DATABASE_URL });
  console.log(`[sluice ${which}] ${applied.length ? `applied migrations: ${applied.join(', ')}` : 'database schema is up to date'}`);
}

const replica =
  which === 'ingest'
    ? (() => {
        const entry = path.join(root, 'apps/ingest/dist/server.mjs');
        if (!fs.existsSync(entry)) fail('apps/ingest/dist is missing: run `npm run build` first');
        return spawn(process.execPath, [...NODE_FLAGS, entry], {
          cwd: path.join(root, 'apps/ingest'),
          env: serviceEnv(env),
          stdio: 'inherit',
        });
      })()
    : (() => {
        if (!fs.existsSync(path.join(root, 'apps/web/.next/BUILD_ID'))) fail('apps/web/.next is missing: run `npm run build` first');
        // The next binary itself, not an npx wrapper: stopping a wrapper would leave next-server running.
        return spawn(
          path.join(root, 'node_modules/.bin/next'),
          ['start', '-p', env.WEB_PORT ?? '3000', '-H', env.WEB_HOST ?? '127.0.0.1'],
          {
            cwd: path.join(root, 'apps/web'),
            env: { ...env, NEXT_TELEMETRY_DISABLED: '1' },
            stdio: 'inherit',
          },
        );
      })();

// The replica is in this process's group (not detached): a process manager that kills the group kills it too.
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => replica.kill(signal));
replica.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
