/**
 * The real server process: SIGTERM during ingest stops accepting, flushes, finishes the requests in
 * flight and exits 0; every row it acknowledged is in the sink, none twice.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { IngestResultDto } from '@sluice/shared';
import { freePort, spawnService, waitForHttp } from '@sluice/testkit';
import { LocalStore } from './sinks/local-store';
import { ADMIN_TOKEN, testDatabaseUrl } from './test/harness';
import { listStreamObjects, queryParquet } from './test/read-back';

describe('server process', () => {
  it('SIGTERM during ingest: every acknowledged row is stored, exactly once', async () => {
    const port = await freePort();
    const lake = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-sigterm-'));
    const server = spawnService('ingest', process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: path.resolve(import.meta.dirname, '..'),
      env: {
        ...process.env,
        DATABASE_URL: testDatabaseUrl(),
        INGEST_PORT: String(port),
        FLIGHT: 'off',
        LAKE_DIR: lake,
        SLUICE_ADMIN_TOKEN: ADMIN_TOKEN,
        LOG_LEVEL: process.env.DEBUG_SIGTERM ? 'debug' : 'warn',
      },
      stdio: process.env.DEBUG_SIGTERM ? 'inherit' : 'ignore',
    });
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitForHttp(`${url}/healthz`, { timeoutMs: 30_000, exited: () => server.exited });
      const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
      const name = `sigterm_${Date.now().toString(36)}`;
      const created = await fetch(`${url}/v1/admin/streams`, {
        method: 'POST',
        headers: admin,
        body: JSON.stringify({ name, schema: { columns: [{ name: 'id', type: 'int64', nullable: false }] }, batch: { maxAgeMs: 5000 } }),
      });
      assert.equal(created.status, 201);
      const { key } = (await (
        await fetch(`${url}/v1/admin/keys`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'k', streams: [name] }) })
      ).json()) as { key: string };

      const rowsEach = 2000;
      const acknowledged: number[] = [];
      const outcomes: string[] = [];
      const requests = Array.from({ length: 30 }, async (_, r) => {
        await new Promise((resolve) => setTimeout(resolve, r * 25));
        const body = `id\n${Array.from({ length: rowsEach }, (_, i) => r * rowsEach + i).join('\n')}\n`;
        try {
          const response = await fetch(`${url}/v1/streams/${name}/rows`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'text/csv' },
            body,
          });
          outcomes.push(String(response.status));
          if (response.status === 200) {
            const result = (await response.json()) as IngestResultDto;
            assert.equal(result.rowsAccepted, rowsEach);
            for (let i = 0; i < rowsEach; i++) acknowledged.push(r * rowsEach + i);
          } else {
            await response.body?.cancel();
          }
        } catch {
          outcomes.push('connection refused');
        }
      });
      // Rows are waiting for the 5 s batch age when the signal comes: shutdown must flush them.
      await new Promise((resolve) => setTimeout(resolve, 300));
      process.kill(server.child.pid!, 'SIGTERM');
      await Promise.all(requests);
      const exitCode = await new Promise<number | null>((resolve) => {
        if (server.exited) resolve(server.exitCode);
        else server.child.once('exit', (code) => resolve(code));
      });
      assert.equal(exitCode, 0, 'the server exits cleanly');
      assert.ok(acknowledged.length > 0, `some requests were acknowledged before the shutdown (${outcomes.join(',')})`);
      assert.ok(
        outcomes.some((o) => o !== '200'),
        `later requests were refused (${outcomes.join(',')})`,
      );

      const store = new LocalStore(lake);
      const objects = await listStreamObjects(store, name);
      const stored = await queryParquet(
        store,
        objects.map((o) => o.key),
        'SELECT id FROM data ORDER BY id',
      );
      const ids = stored.map((row) => Number(row.id));
      assert.equal(new Set(ids).size, ids.length, 'no row is stored twice');
      const storedSet = new Set(ids);
      const missing = acknowledged.filter((id) => !storedSet.has(id));
      assert.deepEqual(missing, [], 'every acknowledged row is stored');
    } finally {
      await server.stop();
    }
  });
});
