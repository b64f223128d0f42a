/**
 * `npm run start:ingest` and `npm run start:web`: one replica with the environment given, as a process
 * manager runs it. DATABASE_URL is required; SLUICE_MIGRATE=1 brings an empty database up to date; the
 * replica answers with its REPLICA_ID and stops on SIGTERM.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { createDatabase, DEFAULT_ADMIN_URL, dropDatabase, freePort, spawnService, waitForHttp } from '@sluice/testkit';

const root = path.resolve(import.meta.dirname, '..');
const adminUrl = process.env.TEST_ADMIN_DATABASE_URL ?? DEFAULT_ADMIN_URL;
const ADMIN = 'start-one-test-admin-token-0123';
const databases: string[] = [];
after(async () => {
  for (const database of databases) await dropDatabase(adminUrl, database);
});

function exitOf(service: ReturnType<typeof spawnService>): Promise<number | null> {
  if (service.exited) return Promise.resolve(service.exitCode);
  return new Promise((resolve) => service.child.once('exit', (code) => resolve(code)));
}

describe('one replica at a time', () => {
  it('refuses to start without DATABASE_URL', () => {
    const { DATABASE_URL: _unset, ...env } = process.env;
    for (const script of ['start:ingest', 'start:web']) {
      const result = spawnSync('npm', ['run', '--silent', script], { cwd: root, env, encoding: 'utf8', timeout: 60_000 });
      assert.equal(result.status, 1, script);
      assert.match(result.stderr, /DATABASE_URL is required/, script);
    }
  });

  it('an ingest replica and a console replica on an empty database migrated by SLUICE_MIGRATE=1, stopped by SIGTERM', async () => {
    const databaseUrl = await createDatabase(adminUrl, 'sluice_start_one');
    databases.push(databaseUrl);
    const [ingestPort, webPort] = [await freePort(), await freePort()];
    const lake = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-start-one-'));
    const common = { ...process.env, DATABASE_URL: databaseUrl, SLUICE_ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'warn' };
    const ingest = spawnService('start:ingest', 'npm', ['run', '--silent', 'start:ingest'], {
      cwd: root,
      env: { ...common, SLUICE_MIGRATE: '1', REPLICA_ID: 'ingest-7', INGEST_PORT: String(ingestPort), FLIGHT: 'off', LAKE_DIR: lake },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const web = spawnService('start:web', 'npm', ['run', '--silent', 'start:web'], {
      cwd: root,
      env: {
        ...common,
        WEB_PORT: String(webPort),
        INGEST_URL: `http://127.0.0.1:${ingestPort}`,
        SLUICE_SESSION_SECRET: 'start-one-test-session-secret-0123456789',
        NODE_ENV: 'production',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    try {
      await waitForHttp(`http://127.0.0.1:${ingestPort}/healthz`, { timeoutMs: 60_000, exited: () => ingest.exited });
      const health = (await (await fetch(`http://127.0.0.1:${ingestPort}/healthz`)).json()) as { replica: string };
      assert.equal(health.replica, 'ingest-7');
      // The schema is there: a stream can be made.
      const created = await fetch(`http://127.0.0.1:${ingestPort}/v1/admin/streams`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'one_replica', schema: { columns: [{ name: 'id', type: 'int64', nullable: false }] } }),
      });
      assert.equal(created.status, 201, await created.text());
      await waitForHttp(`http://127.0.0.1:${webPort}/healthz`, { timeoutMs: 60_000, exited: () => web.exited });
      const signIn = await fetch(`http://127.0.0.1:${webPort}/login`);
      assert.equal(signIn.status, 200);
    } finally {
      const stopped = [exitOf(ingest), exitOf(web)];
      await Promise.all([ingest.stop(), web.stop()]);
      const [ingestCode] = await Promise.all(stopped);
      assert.equal(ingestCode, 0, 'the ingest replica drained and exited cleanly on SIGTERM');
      fs.rmSync(lake, { recursive: true, force: true });
    }
  });
});
