/**
 * `npm start` as a user runs it: both ports answer, with the embedded database and with a real
 * DATABASE_URL, and SIGTERM leaves no process of it behind.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { freePort, portInUse, spawnService, waitForHttp } from '@sluice/testkit';

const root = path.resolve(import.meta.dirname, '..');

/** Every process that inherited the marker: the launcher and all it spawned. */
function processesWithMarker(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/environ`, 'latin1').includes(marker)) pids.push(Number(entry));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return pids;
}

async function startAndStop(extraEnv: Record<string, string>) {
  const [ingestPort, flightPort, webPort, pgPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-start-'));
  const marker = `SLUICE_START_TEST_MARKER=${randomBytes(8).toString('hex')}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    INGEST_PORT: String(ingestPort),
    FLIGHT_PORT: String(flightPort),
    WEB_PORT: String(webPort),
    EMBEDDED_PG_PORT: String(pgPort),
    SLUICE_DATA_DIR: dataDir,
    [marker.split('=')[0]!]: marker.split('=')[1],
    ...extraEnv,
  };
  if (!extraEnv.DATABASE_URL) delete env.DATABASE_URL;

  const started = Date.now();
  const launcher = spawnService('npm start', 'npm', ['start'], { cwd: root, env, stdio: 'ignore' });
  try {
    await waitForHttp(`http://127.0.0.1:${ingestPort}/healthz`, { timeoutMs: 90_000, exited: () => launcher.exited });
    await waitForHttp(`http://127.0.0.1:${webPort}/healthz`, { timeoutMs: 90_000, exited: () => launcher.exited });
    const upIn = Date.now() - started;
    assert.ok(upIn < 90_000, `both ports answered in ${upIn} ms`);

    const ready = await fetch(`http://127.0.0.1:${ingestPort}/readyz`);
    assert.equal(ready.status, 200, 'the ingest service reaches its database');
    const page = await fetch(`http://127.0.0.1:${webPort}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /Sluice/);
    assert.ok(processesWithMarker(marker).length >= 3, 'launcher, ingest and web are running');
  } finally {
    // SIGTERM to the launcher alone, as a process manager would send it.
    if (launcher.child.pid) process.kill(launcher.child.pid, 'SIGTERM');
    const deadline = Date.now() + 30_000;
    while (!launcher.exited && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(launcher.exited, true, 'the launcher exits on SIGTERM');
  // npm exits at once and forwards the signal; the launcher then stops its children.
  let leftovers = processesWithMarker(marker);
  for (const until = Date.now() + 30_000; leftovers.length > 0 && Date.now() < until; ) {
    await new Promise((r) => setTimeout(r, 200));
    leftovers = processesWithMarker(marker);
  }
  await launcher.stop();
  assert.deepEqual(leftovers, [], 'no process of npm start is left running');
  for (const port of [ingestPort, webPort, pgPort]) assert.equal(await portInUse(port), false, `port ${port} is free`);
  return dataDir;
}

describe('npm start', () => {
  it('runs both apps on the embedded database when DATABASE_URL is unset, and stops cleanly', async () => {
    const dataDir = await startAndStop({});
    assert.ok(fs.existsSync(path.join(dataDir, 'pg')), 'the embedded database lives in the data folder');
    assert.equal(fs.existsSync(path.join(dataDir, 'pg.lock')), false, 'the lock is released');
  });

  it('runs both apps against the Postgres in DATABASE_URL', async () => {
    const databaseUrl = process.env.TEST_DATABASE_URL;
    assert.ok(databaseUrl, 'TEST_DATABASE_URL is set by npm test');
    await startAndStop({ DATABASE_URL: databaseUrl });
  });
});
