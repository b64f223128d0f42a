/**
 * The producer examples and the notebook, run as a user would run them against a running Sluice: each
 * one's rows must be in the stream's files afterwards, once, however often the producer is run. Against a
 * service that fails twice, each producer retries with the same Idempotency-Key and the same body.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createGunzip } from 'node:zlib';
import { freePort, spawnService, waitForHttp, type Service } from '@sluice/testkit';
import { Int64, RecordBatchStreamWriter, Table, Utf8, vectorFromArray } from 'apache-arrow';

const root = path.resolve(import.meta.dirname, '..');
const ADMIN = 'examples-test-admin-token-012345';
let ingest: Service;
let url: string;
let flightPort: number;
let lake: string;
const admin = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };

before(async () => {
  const port = await freePort();
  flightPort = await freePort();
  lake = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-examples-lake-'));
  ingest = spawnService('ingest', process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: path.join(root, 'apps/ingest'),
    env: {
      ...process.env,
      DATABASE_URL: process.env.TEST_DATABASE_URL,
      INGEST_PORT: String(port),
      FLIGHT_PORT: String(flightPort),
      SLUICE_ADMIN_TOKEN: ADMIN,
      LAKE_DIR: lake,
      LOG_LEVEL: 'warn',
    },
    stdio: 'ignore',
  });
  url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/healthz`, { timeoutMs: 30_000, exited: () => ingest.exited });
});
after(() => ingest.stop());

async function streamWithKey(format: 'csv' | 'ndjson' | 'arrows') {
  const name = `example_${format}_${Math.random().toString(36).slice(2, 8)}`;
  const created = await fetch(`${url}/v1/admin/streams`, {
    method: 'POST',
    headers: admin,
    body: JSON.stringify({
      name,
      schema: {
        columns: [
          { name: 'id', type: 'int64', nullable: false },
          { name: 'city', type: 'string' },
        ],
      },
    }),
  });
  assert.equal(created.status, 201);
  const { key } = (await (
    await fetch(`${url}/v1/admin/keys`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'example', streams: [name] }) })
  ).json()) as { key: string };
  return { name, key, file: rowsFile(format) };
}

/** 3,000 rows in a new file, with quotes and commas in the strings (`arrows`: an Arrow IPC stream of 3 batches). */
function rowsFile(format: 'csv' | 'ndjson' | 'arrows'): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-example-')), `rows.${format}`);
  const rows = Array.from({ length: 3000 }, (_, i) => ({ id: i + 1, city: i % 2 ? 'Zürich, CH' : 'Lyon "FR"' }));
  if (format === 'arrows') {
    const batches = [0, 1000, 2000].map(
      (from) =>
        new Table({
          id: vectorFromArray(
            rows.slice(from, from + 1000).map((row) => BigInt(row.id)),
            new Int64(),
          ),
          city: vectorFromArray(
            rows.slice(from, from + 1000).map((row) => row.city),
            new Utf8(),
          ),
        }).batches[0]!,
    );
    fs.writeFileSync(file, RecordBatchStreamWriter.writeAll(batches).toUint8Array(true));
    return file;
  }
  fs.writeFileSync(
    file,
    format === 'csv'
      ? `id,city\n${rows.map((r) => `${r.id},"${r.city.replaceAll('"', '""')}"`).join('\n')}\n`
      : `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`,
  );
  return file;
}

async function storedRows(stream: string): Promise<number> {
  const { files } = (await (await fetch(`${url}/v1/streams/${stream}/files?limit=500`, { headers: admin })).json()) as {
    files: { rows: number }[];
  };
  return files.reduce((total, f) => total + f.rows, 0);
}

function run(command: string, args: string[], env: Record<string, string>) {
  const result = spawnSync(command, args, { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
  assert.equal(result.status, 0, `${command} ${args.join(' ')}\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

const producers = [
  ['curl, gzip and chunked', 'bash', 'examples/curl/send.sh', 'csv'],
  ['Python requests with a generator body', '/usr/bin/python3', 'examples/python/send.py', 'ndjson'],
  ['Node fetch with a stream body', process.execPath, 'examples/node/send.mjs', 'csv'],
  ['Node, Arrow IPC over HTTP (apache-arrow)', process.execPath, 'examples/node/arrow-http.mjs', 'arrows'],
] as const;

/** The JSON answer a producer printed last. */
function answerOf(output: string) {
  return JSON.parse(output.trim().split('\n').pop()!);
}

describe('producer examples', () => {
  for (const [label, command, script, format] of producers) {
    it(label, async () => {
      const { name, key, file } = await streamWithKey(format);
      const env = { SLUICE_URL: url, SLUICE_KEY: key };
      const answer = answerOf(run(command, [script, name, file], env));
      assert.equal(answer.rowsAccepted, 3000);
      assert.equal(answer.rowsRejected, 0);
      assert.equal(await storedRows(name), 3000);
      // The Idempotency-Key comes from the file: sending it again replays the first answer, storing nothing.
      assert.deepEqual(answerOf(run(command, [script, name, file], env)), answer);
      assert.equal(await storedRows(name), 3000);
    });
  }
});

/** A stand-in for the service: 409 with Retry-After, then a connection cut after the body, then 200. */
async function failingTwice() {
  const seen: { key: string | undefined; body: string }[] = [];
  const server = http.createServer(async (request, response) => {
    const hash = createHash('sha256');
    for await (const piece of request.headers['content-encoding'] === 'gzip' ? request.pipe(createGunzip()) : request) hash.update(piece);
    seen.push({ key: request.headers['idempotency-key'] as string | undefined, body: hash.digest('hex') });
    if (seen.length === 1) {
      response.writeHead(409, { 'content-type': 'application/json', 'retry-after': '1' });
      response.end(JSON.stringify({ error: { code: 'ingest.idempotency_in_flight', message: 'in flight', requestId: 'r1' } }));
    } else if (seen.length === 2) {
      request.socket.destroy();
    } else {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ rowsAccepted: 3000, requestId: 'r3' }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => {
      server.close();
      server.closeAllConnections();
    },
  };
}

describe('Arrow Flight producer example', () => {
  it('puts the batches with @grpc/grpc-js; a second run is answered again and stores nothing twice', async () => {
    const { name, key, file } = await streamWithKey('arrows');
    const env = { SLUICE_FLIGHT: `127.0.0.1:${flightPort}`, SLUICE_KEY: key };
    const answer = answerOf(run(process.execPath, ['examples/node/flight-put.mjs', name, file], env));
    assert.equal(answer.rowsAccepted, 3000);
    assert.equal(answer.rowsRejected, 0);
    assert.equal(await storedRows(name), 3000);
    assert.deepEqual(answerOf(run(process.execPath, ['examples/node/flight-put.mjs', name, file], env)), answer);
    assert.equal(await storedRows(name), 3000);
  });
});

describe('producer examples retry with the same key and body', { concurrency: true }, () => {
  for (const [label, command, script, format] of producers) {
    it(label, async () => {
      const file = rowsFile(format);
      const service = await failingTwice();
      try {
        // Not spawnSync: the stand-in answers from this process's event loop.
        const { stdout } = await promisify(execFile)(command, [script, 'events', file], {
          cwd: root,
          env: { ...process.env, SLUICE_URL: service.url, SLUICE_KEY: 'slk_test' },
          timeout: 60_000,
        });
        assert.deepEqual(answerOf(stdout), { rowsAccepted: 3000, requestId: 'r3' });
        const content = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
        assert.equal(service.seen.length, 3);
        const key = service.seen[0]?.key ?? '';
        assert.match(key, /^[\x20-\x7e]{1,200}$/);
        for (const attempt of service.seen) assert.deepEqual(attempt, { key, body: content });
      } finally {
        service.close();
      }
    });
  }
});

describe('notebook', () => {
  it('runs top to bottom with jupyter nbconvert --execute', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-notebook-'));
    run('/usr/bin/python3', ['-m', 'nbconvert', '--to', 'notebook', '--execute', '--output-dir', out, 'examples/notebook.ipynb'], {
      SLUICE_URL: url,
      SLUICE_ADMIN_TOKEN: ADMIN,
      LAKE_DIR: lake,
      JUPYTER_PLATFORM_DIRS: '1',
    });
    const executed = JSON.parse(fs.readFileSync(path.join(out, 'notebook.ipynb'), 'utf8')) as {
      cells: { outputs?: { text?: string[]; name?: string }[] }[];
    };
    const text = executed.cells
      .flatMap((c) => c.outputs ?? [])
      .flatMap((o) => o.text ?? [])
      .join('');
    assert.match(text, /rows accepted: 5000 rejected: 0/);
    assert.match(text, /\d+ rows read back through/);
    assert.match(text, /plotted \d+ points/);
  });
});
