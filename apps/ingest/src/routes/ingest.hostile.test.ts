/**
 * Hostile and broken clients against a real service: a body trickled byte by byte, idle connections by
 * the hundred, more concurrent requests than allowed, a gzip bomb, a refused body on a keep-alive
 * socket, and /metrics behind its token and on its own port. After each, the service still serves.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import type { Column, IngestResultDto, StreamDto } from '@sluice/shared';
import { freePort, spawnService, waitForHttp } from '@sluice/testkit';
import { NODE_FLAGS, serviceEnv } from '../../runtime.mjs';
import { ADMIN_TOKEN, startTestService, testDatabaseUrl, type TestService } from '../test/harness';
import { readStream } from '../test/read-back';

const columns: Column[] = [
  { name: 'id', type: 'int32', nullable: false },
  { name: 'name', type: 'string', nullable: true },
];
const IDLE_MS = 1500;
const METRICS_TOKEN = 'metrics-token-0123456789';

let service: TestService;
let stream: StreamDto;
let keys: string[];

before(async () => {
  service = await startTestService({
    env: {
      INGEST_IDLE_TIMEOUT_MS: String(IDLE_MS),
      INGEST_MAX_REQUESTS: '3',
      INGEST_MAX_REQUESTS_PER_KEY: '2',
      MAX_BODY_BYTES: '4096',
      METRICS_TOKEN,
    },
  });
  stream = await service.createStream({ schema: { columns }, batch: { maxAgeMs: 200 } });
  keys = await Promise.all([1, 2, 3].map(async () => (await service.createKey([stream.name])).key));
});
after(() => service.close());

/** A chunked request whose body the test writes by hand; `answer` settles with status, headers and body. */
function openRequest(key: string, agent?: http.Agent) {
  const { port } = new URL(service.url);
  const request = http.request({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: `/v1/streams/${stream.name}/rows`,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'text/csv', 'transfer-encoding': 'chunked' },
    agent,
  });
  const answer = new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string; at: number }>((resolve, reject) => {
    request.on('response', (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (piece) => (body += piece));
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body, at: Date.now() }));
    });
    // Writing on after a refusal may end in a broken pipe once the answer is in: that is not a failure.
    request.on('error', reject);
  });
  answer.catch(() => {});
  return { request, answer };
}

async function stillServes(id: number) {
  const response = await service.post(stream.name, keys[2]!, `id,name\n${id},ok\n`);
  assert.equal(response.status, 200, await response.clone().text());
  assert.equal(((await response.json()) as IngestResultDto).rowsAccepted, 1);
}

describe('408: a body that goes quiet', () => {
  it('a body trickled one byte every 5 s is answered 408 within the idle timeout, its rows withdrawn, others served', async () => {
    const { request, answer } = openRequest(keys[0]!);
    request.write('id,name\n9001,trickled\n9002,');
    const started = Date.now();
    const trickle = setInterval(() => request.write('x'), 5000);
    try {
      const result = await answer;
      assert.equal(result.status, 408, result.body);
      assert.equal(JSON.parse(result.body).error.code, 'ingest.body_timeout');
      assert.equal(result.headers.connection, 'close');
      assert.ok(result.at - started < IDLE_MS + 2000, `answered after ${result.at - started} ms`);
    } finally {
      clearInterval(trickle);
      request.destroy();
    }
    await stillServes(1);
    const stored = await readStream(service.app.store, stream.name);
    assert.ok(!stored.some((row) => row.id === 9001), 'the rows of the cut-off body are not stored');
  });

  it('200 idle connections do not stop the service, and the service closes each after the idle timeout', async () => {
    const { port } = new URL(service.url);
    // Watched from the server's side: which of the test's connections it accepted, and when it closed them.
    const ours = new Set<number>();
    const closedAfter: number[] = [];
    const started = Date.now();
    const onConnection = (socket: net.Socket) => {
      const remotePort = socket.remotePort!;
      socket.once('close', () => {
        if (ours.has(remotePort)) closedAfter.push(Date.now() - started);
      });
    };
    service.app.server.on('connection', onConnection);
    const sockets = await Promise.all(
      Array.from(
        { length: 200 },
        () =>
          new Promise<net.Socket>((resolve, reject) => {
            const socket = net.connect(Number(port), '127.0.0.1', () => {
              ours.add(socket.localPort!);
              resolve(socket);
            });
            socket.on('error', reject);
          }),
      ),
    );
    try {
      await stillServes(2);
      for (let waited = 0; closedAfter.length < sockets.length && waited < 30_000; waited += 250) await sleep(250);
      assert.equal(closedAfter.length, sockets.length, `the service closed ${closedAfter.length} of ${sockets.length} idle connections`);
      // A loaded machine fires timers late: the bound only tells the idle timeout from its absence.
      assert.ok(Math.max(...closedAfter) < IDLE_MS * 10, `the last closed after ${Math.max(...closedAfter)} ms`);
    } finally {
      service.app.server.off('connection', onConnection);
      for (const socket of sockets) socket.destroy();
    }
    await stillServes(3);
  });
});

describe('INGEST_MAX_CONNECTIONS', () => {
  it('takes connections up to the limit, closes the next at once, and takes one again when one goes', async () => {
    const capped = await startTestService({ env: { INGEST_MAX_CONNECTIONS: '3' } });
    const { port } = new URL(capped.url);
    const connect = () =>
      new Promise<{ socket: net.Socket; closed: Promise<void> }>((resolve, reject) => {
        const socket = net.connect(Number(port), '127.0.0.1', () => resolve({ socket, closed }));
        const closed = new Promise<void>((done) => socket.once('close', () => done()));
        socket.on('error', reject);
      });
    /** A request on a connection of its own (no keep-alive pool holding one open). */
    const health = () =>
      new Promise<number>((resolve, reject) => {
        http.get(`${capped.url}/healthz`, { agent: false }, (response) => resolve(response.statusCode ?? 0)).on('error', reject);
      });
    const held = [];
    try {
      for (let i = 0; i < 3; i++) held.push(await connect());
      const connections = () => new Promise<number>((resolve) => capped.app.server.getConnections((_, count) => resolve(count)));
      for (let waited = 0; (await connections()) < 3; waited += 50) {
        assert.ok(waited < 5000, 'the three are accepted');
        await sleep(50);
      }
      const fourth = await connect();
      const closedAtOnce = await Promise.race([fourth.closed.then(() => true), sleep(2000).then(() => false)]);
      assert.ok(closedAtOnce, 'past the limit, a new connection is closed at once');
      held.pop()!.socket.destroy();
      for (let waited = 0; (await connections()) >= 3; waited += 50) {
        assert.ok(waited < 5000, 'the server lets the closed one go');
        await sleep(50);
      }
      assert.equal(await health(), 200, 'under the limit again, a new connection is served');
    } finally {
      for (const { socket } of held) socket.destroy();
      await capped.close();
    }
  });
});

describe('429: more requests in flight than allowed', () => {
  it('takes INGEST_MAX_REQUESTS_PER_KEY requests of one key and INGEST_MAX_REQUESTS in all, and refuses the next', async () => {
    const held = [openRequest(keys[0]!), openRequest(keys[0]!), openRequest(keys[1]!)];
    // The held bodies stay open (a row now and then, within the idle timeout) while the others are tried.
    const keepAlive = setInterval(() => {
      for (const [i, { request }] of held.entries()) request.write(`${100 + i},held\n`);
    }, 300);
    try {
      for (const [i, { request }] of held.entries()) request.write(`id,name\n${200 + i},first\n`);
      await sleep(300);
      const sameKey = await service.post(stream.name, keys[0]!, 'id,name\n1,x\n');
      assert.equal(sameKey.status, 429, 'a third request of one key');
      assert.equal(((await sameKey.json()) as { error: { code: string } }).error.code, 'ingest.too_many_requests');
      assert.equal(sameKey.headers.get('retry-after'), '1');
      const fourth = await service.post(stream.name, keys[2]!, 'id,name\n1,x\n');
      assert.equal(fourth.status, 429, 'a fourth request in all');
    } finally {
      clearInterval(keepAlive);
    }
    for (const { request } of held) request.end();
    for (const { answer } of held) assert.equal((await answer).status, 200);
    await stillServes(4);
  });
});

describe('401: a key revoked while its request is in flight', () => {
  it('the request is cut off at its next check, its rows not yet stored withdrawn', async () => {
    const created = await service.createKey([stream.name]);
    const { request, answer } = openRequest(created.key);
    request.write('id,name\n7001,before\n');
    const feed = setInterval(() => request.write('7002,during\n'), 200);
    try {
      await sleep(300);
      assert.equal((await service.admin('DELETE', `/v1/admin/keys/${created.id}`)).status, 200);
      const revokedAt = Date.now();
      const result = await answer;
      assert.equal(result.status, 401, result.body);
      assert.equal(JSON.parse(result.body).error.code, 'auth.revoked_key');
      // The key cache (KEY_CACHE_TTL_MS, 2 s by default), the check every second, and the 2 s the answer
      // waits for the rest of a body still arriving bound the delay.
      assert.ok(result.at - revokedAt < 7000, `refused ${result.at - revokedAt} ms after the revocation`);
    } finally {
      clearInterval(feed);
      request.destroy();
    }
    const stored = await readStream(service.app.store, stream.name);
    assert.ok(!stored.some((row) => row.id === 7001 || row.id === 7002), 'nothing of the cut-off request is stored');
    await stillServes(5);
  });
});

describe('499: a client that goes away mid-body', () => {
  it('is counted as 499, not as a failure of the service (500), and the service serves on', async () => {
    const { request } = openRequest(keys[1]!);
    request.write('id,name\n8001,gone\n');
    await sleep(200);
    request.destroy();
    const counted = /^sluice_request_duration_seconds_count\{route="\/v1\/streams\/:stream\/rows",status="499"\} 1$/m;
    for (let waited = 0; !counted.test(await service.app.metrics.registry.metrics()); waited += 100) {
      assert.ok(waited < 10_000, 'the aborted request is counted as 499');
      await sleep(100);
    }
    assert.doesNotMatch(await service.app.metrics.registry.metrics(), /status="500"/);
    await stillServes(6);
  });
});

describe('413: refusals part-way', () => {
  it('a chunked body refused part-way is answered Connection: close, and the keep-alive agent sends the next request on a new socket', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const { request, answer } = openRequest(keys[0]!, agent);
      request.write('id,name\n');
      for (
        let i = 0;
        i < 10 &&
        !(await Promise.race([
          answer.then(
            () => true,
            () => true,
          ),
          sleep(50).then(() => false),
        ]));
        i++
      ) {
        request.write(`${Array.from({ length: 100 }, (_, r) => `${r},${'y'.repeat(20)}`).join('\n')}\n`);
      }
      const refused = await answer;
      assert.equal(refused.status, 413, refused.body);
      assert.equal(refused.headers.connection, 'close');
      request.destroy();
      // The same agent, the next request: it must not be sent on the socket the server is dropping.
      const { request: next, answer: nextAnswer } = openRequest(keys[0]!, agent);
      next.end('id,name\n5,after\n');
      const result = await nextAnswer;
      assert.equal(result.status, 200, result.body);
    } finally {
      agent.destroy();
    }
  });

  it('a 10 MB gzip bomb is refused with ingest.inflation_too_large, the service process staying under 300 MB', async () => {
    // Blank lines inflate 1,000-fold and cost the parser nothing: only the inflation limit can stop them.
    const member = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x0a), { level: 9 });
    const body = Buffer.concat([
      gzipSync('id,name\n'),
      ...Array.from({ length: Math.ceil((10 * 1024 * 1024) / member.length) }, () => member),
    ]);
    // A process of its own (the built service when there is one, started as it runs in production), so
    // that its peak memory is its own.
    const port = await freePort();
    const dist = path.resolve(import.meta.dirname, '../../dist/server.mjs');
    const server = spawnService(
      'ingest',
      process.execPath,
      fs.existsSync(dist) ? [...NODE_FLAGS, dist] : ['--import', 'tsx', 'src/server.ts'],
      {
        cwd: path.resolve(import.meta.dirname, '../..'),
        env: serviceEnv({
          ...process.env,
          DATABASE_URL: testDatabaseUrl(),
          INGEST_PORT: String(port),
          FLIGHT: 'off',
          LAKE_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bomb-')),
          SLUICE_ADMIN_TOKEN: ADMIN_TOKEN,
          MAX_BODY_BYTES: String(64 * 1024 * 1024 * 1024),
          LOG_LEVEL: 'warn',
        }),
        stdio: 'ignore',
      },
    );
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitForHttp(`${url}/healthz`, { timeoutMs: 30_000, exited: () => server.exited });
      const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
      const name = `bomb_${Date.now().toString(36)}`;
      await fetch(`${url}/v1/admin/streams`, { method: 'POST', headers: admin, body: JSON.stringify({ name, schema: { columns } }) });
      const { key } = (await (
        await fetch(`${url}/v1/admin/keys`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'k', streams: [name] }) })
      ).json()) as { key: string };
      const post = (payload: Buffer) =>
        fetch(`${url}/v1/streams/${name}/rows`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'text/csv', 'content-encoding': 'gzip' },
          body: payload,
        });
      const response = await post(body);
      const answer = (await response.json()) as { error: { code: string } };
      assert.equal(response.status, 413, JSON.stringify(answer));
      assert.equal(answer.error.code, 'ingest.inflation_too_large');
      const peak = Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${server.child.pid}/status`, 'utf8'))![1]) * 1024;
      assert.ok(peak < 300 * 1024 * 1024, `the service peaked at ${Math.round(peak / 1024 / 1024)} MB`);
      assert.equal((await post(gzipSync('id,name\n1,fine\n'))).status, 200);
    } finally {
      await server.stop();
    }
  });
});

describe('/metrics', () => {
  it('with METRICS_TOKEN: 401 without the token, the metrics with it', async () => {
    const without = await fetch(`${service.url}/metrics`);
    assert.equal(without.status, 401);
    assert.doesNotMatch(await without.text(), /sluice_rows_total/);
    const wrong = await fetch(`${service.url}/metrics`, { headers: { authorization: 'Bearer not-the-token-at-all' } });
    assert.equal(wrong.status, 401);
    const right = await fetch(`${service.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    assert.equal(right.status, 200);
    assert.match(await right.text(), new RegExp(`sluice_rows_total\\{stream="${stream.name}",outcome="accepted"\\}`));
  });

  it('with METRICS_PORT: served there only, not on the ingest port', async () => {
    const separate = await startTestService({ env: { METRICS_PORT: '0' } });
    try {
      assert.equal((await fetch(`${separate.url}/metrics`)).status, 404);
      const port = separate.app.metricsPort();
      assert.ok(port, 'the metrics server listens');
      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      assert.equal(response.status, 200);
      assert.match(await response.text(), /sluice_queue_bytes/);
      assert.equal((await fetch(`http://127.0.0.1:${port}/v1/admin/streams`)).status, 404);
    } finally {
      await separate.close();
    }
  });

  it('/docs is public and holds no secret', async () => {
    const response = await fetch(`${service.url}/docs/json`);
    assert.equal(response.status, 200);
    const text = await response.text();
    assert.ok(!text.includes(ADMIN_TOKEN) && !text.includes(METRICS_TOKEN));
  });
});
